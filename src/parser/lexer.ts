// Lexing (dsl/REFERENCE.md §1): source text → tokens for the parser, plus diagnostics for bad
// characters, unterminated strings and unterminated comments. Never throws on any input.
import { Lexer, type IToken } from 'chevrotain';
import { diag, type Diagnostic, type Span } from '../diagnostics/index.js';
import { scanSource } from './scan-source.js';
import { allTokens, UnterminatedComment, UnterminatedString } from './tokens.js';

const lexer = new Lexer(allTokens, {
  positionTracking: 'full',
  // Every token must be indexable by its first character: lexing stays linear and fast.
  ensureOptimizations: true,
});

export interface LexResult {
  /** The tokens before the first problem (see `diagnostics` and `tooDeep`): all of them if none. */
  tokens: IToken[];
  /** Lexical errors, in source order. */
  diagnostics: Diagnostic[];
  /** Brackets nested deeper than `maxDepth`, found before any lexical error. */
  tooDeep?: Diagnostic;
}

/** The span of a real (not recovery-inserted) token. */
export function tokenSpan(token: IToken, file: string): Span {
  return {
    file,
    line: token.startLine ?? 0,
    col: token.startColumn ?? 0,
    offset: token.startOffset,
    end: (token.endOffset ?? token.startOffset) + 1,
  };
}

/**
 * Lexes `source`. Only the text before the first lexical error (or the first bracket nested deeper
 * than `maxDepth`) is tokenized: past it, tokens would only feed the parser noise.
 */
export function lex(source: string, file: string, maxDepth: number): LexResult {
  const scan = scanSource(source, file, maxDepth);
  const result = lexer.tokenize(scan.cleanEnd < source.length ? source.slice(0, scan.cleanEnd) : source);
  const tokens: IToken[] = [];
  const diagnostics = [...scan.diagnostics];
  // The scan reports these first; the lexer's own reports are a safety net should the two disagree.
  const known = new Set(diagnostics.map((d) => d.span.offset));
  const add = (d: Diagnostic): void => {
    if (!known.has(d.span.offset)) diagnostics.push(d);
  };
  for (const token of result.tokens) {
    const type = token.tokenType;
    if (type === UnterminatedString) add(diag.unterminated_string(tokenSpan(token, file)));
    else if (type === UnterminatedComment) add(diag.unterminated_comment({ ...tokenSpan(token, file), end: token.startOffset + 2 }));
    else tokens.push(token);
  }
  for (const e of result.errors) {
    const char = String.fromCodePoint(source.codePointAt(e.offset) ?? 0xfffd);
    add(diag.unexpected_character({ file, line: e.line ?? 0, col: e.column ?? 0, offset: e.offset, end: e.offset + char.length }, char));
  }
  diagnostics.sort((a, b) => a.span.offset - b.span.offset);
  const firstError = diagnostics[0]?.span.offset ?? Infinity;
  const clean = firstError === Infinity ? tokens : tokens.filter((t) => t.startOffset < firstError);
  return scan.tooDeep ? { tokens: clean, diagnostics, tooDeep: scan.tooDeep } : { tokens: clean, diagnostics };
}
