// Lexing (dsl/REFERENCE.md §1): source text → tokens for the parser, plus diagnostics for bad
// characters, unterminated strings and unterminated comments. Never throws on any input.
import { Lexer, type IToken } from 'chevrotain';
import { diag, type Diagnostic, type Span } from '../diagnostics/index.js';
import { allTokens, UnterminatedComment, UnterminatedString } from './tokens.js';

const lexer = new Lexer(allTokens, {
  positionTracking: 'full',
  // Every token must be indexable by its first character: lexing stays linear and fast.
  ensureOptimizations: true,
});

export interface LexResult {
  tokens: IToken[];
  diagnostics: Diagnostic[];
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

/** Lexes `source`; at most `maxDiagnostics` diagnostics are reported (a binary file yields thousands). */
export function lex(source: string, file: string, maxDiagnostics = 20): LexResult {
  const result = lexer.tokenize(source);
  const tokens: IToken[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const token of result.tokens) {
    const type = token.tokenType;
    if (type === UnterminatedString) {
      diagnostics.push(diag.unterminated_string(tokenSpan(token, file)));
    } else if (type === UnterminatedComment) {
      const span = tokenSpan(token, file);
      diagnostics.push(diag.unterminated_comment({ ...span, end: span.offset + 2 }));
    } else {
      tokens.push(token);
    }
  }
  // chevrotain reports each run of characters it cannot lex as one error: point at the first one.
  for (const e of result.errors) {
    const char = String.fromCodePoint(source.codePointAt(e.offset) ?? 0xfffd);
    const span: Span = { file, line: e.line ?? 0, col: e.column ?? 0, offset: e.offset, end: e.offset + char.length };
    diagnostics.push(diag.unexpected_character(span, char));
  }
  diagnostics.sort((a, b) => a.span.offset - b.span.offset);
  return { tokens, diagnostics: diagnostics.slice(0, maxDiagnostics) };
}
