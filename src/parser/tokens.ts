// The .ptm token vocabulary (dsl/REFERENCE.md §1), as chevrotain token types, in lexing order.
// Unterminated strings and comments are tokens too, so that lexer.ts can report them precisely;
// it turns them (and chevrotain's runs of unlexable characters) into diagnostics.
import { createToken, Lexer, type TokenType } from 'chevrotain';

/** Every token except braces: lets a plan body (§10) be skipped by balancing braces only. */
export const NotBrace = createToken({ name: 'NotBrace', pattern: Lexer.NA });
/** Identifiers and keywords: the names allowed after `.` and before `:` in a named argument. */
export const AnyName = createToken({ name: 'AnyName', pattern: Lexer.NA });
/** Operator classes (§6.2); their precedence is applied in cst-to-ast.ts. */
export const BinaryOp = createToken({ name: 'BinaryOp', pattern: Lexer.NA, label: 'an operator' });
export const PrefixOp = createToken({ name: 'PrefixOp', pattern: Lexer.NA, label: "'-' or '!'" });

export const WhiteSpace = createToken({
  name: 'WhiteSpace',
  pattern: /[ \t\r\n\f\v\u00a0\ufeff]+/,
  group: Lexer.SKIPPED,
  line_breaks: true,
});
export const LineComment = createToken({ name: 'LineComment', pattern: /\/\/[^\r\n]*/, group: Lexer.SKIPPED });
export const BlockComment = createToken({
  name: 'BlockComment',
  pattern: /\/\*[\s\S]*?\*\//,
  group: Lexer.SKIPPED,
  line_breaks: true,
});
/** `/*` with no `*\/` before the end of the file: swallows the rest. */
export const UnterminatedComment = createToken({
  name: 'UnterminatedComment',
  pattern: /\/\*[\s\S]*/,
  line_breaks: true,
});

export const Identifier = createToken({
  name: 'Identifier',
  pattern: /[A-Za-z_][A-Za-z0-9_]*/,
  categories: [NotBrace, AnyName],
});

const keyword = (word: string): TokenType =>
  createToken({
    name: word[0]!.toUpperCase() + word.slice(1),
    pattern: new RegExp(word),
    longer_alt: Identifier,
    categories: [NotBrace, AnyName],
    label: `'${word}'`,
  });

export const Model = keyword('model');
export const Config = keyword('config');
export const Input = keyword('input');
export const Output = keyword('output');
export const Block = keyword('block');
export const Return = keyword('return');
export const Repeat = keyword('repeat');
export const Shared = keyword('shared');
export const As = keyword('as');
export const Mask = keyword('mask');
export const Memory = keyword('memory');
export const Plan = keyword('plan');
export const For = keyword('for');
export const True = keyword('true');
export const False = keyword('false');

export const keywordTokens: readonly TokenType[] = [
  Model, Config, Input, Output, Block, Return, Repeat, Shared, As, Mask, Memory, Plan, For, True, False,
];

/**
 * Digits with optional `_` separators, a fraction and an exponent. Letters and digits glued to the
 * end (`12d`, `1e`) are swallowed into the same token so that they are reported as one invalid
 * number rather than as a number followed by a name; cst-to-ast.ts validates the text.
 */
export const NumberLiteral = createToken({
  name: 'NumberLiteral',
  pattern: /\d+(?:_\d+)*(?:\.\d+(?:_\d+)*)?(?:[eE][+-]?\d+)?[A-Za-z0-9_]*/,
  categories: [NotBrace],
  label: 'a number',
});
/** Single-line string; escapes are validated in cst-to-ast.ts. */
export const StringLiteral = createToken({
  name: 'StringLiteral',
  pattern: /"(?:[^"\\\r\n]|\\[^\r\n])*"/,
  categories: [NotBrace],
  label: 'a string',
});
export const UnterminatedString = createToken({ name: 'UnterminatedString', pattern: /"(?:[^"\\\r\n]|\\[^\r\n])*\\?/ });

const punct = (name: string, text: string, categories: TokenType[] = []): TokenType =>
  createToken({ name, pattern: text, categories: [NotBrace, ...categories], label: `'${text}'` });

export const LBrace = createToken({ name: 'LBrace', pattern: '{', label: "'{'" });
export const RBrace = createToken({ name: 'RBrace', pattern: '}', label: "'}'" });
export const LParen = punct('LParen', '(');
export const RParen = punct('RParen', ')');
export const LBracket = punct('LBracket', '[');
export const RBracket = punct('RBracket', ']');
export const Comma = punct('Comma', ',');
export const Colon = punct('Colon', ':');
export const Semicolon = punct('Semicolon', ';');
export const Ellipsis = punct('Ellipsis', '...');
export const Dot = punct('Dot', '.');
export const Arrow = punct('Arrow', '=>');
export const EqualEqual = punct('EqualEqual', '==', [BinaryOp]);
export const NotEqual = punct('NotEqual', '!=', [BinaryOp]);
export const LessEqual = punct('LessEqual', '<=', [BinaryOp]);
export const GreaterEqual = punct('GreaterEqual', '>=', [BinaryOp]);
export const Less = punct('Less', '<', [BinaryOp]);
export const Greater = punct('Greater', '>', [BinaryOp]);
export const Equals = punct('Equals', '=');
export const Bang = punct('Bang', '!', [PrefixOp]);
export const Ampersand = punct('Ampersand', '&', [BinaryOp]);
export const Pipe = punct('Pipe', '|', [BinaryOp]);
export const Plus = punct('Plus', '+', [BinaryOp]);
export const Minus = punct('Minus', '-', [BinaryOp, PrefixOp]);
export const StarStar = punct('StarStar', '**', [BinaryOp]);
export const Star = punct('Star', '*', [BinaryOp]);
export const Slash = punct('Slash', '/', [BinaryOp]);
export const Percent = punct('Percent', '%', [BinaryOp]);
export const At = punct('At', '@', [BinaryOp]);
export const TransposeOp = punct('TransposeOp', '^T');

/** Lexing order: the first pattern that matches wins, so longer operators precede their prefixes. */
export const allTokens: TokenType[] = [
  WhiteSpace,
  LineComment,
  BlockComment,
  UnterminatedComment,
  ...keywordTokens,
  Identifier,
  NumberLiteral,
  StringLiteral,
  UnterminatedString,
  LBrace, RBrace, LParen, RParen, LBracket, RBracket,
  Comma, Colon, Semicolon, Ellipsis, Dot,
  Arrow, EqualEqual, NotEqual, LessEqual, GreaterEqual, Less, Greater, Equals, Bang,
  Ampersand, Pipe, Plus, Minus, StarStar, Star, Slash, Percent, At, TransposeOp,
  NotBrace,
  AnyName,
  BinaryOp,
  PrefixOp,
];

/** Tokens the parser sees (error tokens are removed by the lexer). */
export const parserTokens: TokenType[] = allTokens.filter(
  (t) => t !== WhiteSpace && t !== LineComment && t !== BlockComment && t !== UnterminatedComment && t !== UnterminatedString,
);

/** The literal text of a punctuation or keyword token, for messages (`'}'` → `}`). */
export function tokenText(type: TokenType): string {
  const label = type.LABEL ?? type.name;
  return label.startsWith("'") && label.endsWith("'") ? label.slice(1, -1) : label;
}
