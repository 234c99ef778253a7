// Turns chevrotain's parse errors into messages a user understands: expected tokens in plain words,
// what was found instead, and for a missing closer the construct it should close and where it began.
// Holds the token stream of the parse in progress (parse is synchronous; see parse.ts).
import { EOF, type IParserErrorMessageProvider, type IToken, type TokenType } from 'chevrotain';
import * as T from './tokens.js';

const EXPECTED_IDENTIFIER: Record<string, string> = {
  model: 'a name for the model',
  inputDecl: "the input's name",
  outputDecl: "the output's name",
  memoryDecl: "the memory's name",
  blockDecl: "the block's name",
  blockParam: 'a parameter name',
  plan: 'a name',
  tensorType: 'a dtype (f32, f16, bf16, f64, i32, i64 or bool)',
  repeatCall: 'the name of a block to repeat, as in `repeat(n) Layer(x)`',
  maskLambda: 'a name for an index variable, as in `mask (b, h, q, k) => k <= q`',
};

const NO_VIABLE: Record<string, string> = {
  'a model item': "a model item (config, input, memory, block, output or 'name = ...')",
  'a statement': "a statement ('name = ...' or 'return ...')",
};

/** Rules whose `)` or `]` closes a comma-separated list: a missing closer may be a missing comma. */
const COMMA_LISTS: ReadonlySet<string> = new Set(['suffix', 'list', 'tensorType', 'blockDecl', 'maskLambda']);

const CLOSES: ReadonlyMap<TokenType, TokenType> = new Map([
  [T.RBrace, T.LBrace],
  [T.RParen, T.LParen],
  [T.RBracket, T.LBracket],
]);

class ErrorMessages implements IParserErrorMessageProvider {
  private tokens: IToken[] = [];
  /** Per token index, the index of the innermost unclosed `{`, `(`, `[` before it; built lazily. */
  private openers: Map<TokenType, Int32Array> | undefined;

  /** Called by parse.ts before each parse. */
  begin(tokens: IToken[]): void {
    this.tokens = tokens;
    this.openers = undefined;
  }

  buildMismatchTokenMessage(options: { expected: TokenType; actual: IToken; previous: IToken; ruleName: string }): string {
    const { expected, actual, previous, ruleName } = options;
    if (expected === EOF) return this.buildNotAllInputParsedMessage({ firstRedundant: actual, ruleName });
    const found = `, found ${describeFound(actual)}`;
    const reserved = this.reservedWordMisuse(actual, previous);
    if (reserved) return reserved;

    const opener = CLOSES.get(expected);
    if (opener) {
      const context = this.openerContext(opener, actual);
      let what = `'${T.tokenText(expected)}'`;
      if (expected === T.RBrace && ruleName === 'model') what = `a model item or ${what}`;
      if (expected === T.RBrace && ruleName === 'blockDecl') what = `a statement or ${what}`;
      if (expected === T.RBrace && ruleName === 'configBlock') what = `'name = value' or ${what}`;
      if (expected !== T.RBrace && COMMA_LISTS.has(ruleName)) what = `',' or ${what}`;
      let hint = '';
      if (actual.tokenType === T.Return && ruleName === 'model') hint = " ('return' is only allowed inside a block)";
      if (actual.tokenType === T.Comma && ruleName === 'configBlock') hint = ' (config entries are not separated by commas)';
      return `expected ${what}${context}${found}${hint}`;
    }
    if (expected === T.Identifier) {
      return `expected ${EXPECTED_IDENTIFIER[ruleName] ?? 'a name'}${found}${reservedNote(actual)}`;
    }
    if (expected === T.Equals && previous && !isEof(previous)) {
      return `expected '=' after '${previous.image}'${found}`;
    }
    if (expected === T.Arrow && ruleName === 'maskLambda') {
      return `expected '=>' after the index variables, as in \`mask (b, h, q, k) => k <= q\`${found}`;
    }
    if (expected === T.Colon && (ruleName === 'inputDecl' || ruleName === 'memoryDecl')) {
      return `expected ':' and a type, as in \`${ruleName === 'inputDecl' ? 'input ids: i32[batch, seq]' : 'memory mem[layers]: f32[batch, 512, d]'}\`${found}`;
    }
    return `expected ${describeExpected(expected)}${found}`;
  }

  buildNotAllInputParsedMessage(options: { firstRedundant: IToken; ruleName: string }): string {
    const token = options.firstRedundant;
    if (token.tokenType === T.RBrace) return "unmatched '}': there is no open '{' for it to close";
    const index = this.indexOf(token);
    const next = this.tokens[index + 1];
    const looksLikeItem =
      token.tokenType === T.Config || token.tokenType === T.Input || token.tokenType === T.Output ||
      token.tokenType === T.Block || token.tokenType === T.Memory ||
      (token.tokenType === T.Identifier && next?.tokenType === T.Equals);
    const hint = looksLikeItem ? ' (declarations belong inside `model Name { ... }`)' : '';
    return `expected 'model' or 'plan' at the top level, found ${describeFound(token)}${hint}`;
  }

  buildNoViableAltMessage(options: {
    expectedPathsPerAlt: TokenType[][][];
    actual: IToken[];
    previous: IToken;
    customUserDescription?: string;
    ruleName: string;
  }): string {
    const actual = options.actual[0]!;
    const reserved = this.reservedWordMisuse(actual, options.previous);
    if (reserved) return reserved;
    const description = options.customUserDescription;
    const expected = description
      ? NO_VIABLE[description] ?? description
      : listWords(uniqueFirstTokens(options.expectedPathsPerAlt).map(describeExpected));
    return `expected ${expected}, found ${describeFound(actual)}${reservedNote(actual)}`;
  }

  buildEarlyExitMessage(options: {
    expectedIterationPaths: TokenType[][];
    actual: IToken[];
    previous: IToken;
    customUserDescription?: string;
    ruleName: string;
  }): string {
    const actual = options.actual[0]!;
    const expected = options.customUserDescription ?? listWords(uniqueFirstTokens([options.expectedIterationPaths]).map(describeExpected));
    return `expected at least one ${expected}, found ${describeFound(actual)}`;
  }

  /** `config = 3`, `output = x`: a keyword where a name was meant. */
  private reservedWordMisuse(actual: IToken, previous: IToken | undefined): string | undefined {
    const index = this.indexOf(actual);
    const candidates = [previous, actual];
    for (const token of candidates) {
      if (!token || !T.keywordTokens.includes(token.tokenType)) continue;
      const after = token === actual ? this.tokens[index + 1] : actual;
      if (after?.tokenType === T.Equals) {
        return `'${token.image}' is a reserved word and cannot be used as a name`;
      }
    }
    return undefined;
  }

  /** ` to close the model 'GPT2' started at 3:1`, or '' when no opener is found. */
  private openerContext(opener: TokenType, actual: IToken): string {
    const table = this.openerTable().get(opener)!;
    const index = this.indexOf(actual);
    const at = table[Math.min(index, this.tokens.length)]!;
    if (at < 0) return '';
    const open = this.tokens[at]!;
    if (opener === T.LBrace) {
      const owner = this.braceOwner(at);
      if (owner) return ` to close ${owner}`;
    }
    return ` to close the '${open.image}' at ${loc(open)}`;
  }

  /** What a `{` opens: `the model 'GPT2' started at 3:1`, `the block 'Layer' ...`, `the config block ...`. */
  private braceOwner(braceIndex: number): string | undefined {
    const t = this.tokens;
    const before = t[braceIndex - 1];
    if (!before) return undefined;
    if (before.tokenType === T.Config) return `the config block started at ${loc(before)}`;
    if (before.tokenType === T.Identifier) {
      const keyword = t[braceIndex - 2];
      if (keyword?.tokenType === T.Model) return `the model '${before.image}' started at ${loc(keyword)}`;
      if (keyword?.tokenType === T.Plan) return `the plan '${before.image}' started at ${loc(keyword)}`;
      const plan = t[braceIndex - 4];
      if (keyword?.tokenType === T.For && plan?.tokenType === T.Plan) return `the plan '${t[braceIndex - 3]!.image}' started at ${loc(plan)}`;
    }
    if (before.tokenType === T.RParen) {
      let depth = 0;
      for (let i = braceIndex - 1; i >= 0 && i >= braceIndex - 10_000; i--) {
        const type = t[i]!.tokenType;
        if (type === T.RParen) depth++;
        else if (type === T.LParen && --depth === 0) {
          const name = t[i - 1];
          const keyword = t[i - 2];
          if (name?.tokenType === T.Identifier && keyword?.tokenType === T.Block) {
            return `the block '${name.image}' started at ${loc(keyword)}`;
          }
          return undefined;
        }
      }
    }
    return undefined;
  }

  private openerTable(): Map<TokenType, Int32Array> {
    if (this.openers) return this.openers;
    const n = this.tokens.length;
    const tables = new Map<TokenType, Int32Array>();
    for (const [closer, opener] of CLOSES) {
      const table = new Int32Array(n + 1);
      const stack: number[] = [];
      for (let i = 0; i <= n; i++) {
        table[i] = stack.length ? stack[stack.length - 1]! : -1;
        const type = this.tokens[i]?.tokenType;
        if (type === opener) stack.push(i);
        else if (type === closer) stack.pop();
      }
      tables.set(opener, table);
    }
    this.openers = tables;
    return tables;
  }

  /** Index of `token` in the stream (binary search on offset); the stream length for EOF. */
  indexOf(token: IToken): number {
    if (isEof(token)) return this.tokens.length;
    let lo = 0;
    let hi = this.tokens.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const offset = this.tokens[mid]!.startOffset;
      if (offset === token.startOffset) return mid;
      if (offset < token.startOffset) lo = mid + 1;
      else hi = mid - 1;
    }
    return lo;
  }
}

function isEof(token: IToken): boolean {
  return token.tokenType === EOF || Number.isNaN(token.startOffset);
}

function loc(token: IToken): string {
  return `${token.startLine}:${token.startColumn}`;
}

/** How a found token is named in a message. */
export function describeFound(token: IToken): string {
  if (isEof(token)) return 'the end of the file';
  if (token.tokenType === T.StringLiteral) return 'a string';
  const image = token.image.length > 24 ? token.image.slice(0, 24) + '…' : token.image;
  return `'${image}'`;
}

function describeExpected(type: TokenType): string {
  if (type === T.Identifier || type === T.AnyName) return 'a name';
  if (type === EOF) return 'the end of the file';
  return type.LABEL ?? type.name;
}

/** Keywords that can only appear inside an expression; found elsewhere, they were likely meant as names. */
const EXPRESSION_KEYWORDS: readonly TokenType[] = [T.Shared, T.As, T.For];

function reservedNote(actual: IToken): string {
  return EXPRESSION_KEYWORDS.includes(actual.tokenType) ? ` ('${actual.image}' is a reserved word)` : '';
}

function uniqueFirstTokens(pathsPerAlt: TokenType[][][]): TokenType[] {
  const seen = new Set<TokenType>();
  for (const alt of pathsPerAlt) for (const path of alt) if (path[0]) seen.add(path[0]);
  return [...seen];
}

function listWords(words: string[]): string {
  const unique = [...new Set(words)];
  if (unique.length <= 1) return unique[0] ?? 'something else';
  return `${unique.slice(0, -1).join(', ')} or ${unique[unique.length - 1]}`;
}

/** The single provider the parser is built with. */
export const errorMessages = new ErrorMessages();
