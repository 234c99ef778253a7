// Reading a .ptm file from disk: size, binary and encoding checks before the text reaches the lexer.
// Failures are PtmErrors with file-level spans (line 0 when there is no text to point into).
import { readFileSync, statSync } from 'node:fs';
import { diag, PtmError, type Span } from '../diagnostics/index.js';

/** A spec is a short text file; anything larger is almost certainly the wrong file. */
export const MAX_SOURCE_BYTES = 1024 * 1024;

/**
 * Reads `path` as UTF-8 text (a leading BOM is dropped). Throws a PtmError with `file_not_found`,
 * `file_unreadable` (a directory, no permission, not a regular file), `file_too_large` (over 1 MiB)
 * or `binary_input` (a NUL byte or invalid UTF-8).
 */
export function loadSource(path: string): { text: string; file: string } {
  const noText: Span = { file: path, line: 0, col: 0, offset: 0, end: 0 };
  const start: Span = { file: path, line: 1, col: 1, offset: 0, end: 0 };
  let bytes: Buffer;
  try {
    const stat = statSync(path);
    if (stat.isDirectory()) throw new PtmError(diag.file_unreadable(noText, path, 'it is a directory'));
    if (!stat.isFile()) throw new PtmError(diag.file_unreadable(noText, path, 'it is not a regular file'));
    if (stat.size > MAX_SOURCE_BYTES) throw new PtmError(diag.file_too_large(start, stat.size, MAX_SOURCE_BYTES));
    bytes = readFileSync(path);
  } catch (e) {
    if (e instanceof PtmError) throw e;
    throw new PtmError(fileErrorDiagnostic(e, path, noText));
  }
  // The file may have grown between stat and read.
  if (bytes.length > MAX_SOURCE_BYTES) throw new PtmError(diag.file_too_large(start, bytes.length, MAX_SOURCE_BYTES));
  if (bytes.includes(0)) throw new PtmError(diag.binary_input(start));
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new PtmError(diag.binary_input(start));
  }
  return { text, file: path };
}

function fileErrorDiagnostic(e: unknown, path: string, span: Span) {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return diag.file_not_found(span, path);
    case 'EACCES':
    case 'EPERM':
      return diag.file_unreadable(span, path, 'permission denied');
    case 'EISDIR':
      return diag.file_unreadable(span, path, 'it is a directory');
    default:
      return diag.file_unreadable(span, path, e instanceof Error ? e.message : String(e));
  }
}
