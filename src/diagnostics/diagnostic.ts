// The Diagnostic type, the error that carries diagnostics, and their rendering (text with caret, JSON).
import type { Span } from './span.js';
import { formatLoc } from './span.js';

export type Severity = 'error' | 'warning' | 'note';

export interface DiagnosticNote {
  message: string;
  span?: Span;
}

export interface Diagnostic {
  /** Stable snake_case code from the catalogue (src/diagnostics/catalogue.ts). */
  code: string;
  severity: Severity;
  message: string;
  span: Span;
  notes: DiagnosticNote[];
}

/**
 * Thrown by any stage that cannot go on; carries one or more diagnostics. The CLI prints them and
 * exits non-zero. Anything else that escapes a stage is an internal error (a bug in ptm).
 */
export class PtmError extends Error {
  readonly diagnostics: Diagnostic[];
  constructor(diagnostics: Diagnostic | Diagnostic[]) {
    const list = Array.isArray(diagnostics) ? diagnostics : [diagnostics];
    super(list.map((d) => `${formatLoc(d.span)}: ${d.severity}[${d.code}]: ${d.message}`).join('\n'));
    this.name = 'PtmError';
    this.diagnostics = list;
  }
}

export function isPtmError(e: unknown): e is PtmError {
  return e instanceof PtmError;
}

/** Source texts by file name, so diagnostics can show the offending line. */
export type SourceMap = ReadonlyMap<string, string>;

/** `file:line:col: error[code]: message`, then the source line and a caret under the span. */
export function renderDiagnostic(d: Diagnostic, sources: SourceMap = new Map()): string {
  const out: string[] = [`${formatLoc(d.span)}: ${d.severity}[${d.code}]: ${d.message}`];
  out.push(...sourceExcerpt(d.span, sources));
  for (const note of d.notes) {
    out.push(note.span ? `  note: ${formatLoc(note.span)}: ${note.message}` : `  note: ${note.message}`);
    if (note.span) out.push(...sourceExcerpt(note.span, sources).map((l) => '  ' + l));
  }
  return out.join('\n');
}

function sourceExcerpt(span: Span, sources: SourceMap): string[] {
  const text = sources.get(span.file);
  if (text === undefined || span.line <= 0) return [];
  const lineText = text.split(/\r?\n/)[span.line - 1];
  if (lineText === undefined) return [];
  const shown = lineText.length > 200 ? lineText.slice(0, 200) + '…' : lineText;
  const gutter = String(span.line);
  const width = Math.max(1, Math.min(span.end - span.offset, shown.length - span.col + 1));
  const pad = ' '.repeat(gutter.length);
  return [`${pad} |`, `${gutter} | ${shown}`, `${pad} | ${' '.repeat(Math.max(0, span.col - 1))}${'^'.repeat(width)}`];
}

export function renderDiagnostics(ds: readonly Diagnostic[], sources: SourceMap = new Map()): string {
  return ds.map((d) => renderDiagnostic(d, sources)).join('\n\n');
}

/** Machine-readable form for `--json`. */
export function diagnosticsToJson(ds: readonly Diagnostic[]): unknown {
  return ds.map((d) => ({
    code: d.code,
    severity: d.severity,
    message: d.message,
    file: d.span.file,
    line: d.span.line,
    col: d.span.col,
    offset: d.span.offset,
    end: d.span.end,
    notes: d.notes.map((n) => ({ message: n.message, ...(n.span ? { file: n.span.file, line: n.span.line, col: n.span.col } : {}) })),
  }));
}
