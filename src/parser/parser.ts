// The .ptm grammar (dsl/REFERENCE.md §12) as a chevrotain CST parser with error recovery.
// Rules are class properties, so a misspelled rule is a compile error; each cites its section.
// Built once (self-analysis is slow) and reused: `ptmParser.input = tokens; ptmParser.file()`.
import { CstParser, type IRecognitionException, type TokenType } from 'chevrotain';
import { errorMessages } from './error-messages.js';
import * as T from './tokens.js';

/** The description of a failed operand, in messages (see error-messages.ts). */
export const EXPRESSION_EXPECTED = 'an expression';

/** Raw chevrotain errors after which a parse stops (parse.ts reports at most 20, echoes removed). */
export const MAX_PARSE_ERRORS = 100;

/** Thrown out of a parse that has reached MAX_PARSE_ERRORS. */
export class TooManyErrors extends Error {
  override name = 'TooManyErrors';
}

/** chevrotain internals this parser refines (not in its public types). */
interface RecoveryInternals {
  SAVE_ERROR(e: IRecognitionException): IRecognitionException;
  canRecoverWithSingleTokenDeletion(expected: TokenType): boolean;
}
const base = CstParser.prototype as unknown as RecoveryInternals;

/** Keywords that begin a declaration or statement: recovery must not delete them as stray tokens. */
const STARTS_ITEM: ReadonlySet<TokenType> = new Set([T.Model, T.Plan, T.Config, T.Input, T.Memory, T.Block, T.Output, T.Return]);

export class PtmParser extends CstParser {
  /** Errors saved by the current parse; parse.ts resets it before each parse. */
  savedErrors = 0;

  /**
   * chevrotain's hook for each syntax error. Recovery through a long run of garbage is slow and
   * finds only echoes, so the parse stops at MAX_PARSE_ERRORS (TooManyErrors escapes chevrotain,
   * which only catches its own recognition exceptions).
   */
  SAVE_ERROR(error: IRecognitionException): IRecognitionException {
    const saved = base.SAVE_ERROR.call(this, error);
    if (++this.savedErrors >= MAX_PARSE_ERRORS) throw new TooManyErrors();
    return saved;
  }

  /**
   * Single-token deletion (chevrotain's in-rule recovery) would treat `output` in
   * `h = repeat(n)⏎output y = h` as a stray token and read `y` as the block name; the errors that
   * follow from that are noise. Keep declarations whole instead.
   */
  canRecoverWithSingleTokenDeletion(expected: TokenType): boolean {
    return !STARTS_ITEM.has(this.LA(1).tokenType) && base.canRecoverWithSingleTokenDeletion.call(this, expected);
  }

  constructor() {
    super(T.parserTokens, {
      recoveryEnabled: true,
      nodeLocationTracking: 'full',
      maxLookahead: 3,
      errorMessageProvider: errorMessages,
    });
    this.performSelfAnalysis();
  }

  // §2: a file holds models and plans, in any order.
  public file = this.RULE('file', () => {
    this.MANY(() =>
      this.OR([
        { ALT: () => this.SUBRULE(this.model) },
        { ALT: () => this.SUBRULE(this.plan) },
      ]),
    );
  });

  // §2
  public model = this.RULE('model', () => {
    this.CONSUME(T.Model);
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.CONSUME(T.LBrace);
    this.MANY(() =>
      this.OR([
        { ALT: () => this.SUBRULE(this.modelItem, { LABEL: 'items' }) },
        { ALT: () => this.CONSUME(T.Semicolon) },
      ]),
    );
    this.CONSUME(T.RBrace);
  });

  // §2
  public modelItem = this.RULE('modelItem', () => {
    this.OR({
      DEF: [
        { ALT: () => this.SUBRULE(this.configBlock) },
        { ALT: () => this.SUBRULE(this.inputDecl) },
        { ALT: () => this.SUBRULE(this.memoryDecl) },
        { ALT: () => this.SUBRULE(this.blockDecl) },
        { ALT: () => this.SUBRULE(this.outputDecl) },
        { ALT: () => this.SUBRULE(this.assign) },
      ],
      ERR_MSG: 'a model item',
    });
  });

  // §3
  public configBlock = this.RULE('configBlock', () => {
    this.CONSUME(T.Config);
    this.CONSUME(T.LBrace);
    this.MANY(() =>
      this.OR([
        { ALT: () => this.SUBRULE(this.configEntry, { LABEL: 'entries' }) },
        { ALT: () => this.CONSUME(T.Semicolon) },
      ]),
    );
    this.CONSUME(T.RBrace);
  });

  // §3
  public configEntry = this.RULE('configEntry', () => {
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expr, { LABEL: 'value' });
  });

  // §4
  public inputDecl = this.RULE('inputDecl', () => {
    this.CONSUME(T.Input);
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.CONSUME(T.Colon);
    this.SUBRULE(this.tensorType, { LABEL: 'type' });
  });

  // §4: `i32[batch, seq]`; the leading name is the dtype.
  public tensorType = this.RULE('tensorType', () => {
    this.CONSUME(T.Identifier, { LABEL: 'dtype' });
    this.CONSUME(T.LBracket);
    this.OPTION(() => {
      this.SUBRULE(this.expr, { LABEL: 'dims' });
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.expr, { LABEL: 'dims' });
      });
    });
    this.CONSUME(T.RBracket);
  });

  // §9: `memory mem[layers]: f32[batch, 512, d]`
  public memoryDecl = this.RULE('memoryDecl', () => {
    this.CONSUME(T.Memory);
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.OPTION(() => {
      this.CONSUME(T.LBracket);
      this.SUBRULE(this.expr, { LABEL: 'count' });
      this.CONSUME(T.RBracket);
    });
    this.CONSUME(T.Colon);
    this.SUBRULE(this.tensorType, { LABEL: 'type' });
  });

  // §5.2
  public blockDecl = this.RULE('blockDecl', () => {
    this.CONSUME(T.Block);
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.CONSUME(T.LParen);
    this.OPTION(() => {
      this.SUBRULE(this.blockParam, { LABEL: 'params' });
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.blockParam, { LABEL: 'params' });
      });
    });
    this.CONSUME(T.RParen);
    this.CONSUME(T.LBrace);
    this.MANY2(() =>
      this.OR([
        { ALT: () => this.SUBRULE(this.statement, { LABEL: 'body' }) },
        { ALT: () => this.CONSUME(T.Semicolon) },
      ]),
    );
    this.CONSUME(T.RBrace);
  });

  // §5.2: `x` or `heads = 12`
  public blockParam = this.RULE('blockParam', () => {
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.OPTION(() => {
      this.CONSUME(T.Equals);
      this.SUBRULE(this.expr, { LABEL: 'default' });
    });
  });

  // §5.1
  public statement = this.RULE('statement', () => {
    this.OR({
      DEF: [
        { ALT: () => this.SUBRULE(this.assign) },
        { ALT: () => this.SUBRULE(this.returnStatement) },
      ],
      ERR_MSG: 'a statement',
    });
  });

  // §5.1
  public assign = this.RULE('assign', () => {
    this.CONSUME(T.Identifier, { LABEL: 'target' });
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expr, { LABEL: 'value' });
  });

  // §5.1
  public returnStatement = this.RULE('returnStatement', () => {
    this.CONSUME(T.Return);
    this.SUBRULE(this.expr, { LABEL: 'value' });
  });

  // §5.4
  public outputDecl = this.RULE('outputDecl', () => {
    this.CONSUME(T.Output);
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expr, { LABEL: 'value' });
  });

  // §10: the body is skipped, balancing braces.
  public plan = this.RULE('plan', () => {
    this.CONSUME(T.Plan);
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.OPTION(() => {
      this.CONSUME(T.For);
      this.CONSUME2(T.Identifier, { LABEL: 'model' });
    });
    this.CONSUME(T.LBrace);
    this.SUBRULE(this.planBody);
    this.CONSUME(T.RBrace);
  });

  // §10
  public planBody = this.RULE('planBody', () => {
    this.MANY(() =>
      this.OR([
        { ALT: () => this.CONSUME(T.NotBrace) },
        {
          ALT: () => {
            this.CONSUME(T.LBrace);
            this.SUBRULE(this.planBody);
            this.CONSUME(T.RBrace);
          },
        },
      ]),
    );
  });

  // §6.2: an expression is a flat chain `operand (operator operand)*`; cst-to-ast.ts applies the
  // precedence table of §6.2 by precedence climbing. This is the language of §12's layered grammar,
  // with one CST node per operand instead of one per precedence level (10x fewer nodes, and
  // 3 parser frames per parenthesis instead of 11).
  public expr = this.RULE('expr', () => {
    this.SUBRULE(this.operand, { LABEL: 'operands' });
    this.MANY(() => {
      this.CONSUME(T.BinaryOp, { LABEL: 'operators' });
      this.SUBRULE2(this.operand, { LABEL: 'operands' });
    });
  });

  // §6.1–6.7, §5.3, §7.3: prefix operators, an atom, then calls, members, indexing and transposes.
  public operand = this.RULE('operand', () => {
    this.MANY(() => this.CONSUME(T.PrefixOp, { LABEL: 'prefixes' }));
    this.OR({
      DEF: [
        { ALT: () => this.CONSUME(T.NumberLiteral) },
        { ALT: () => this.CONSUME(T.StringLiteral) },
        { ALT: () => this.CONSUME(T.True) },
        { ALT: () => this.CONSUME(T.False) },
        { ALT: () => this.CONSUME(T.Identifier) },
        { ALT: () => this.SUBRULE(this.parenthesized) },
        { ALT: () => this.SUBRULE(this.list) },
        { ALT: () => this.SUBRULE(this.repeatCall) },
        { ALT: () => this.SUBRULE(this.maskLambda) },
      ],
      ERR_MSG: EXPRESSION_EXPECTED,
    });
    this.MANY2(() => this.SUBRULE(this.suffix, { LABEL: 'suffixes' }));
  });

  // §6.3–6.6
  public suffix = this.RULE('suffix', () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.LParen);
          this.OPTION(() => this.SUBRULE(this.argumentList, { LABEL: 'args' }));
          this.CONSUME(T.RParen);
        },
      },
      {
        ALT: () => {
          this.CONSUME(T.Dot);
          this.CONSUME(T.AnyName, { LABEL: 'member' });
        },
      },
      {
        ALT: () => {
          this.CONSUME(T.LBracket);
          this.SUBRULE(this.indexItem, { LABEL: 'items' });
          this.MANY(() => {
            this.CONSUME(T.Comma);
            this.SUBRULE2(this.indexItem, { LABEL: 'items' });
          });
          this.CONSUME(T.RBracket);
        },
      },
      { ALT: () => this.CONSUME(T.TransposeOp) },
    ]);
  });

  // §6.6: `...`, `i`, `a:b`, `a:b:s`, with any part of a slice left out.
  public indexItem = this.RULE('indexItem', () => {
    this.OR({
      DEF: [
        { ALT: () => this.CONSUME(T.Ellipsis) },
        {
          ALT: () => {
            this.CONSUME(T.Colon);
            this.SUBRULE(this.sliceTail, { LABEL: 'tail' });
          },
        },
        {
          ALT: () => {
            this.SUBRULE(this.expr, { LABEL: 'start' });
            this.OPTION(() => {
              this.CONSUME2(T.Colon);
              this.SUBRULE2(this.sliceTail, { LABEL: 'tail' });
            });
          },
        },
      ],
      ERR_MSG: 'an index or a slice',
    });
  });

  // §6.6: what follows the first `:` of a slice.
  public sliceTail = this.RULE('sliceTail', () => {
    this.OPTION(() => this.SUBRULE(this.expr, { LABEL: 'end' }));
    this.OPTION2(() => {
      this.CONSUME(T.Colon);
      this.OPTION3(() => this.SUBRULE2(this.expr, { LABEL: 'step' }));
    });
  });

  // §6.3: positional arguments, then named ones (the order is checked in cst-to-ast.ts).
  public argumentList = this.RULE('argumentList', () => {
    this.SUBRULE(this.argument, { LABEL: 'args' });
    this.MANY(() => {
      this.CONSUME(T.Comma);
      this.SUBRULE2(this.argument, { LABEL: 'args' });
    });
  });

  // §6.3: `heads: 12` or `x`. Keywords are allowed as argument names (`mask: causal`).
  public argument = this.RULE('argument', () => {
    this.OR({
      DEF: [
        {
          ALT: () => {
            this.CONSUME(T.AnyName, { LABEL: 'name' });
            this.CONSUME(T.Colon);
            this.SUBRULE(this.expr, { LABEL: 'value' });
          },
        },
        { ALT: () => this.SUBRULE2(this.expr, { LABEL: 'value' }) },
      ],
      ERR_MSG: 'an argument',
    });
  });

  // §6.2
  public parenthesized = this.RULE('parenthesized', () => {
    this.CONSUME(T.LParen);
    this.SUBRULE(this.expr, { LABEL: 'inner' });
    this.CONSUME(T.RParen);
  });

  // §6.7
  public list = this.RULE('list', () => {
    this.CONSUME(T.LBracket);
    this.OPTION(() => {
      this.SUBRULE(this.expr, { LABEL: 'items' });
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.expr, { LABEL: 'items' });
      });
    });
    this.CONSUME(T.RBracket);
  });

  // §5.3: `repeat(n) shared? (as i)? Block(args)`
  public repeatCall = this.RULE('repeatCall', () => {
    this.CONSUME(T.Repeat);
    this.CONSUME(T.LParen);
    this.SUBRULE(this.expr, { LABEL: 'count' });
    this.CONSUME(T.RParen);
    this.OPTION(() => this.CONSUME(T.Shared));
    this.OPTION2(() => {
      this.CONSUME(T.As);
      this.CONSUME(T.Identifier, { LABEL: 'index' });
    });
    this.CONSUME2(T.Identifier, { LABEL: 'block' });
    this.CONSUME2(T.LParen);
    this.OPTION3(() => this.SUBRULE(this.argumentList, { LABEL: 'args' }));
    this.CONSUME2(T.RParen);
  });

  // §7.3: `mask (b, h, q, k) => predicate`
  public maskLambda = this.RULE('maskLambda', () => {
    this.CONSUME(T.Mask);
    this.CONSUME(T.LParen);
    this.CONSUME(T.Identifier, { LABEL: 'params' });
    this.MANY(() => {
      this.CONSUME(T.Comma);
      this.CONSUME2(T.Identifier, { LABEL: 'params' });
    });
    this.CONSUME(T.RParen);
    this.CONSUME(T.Arrow);
    this.SUBRULE(this.expr, { LABEL: 'body' });
  });
}

/** The one parser instance (chevrotain parsers are reusable: set `input`, call a rule). */
export const ptmParser = new PtmParser();
