// The parser's public entry: source text → AST + diagnostics. Never throws on bad input: every
// problem becomes a diagnostic, and several are reported per run where error recovery allows.
import type { IRecognitionException, IToken } from 'chevrotain';
import { diag, type Diagnostic, type Span } from '../diagnostics/index.js';
import type { SourceFile } from './ast.js';
import { checkNesting, MAX_NESTING } from './check-nesting.js';
import { buildAst } from './cst-to-ast.js';
import type { FileCstNode } from './cst-types.js';
import { errorMessages } from './error-messages.js';
import { lex } from './lexer.js';
import { ptmParser, TooManyErrors } from './parser.js';

export interface ParseResult {
  /** The tree. Complete when `diagnostics` is empty; otherwise a best effort that omits broken items. */
  ast: SourceFile;
  /** In source order; empty when the file parsed cleanly. */
  diagnostics: Diagnostic[];
}

/** At most this many syntax errors are reported per file: later ones are mostly echoes of earlier ones. */
const MAX_SYNTAX_ERRORS = 20;
/** A syntax error this few tokens after a reported one is taken to be a consequence of it. */
const ECHO_DISTANCE = 3;

/**
 * Parses a .ptm source (dsl/REFERENCE.md). `file` names the source in spans and messages.
 * Lexical errors, syntax errors and invalid literals all come back as diagnostics, in source order.
 */
export function parse(source: string, file = '<input>'): ParseResult {
  const fileSpan: Span = { file, line: 1, col: 1, offset: 0, end: source.length };
  const emptyAst: SourceFile = { file, models: [], plans: [], span: fileSpan };
  // chevrotain signals each syntax error with an Error; their stack traces are never read here and
  // would make a long run of garbage slow to get through.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return parseTokens(source, file, emptyAst);
  } catch (e) {
    if (e instanceof RangeError) {
      // checkNesting should make this unreachable; a stack overflow is still not a crash.
      return { ast: emptyAst, diagnostics: [diag.nesting_too_deep({ ...fileSpan, end: 0 }, MAX_NESTING)] };
    }
    const message = e instanceof Error ? e.message : String(e);
    return { ast: emptyAst, diagnostics: [diag.internal_error({ ...fileSpan, end: 0 }, `parser: ${message}`)] };
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
    ptmParser.input = [];
    errorMessages.begin([]);
  }
}

function parseTokens(source: string, file: string, emptyAst: SourceFile): ParseResult {
  // Tokens stop at the first lexical error: past it the parser would only report echoes of it.
  const { tokens, diagnostics: lexical, tooDeep: bracketsTooDeep } = lex(source, file, MAX_NESTING);
  if (tokens.length === 0 && lexical.length === 0 && !bracketsTooDeep) {
    return { ast: emptyAst, diagnostics: [diag.empty_source({ file, line: 1, col: 1, offset: 0, end: 0 })] };
  }
  const tooDeep = checkNesting(tokens, file) ?? bracketsTooDeep;
  if (tooDeep) return { ast: emptyAst, diagnostics: sortByPosition([...lexical, tooDeep]) };

  errorMessages.begin(tokens);
  ptmParser.input = tokens;
  ptmParser.savedErrors = 0;
  let cst: FileCstNode | undefined;
  try {
    cst = ptmParser.file() as FileCstNode;
  } catch (e) {
    if (!(e instanceof TooManyErrors)) throw e;
  }
  const firstLexical = lexical[0]?.span.offset ?? Infinity;
  const syntax = syntaxDiagnostics(ptmParser.errors, tokens, file, firstLexical);
  // With too many errors there is no tree, and no use for one.
  const built = cst ? buildAst(cst, file, source) : { ast: emptyAst, diagnostics: [], dropped: 0 };
  const diagnostics = sortByPosition([...lexical, ...syntax, ...built.diagnostics]);
  if (built.dropped > 0 && diagnostics.length === 0) {
    diagnostics.push(diag.internal_error(emptyAst.span, 'the parser dropped an incomplete item without reporting why'));
  }
  return { ast: built.ast, diagnostics };
}

/** chevrotain's exceptions → `syntax_error`s, one per token, without the echoes of recovery. */
function syntaxDiagnostics(errors: IRecognitionException[], tokens: IToken[], file: string, stopOffset: number): Diagnostic[] {
  const out: Diagnostic[] = [];
  let lastIndex = -Infinity;
  const indexed = errors.map((error) => ({ error, index: errorMessages.indexOf(error.token) }));
  indexed.sort((a, b) => a.index - b.index);
  for (const { error, index } of indexed) {
    // The end of the file lies after any lexical error.
    const offset = Number.isNaN(error.token.startOffset) ? Number.MAX_SAFE_INTEGER : error.token.startOffset;
    if (offset >= stopOffset) break;
    if (index <= lastIndex + ECHO_DISTANCE && out.length > 0) continue;
    lastIndex = index;
    out.push(diag.syntax_error(errorSpan(error.token, tokens, file), error.message));
    if (out.length === MAX_SYNTAX_ERRORS) break;
  }
  return out;
}

/** The found token's span; at the end of the file, the point just after the last token. */
function errorSpan(token: IToken, tokens: IToken[], file: string): Span {
  if (!Number.isNaN(token.startOffset)) {
    return { file, line: token.startLine!, col: token.startColumn!, offset: token.startOffset, end: token.endOffset! + 1 };
  }
  const last = tokens[tokens.length - 1];
  if (!last) return { file, line: 1, col: 1, offset: 0, end: 0 };
  const end = last.endOffset! + 1;
  return { file, line: last.endLine!, col: last.endColumn! + 1, offset: end, end };
}

function sortByPosition(diagnostics: Diagnostic[]): Diagnostic[] {
  return diagnostics
    .map((d, i) => ({ d, i }))
    .sort((a, b) => a.d.span.offset - b.d.span.offset || a.i - b.i)
    .map(({ d }) => d);
}
