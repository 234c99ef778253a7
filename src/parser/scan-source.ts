// A character-level pass before lexing (dsl/REFERENCE.md §1): finds characters that start no
// token, unterminated strings and comments, and brackets nested too deep, in one linear loop.
// The lexer then only tokenizes the clean prefix, so noise (binary data, 1 MB of `(`) costs little.
import { diag, type Diagnostic } from '../diagnostics/index.js';

export interface SourceScan {
  /** Lexical errors, in source order, at most `maxDiagnostics`. */
  diagnostics: Diagnostic[];
  /** Offset of the first problem (lexical error or a bracket too deep); the source length if none. */
  cleanEnd: number;
  /** Set when brackets nest deeper than the limit at `cleanEnd`, before any lexical error. */
  tooDeep?: Diagnostic;
}

const CODE = (s: string): number => s.charCodeAt(0);
/** Characters that can start or continue a token outside strings and comments (§1). */
const ALLOWED = new Uint8Array(128);
for (const ch of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_ \t\f\v{}()[],:;.=!<>&|+-*/%@') {
  ALLOWED[CODE(ch)] = 1;
}
const NEWLINE = 10;
const RETURN = 13;
const SLASH = CODE('/');
const STAR = CODE('*');
const QUOTE = CODE('"');
const BACKSLASH = CODE('\\');
const CARET = CODE('^');

/**
 * Scans `source` for lexical errors. `maxDepth` bounds `(`/`[` nesting and, separately, `{` nesting;
 * the first bracket beyond it ends the clean prefix (the token-level check in check-nesting.ts
 * reports it, together with deep chains of operators).
 */
export function scanSource(source: string, file: string, maxDepth: number, maxDiagnostics = 20): SourceScan {
  const diagnostics: Diagnostic[] = [];
  let cleanEnd = source.length;
  let tooDeep: Diagnostic | undefined;
  const n = source.length;
  let line = 1;
  let lineStart = 0;
  let i = 0;
  let depth = 0;
  let braces = 0;
  let inBadRun = false;
  const spanAt = (offset: number, length: number) => ({ file, line, col: offset - lineStart + 1, offset, end: offset + length });
  const report = (d: Diagnostic): boolean => {
    if (diagnostics.length === 0) cleanEnd = Math.min(cleanEnd, d.span.offset);
    diagnostics.push(d);
    return diagnostics.length < maxDiagnostics;
  };

  while (i < n) {
    const c = source.charCodeAt(i);
    const next = i + 1 < n ? source.charCodeAt(i + 1) : -1;
    let bad = false;
    if (c === NEWLINE || c === RETURN) {
      i += c === RETURN && next === NEWLINE ? 2 : 1;
      line++;
      lineStart = i;
    } else if (c === SLASH && next === SLASH) {
      while (i < n && source.charCodeAt(i) !== NEWLINE && source.charCodeAt(i) !== RETURN) i++;
    } else if (c === SLASH && next === STAR) {
      const close = source.indexOf('*/', i + 2);
      if (close < 0) {
        report(diag.unterminated_comment(spanAt(i, 2)));
        break;
      }
      // Count the comment's line breaks (\r\n, \r and \n each end a line, as in the lexer).
      for (let j = i + 2; j < close; j++) {
        const d = source.charCodeAt(j);
        if (d === NEWLINE || (d === RETURN && source.charCodeAt(j + 1) !== NEWLINE)) {
          line++;
          lineStart = j + 1;
        }
      }
      i = close + 2;
    } else if (c === QUOTE) {
      let j = i + 1;
      let closed = false;
      while (j < n) {
        const d = source.charCodeAt(j);
        if (d === QUOTE) {
          closed = true;
          break;
        }
        if (d === NEWLINE || d === RETURN) break;
        j += d === BACKSLASH && j + 1 < n && source.charCodeAt(j + 1) !== NEWLINE && source.charCodeAt(j + 1) !== RETURN ? 2 : 1;
      }
      if (!closed && !report(diag.unterminated_string(spanAt(i, j - i)))) break;
      i = closed ? j + 1 : j;
    } else if (c === CARET && next === CODE('T')) {
      i += 2;
    } else if (c < 128 ? ALLOWED[c] === 1 : c === 0xa0 || c === 0xfeff) {
      if (c === 0x28 || c === 0x5b) depth++; // ( [
      else if (c === 0x29 || c === 0x5d) depth = Math.max(0, depth - 1);
      else if (c === 0x7b) braces++; // {
      else if (c === 0x7d) braces = Math.max(0, braces - 1);
      if ((depth > maxDepth || braces > maxDepth) && !tooDeep && diagnostics.length === 0) {
        tooDeep = diag.nesting_too_deep(spanAt(i, 1), maxDepth);
        cleanEnd = i + 1;
        break;
      }
      i++;
    } else {
      bad = true;
      const char = String.fromCodePoint(source.codePointAt(i)!);
      // A run of bad characters is one mistake: report its first character only.
      if (!inBadRun && !report(diag.unexpected_character(spanAt(i, char.length), char))) break;
      i += char.length;
    }
    inBadRun = bad;
  }
  return tooDeep ? { diagnostics, cleanEnd, tooDeep } : { diagnostics, cleanEnd };
}
