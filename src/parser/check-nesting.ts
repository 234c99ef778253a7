// Rejects deeply nested input before parsing (dsl/REFERENCE.md §1): the parser and the AST builder
// recurse once per level, so a 100k-deep `((((` must be refused here, from the flat token stream.
import type { IToken, TokenType } from 'chevrotain';
import { diag, type Diagnostic } from '../diagnostics/index.js';
import { tokenSpan } from './lexer.js';
import * as T from './tokens.js';

/** Levels of parentheses, brackets, prefix operators, `**` and mask lambdas allowed in one expression. */
export const MAX_NESTING = 64;

const OPERAND_END = new Set<TokenType>([
  T.Identifier, T.NumberLiteral, T.StringLiteral, T.True, T.False, T.RParen, T.RBracket, T.TransposeOp,
]);
/** Tokens that end every chain of prefix operators, `**` and lambdas at the current bracket level. */
const ENDS_EXPRESSION = new Set<TokenType>([
  T.Comma, T.Colon, T.Equals, T.Semicolon, T.Return, T.Config, T.Input, T.Output, T.Block, T.Memory, T.Model, T.Plan,
]);
/** Binary operators that end a chain of prefix operators and `**` (but not a lambda body). */
const ENDS_PREFIX_CHAIN = new Set<TokenType>([
  T.Pipe, T.Ampersand, T.EqualEqual, T.NotEqual, T.Less, T.LessEqual, T.Greater, T.GreaterEqual,
  T.Plus, T.Star, T.Slash, T.Percent, T.At,
]);

interface Level {
  /** 1 for `(` and `[`; 0 for `{`, which holds statements, not expressions. */
  weight: number;
  /** Prefix operators and `**` that the parser has entered and not yet left at this level. */
  chain: number;
  /** Mask lambdas whose bodies are still open at this level. */
  lambdas: number;
}

/**
 * An estimate, from above, of how deep the parser will recurse, measured in expression levels.
 * Returns a diagnostic at the first token that goes deeper than MAX_NESTING, or undefined.
 */
export function checkNesting(tokens: readonly IToken[], file: string): Diagnostic | undefined {
  const levels: Level[] = [{ weight: 0, chain: 0, lambdas: 0 }];
  let depth = 0;
  let braces = 0;
  let previous: TokenType | undefined;
  for (const token of tokens) {
    const type = token.tokenType;
    const level = levels[levels.length - 1]!;
    if (type === T.LParen || type === T.LBracket || type === T.LBrace) {
      const weight = type === T.LBrace ? 0 : 1;
      if (type === T.LBrace) braces++;
      levels.push({ weight, chain: 0, lambdas: 0 });
      depth += weight;
    } else if (type === T.RParen || type === T.RBracket || type === T.RBrace) {
      if (levels.length > 1) {
        const closed = levels.pop()!;
        depth -= closed.weight + closed.chain + closed.lambdas;
        if (closed.weight === 0) braces--;
      }
    } else if (((type === T.Minus || type === T.Bang) && !OPERAND_END.has(previous!)) || type === T.StarStar) {
      level.chain++;
      depth++;
    } else if (type === T.Arrow) {
      level.lambdas++;
      depth++;
    } else if (ENDS_EXPRESSION.has(type)) {
      depth -= level.chain + level.lambdas;
      level.chain = 0;
      level.lambdas = 0;
    } else if (ENDS_PREFIX_CHAIN.has(type) || type === T.Minus) {
      depth -= level.chain;
      level.chain = 0;
    }
    if (depth > MAX_NESTING || braces > MAX_NESTING) return diag.nesting_too_deep(tokenSpan(token, file), MAX_NESTING);
    previous = type;
  }
  return undefined;
}
