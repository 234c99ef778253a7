// Builds the AST (ast.ts) from chevrotain's CST, with a span on every node, and reports the
// errors that are easier to see on the tree than in the grammar: invalid numbers and escapes,
// positional-after-named arguments, chained comparisons. Tolerates trees that recovery left
// incomplete: an item missing a required part is dropped (its syntax error is already reported).
import type { CstNode, IToken } from 'chevrotain';
import { diag, joinSpans, type Diagnostic, type Span } from '../diagnostics/index.js';
import type * as A from './ast.js';
import type * as C from './cst-types.js';

/** Thrown when recovery left out a required part; caught at the item that holds it. */
class Incomplete extends Error {}

const STRICT_NUMBER = /^\d+(?:_\d+)*(?:\.\d+(?:_\d+)*)?(?:[eE][+-]?\d+)?$/;
const MAX_EXACT_INTEGER = 2n ** 53n;
const ESCAPES: Record<string, string> = { '\\': '\\', '"': '"', n: '\n', t: '\t' };

/** §6.2, loosest first. Prefix `-` and `!` sit between `*` and `**`. */
const COMPARISON = 3;
const BINARY_PRECEDENCE: Record<A.BinaryOp, number> = {
  '|': 1,
  '&': 2,
  '<': COMPARISON, '<=': COMPARISON, '>': COMPARISON, '>=': COMPARISON, '==': COMPARISON, '!=': COMPARISON,
  '+': 4, '-': 4,
  '*': 5, '/': 5, '%': 5, '@': 5,
  '**': 7,
};
/** What a prefix operator applies to: an operand and any `**` after it. */
const PREFIX_OPERAND_PRECEDENCE = 7;

/** Cursor over an expression's flat operand/operator chain. */
interface Chain {
  operands: C.OperandCstNode[];
  operators: IToken[];
  /** Index of the next operand; the operator before it is `operators[next - 1]`. */
  next: number;
  /** How many prefix operators of `operands[next]` are already applied. */
  prefix: number;
}

export interface AstResult {
  ast: A.SourceFile;
  diagnostics: Diagnostic[];
  /** How many items were dropped as incomplete; with no syntax error reported, that is a bug. */
  dropped: number;
}

export function buildAst(cst: C.FileCstNode, file: string, source: string): AstResult {
  const builder = new AstBuilder(file);
  const ast: A.SourceFile = {
    file,
    models: builder.each(cst.children.model, (m) => builder.model(m)),
    plans: builder.each(cst.children.plan, (p) => builder.plan(p)),
    span: { file, line: 1, col: 1, offset: 0, end: source.length },
  };
  return { ast, diagnostics: builder.diagnostics, dropped: builder.dropped };
}

class AstBuilder {
  readonly diagnostics: Diagnostic[] = [];
  dropped = 0;
  constructor(private readonly file: string) {}

  /** Converts each node, dropping those that recovery left incomplete. */
  each<N, R>(nodes: N[] | undefined, convert: (node: N) => R): R[] {
    const out: R[] = [];
    for (const node of nodes ?? []) {
      try {
        out.push(convert(node));
      } catch (e) {
        if (!(e instanceof Incomplete)) throw e;
        this.dropped++;
      }
    }
    return out;
  }

  // ---- declarations (§2–§5, §9, §10) ---------------------------------------------------------

  model(node: C.ModelCstNode): A.ModelDecl {
    const c = node.children;
    const items = this.each(c.items, (item) => this.modelItem(item));
    return { kind: 'model', name: this.ident(c.name), items, span: this.nodeSpan(node) };
  }

  private modelItem(node: C.ModelItemCstNode): A.ModelItem {
    const c = node.children;
    if (c.configBlock) return this.configBlock(c.configBlock[0]!);
    if (c.inputDecl) return this.inputDecl(c.inputDecl[0]!);
    if (c.memoryDecl) return this.memoryDecl(c.memoryDecl[0]!);
    if (c.blockDecl) return this.blockDecl(c.blockDecl[0]!);
    if (c.outputDecl) return this.outputDecl(c.outputDecl[0]!);
    if (c.assign) return this.assign(c.assign[0]!);
    throw new Incomplete();
  }

  private configBlock(node: C.ConfigBlockCstNode): A.ConfigBlock {
    const entries = this.each(node.children.entries, (entry): A.ConfigEntry => ({
      name: this.ident(entry.children.name),
      value: this.expr(one(entry.children.value)),
      span: this.nodeSpan(entry),
    }));
    return { kind: 'config', entries, span: this.nodeSpan(node) };
  }

  private inputDecl(node: C.InputDeclCstNode): A.InputDecl {
    const c = node.children;
    return { kind: 'input', name: this.ident(c.name), type: this.tensorType(one(c.type)), span: this.nodeSpan(node) };
  }

  private tensorType(node: C.TensorTypeCstNode): A.TensorTypeExpr {
    const c = node.children;
    if (!c.RBracket || c.RBracket[0]!.isInsertedInRecovery) throw new Incomplete();
    return { dtype: this.ident(c.dtype), dims: (c.dims ?? []).map((d) => this.expr(d)), span: this.nodeSpan(node) };
  }

  private memoryDecl(node: C.MemoryDeclCstNode): A.MemoryDecl {
    const c = node.children;
    const decl: A.MemoryDecl = { kind: 'memory', name: this.ident(c.name), type: this.tensorType(one(c.type)), span: this.nodeSpan(node) };
    if (c.count) decl.count = this.expr(c.count[0]!);
    return decl;
  }

  private blockDecl(node: C.BlockDeclCstNode): A.BlockDecl {
    const c = node.children;
    const params = (c.params ?? []).map((p): A.BlockParam => {
      const param: A.BlockParam = { name: this.ident(p.children.name), span: this.nodeSpan(p) };
      if (p.children.default) param.default = this.expr(p.children.default[0]!);
      return param;
    });
    const body = this.each(c.body, (s) => this.statement(s));
    return { kind: 'block', name: this.ident(c.name), params, body, span: this.nodeSpan(node) };
  }

  private statement(node: C.StatementCstNode): A.Stmt {
    const c = node.children;
    if (c.assign) return this.assign(c.assign[0]!);
    if (c.returnStatement) {
      const r = c.returnStatement[0]!;
      return { kind: 'return', value: this.expr(one(r.children.value)), span: this.nodeSpan(r) };
    }
    throw new Incomplete();
  }

  private assign(node: C.AssignCstNode): A.AssignStmt {
    const c = node.children;
    return { kind: 'assign', target: this.ident(c.target), value: this.expr(one(c.value)), span: this.nodeSpan(node) };
  }

  private outputDecl(node: C.OutputDeclCstNode): A.OutputDecl {
    const c = node.children;
    return { kind: 'output', name: this.ident(c.name), value: this.expr(one(c.value)), span: this.nodeSpan(node) };
  }

  plan(node: C.PlanCstNode): A.PlanDecl {
    const c = node.children;
    const decl: A.PlanDecl = { kind: 'plan', name: this.ident(c.name), span: this.nodeSpan(node) };
    if (c.model) decl.model = this.ident(c.model);
    return decl;
  }

  // ---- expressions (§6) ------------------------------------------------------------------------

  /** §6.2: the flat chain `operand (operator operand)*` of the CST, by precedence climbing. */
  expr(node: C.ExprCstNode): A.Expr {
    const operands = node.children.operands;
    const operators = node.children.operators ?? [];
    if (!operands || operands.length !== operators.length + 1) throw new Incomplete();
    const chain: Chain = { operands, operators, next: 0, prefix: 0 };
    return this.climb(chain, 0);
  }

  /** Parses operands and operators from `chain` while operators bind at least as tight as `minPrecedence`. */
  private climb(chain: Chain, minPrecedence: number): A.Expr {
    let left = this.prefixed(chain);
    let previousComparison: IToken | undefined;
    for (;;) {
      const token = chain.operators[chain.next - 1];
      if (!token) return left;
      const op = token.image as A.BinaryOp;
      const precedence = BINARY_PRECEDENCE[op];
      if (precedence < minPrecedence) return left;
      if (precedence === COMPARISON && previousComparison) this.chainedComparison(token);
      // Right-associative `**` parses its right side at its own level; the others one level up.
      const right = this.climb(chain, op === '**' ? precedence : precedence + 1);
      left = { kind: 'binary', op, left, right, span: joinSpans(left.span, right.span) };
      previousComparison = precedence === COMPARISON ? token : undefined;
    }
  }

  /** A prefix operator applies to everything that binds tighter than it (`-2**2` is `-(2**2)`). */
  private prefixed(chain: Chain): A.Expr {
    const operand = chain.operands[chain.next]!;
    const prefixes = operand.children.prefixes ?? [];
    if (chain.prefix < prefixes.length) {
      const token = prefixes[chain.prefix++]!;
      const inner = this.climb(chain, PREFIX_OPERAND_PRECEDENCE);
      return { kind: 'unary', op: token.image as A.UnaryOp, operand: inner, span: joinSpans(this.tokenSpan(token), inner.span) };
    }
    chain.next++;
    chain.prefix = 0;
    return this.postfix(operand);
  }

  private chainedComparison(token: IToken): void {
    this.diagnostics.push(diag.syntax_error(
      this.tokenSpan(token),
      `comparisons cannot be chained: '${token.image}' follows another comparison`,
      [{ message: 'write `a < b & b < c` to test both' }],
    ));
  }

  /** §6.3–6.6: the atom, then its suffixes left to right. */
  private postfix(node: C.OperandCstNode): A.Expr {
    let e = this.atom(node);
    for (const suffix of node.children.suffixes ?? []) {
      const c = suffix.children;
      const span = joinSpans(e.span, this.nodeSpan(suffix));
      if (c.LParen) {
        if (!c.RParen || c.RParen[0]!.isInsertedInRecovery) throw new Incomplete();
        e = { kind: 'call', callee: e, args: this.argumentList(c.args?.[0]), span };
      } else if (c.Dot) {
        e = { kind: 'member', object: e, member: this.ident(c.member), span };
      } else if (c.LBracket) {
        e = { kind: 'index', object: e, items: (c.items ?? []).map((item) => this.indexItem(item)), span };
      } else if (c.TransposeOp) {
        e = { kind: 'transpose', operand: e, span };
      } else {
        throw new Incomplete();
      }
    }
    return e;
  }

  private indexItem(node: C.IndexItemCstNode): A.IndexItem {
    const c = node.children;
    const span = this.nodeSpan(node);
    if (c.Ellipsis) return { kind: 'ellipsis', span };
    if (!c.Colon) return { kind: 'at', index: this.expr(one(c.start)), span };
    const slice: A.IndexItem & { kind: 'slice' } = { kind: 'slice', span };
    if (c.start) slice.start = this.expr(c.start[0]!);
    const tail = c.tail?.[0]?.children;
    if (tail?.end) slice.end = this.expr(tail.end[0]!);
    if (tail?.step) slice.step = this.expr(tail.step[0]!);
    return slice;
  }

  /** §6.3: positional arguments first; a positional one after a named one is an error. */
  private argumentList(node: C.ArgumentListCstNode | undefined): A.Arg[] {
    const args: A.Arg[] = [];
    let firstNamed: A.Arg | undefined;
    for (const argNode of node?.children.args ?? []) {
      const c = argNode.children;
      const value = this.expr(one(c.value));
      const arg: A.Arg = { value, span: this.nodeSpan(argNode) };
      if (c.name) {
        arg.name = this.ident(c.name);
        firstNamed ??= arg;
      } else if (firstNamed) {
        this.diagnostics.push(diag.syntax_error(
          arg.span,
          `a positional argument cannot follow the named argument '${firstNamed.name!.name}'`,
          [{ message: 'put positional arguments first, or give this one a name' }],
        ));
      }
      args.push(arg);
    }
    return args;
  }

  /** §6.1, §6.7, §5.3, §7.3 */
  private atom(node: C.OperandCstNode): A.Expr {
    const c = node.children;
    if (c.NumberLiteral) return this.number(c.NumberLiteral[0]!);
    if (c.StringLiteral) return this.string(c.StringLiteral[0]!);
    if (c.True) return { kind: 'bool', value: true, span: this.tokenSpan(c.True[0]!) };
    if (c.False) return { kind: 'bool', value: false, span: this.tokenSpan(c.False[0]!) };
    if (c.Identifier) return { kind: 'name', name: c.Identifier[0]!.image, span: this.tokenSpan(c.Identifier[0]!) };
    if (c.parenthesized) {
      const p = c.parenthesized[0]!;
      if (!p.children.RParen || p.children.RParen[0]!.isInsertedInRecovery) throw new Incomplete();
      // The AST has no node for parentheses; the inner expression takes their span.
      return { ...this.expr(one(p.children.inner)), span: this.nodeSpan(p) };
    }
    if (c.list) {
      const l = c.list[0]!;
      if (!l.children.RBracket || l.children.RBracket[0]!.isInsertedInRecovery) throw new Incomplete();
      return { kind: 'list', items: (l.children.items ?? []).map((i) => this.expr(i)), span: this.nodeSpan(l) };
    }
    if (c.repeatCall) return this.repeatCall(c.repeatCall[0]!);
    if (c.maskLambda) return this.maskLambda(c.maskLambda[0]!);
    throw new Incomplete();
  }

  private number(token: IToken): A.NumberExpr {
    const text = token.image;
    const span = this.tokenSpan(token);
    const clean = text.replaceAll('_', '');
    const isInteger = !/[.eE]/.test(clean);
    const result: A.NumberExpr = { kind: 'number', value: Number(clean), isInteger, text, span };
    if (!STRICT_NUMBER.test(text)) {
      this.diagnostics.push(diag.invalid_number(span, text, 'a number is digits with an optional fraction and exponent, like 768, 0.02, 1e-5 or 50_257'));
      result.value = NaN;
    } else if (!Number.isFinite(result.value)) {
      this.diagnostics.push(diag.invalid_number(span, text, 'it is too large to be represented'));
    } else if (isInteger && BigInt(clean) > MAX_EXACT_INTEGER) {
      this.diagnostics.push(diag.invalid_number(span, text, 'integers must be at most 2^53 = 9007199254740992'));
    }
    return result;
  }

  private string(token: IToken): A.StringExpr {
    const raw = token.image.slice(1, -1);
    let value = '';
    for (let i = 0; i < raw.length; i++) {
      const ch = raw[i]!;
      if (ch !== '\\') {
        value += ch;
        continue;
      }
      const next = raw[i + 1] ?? '';
      const replacement = ESCAPES[next];
      if (replacement === undefined) {
        const start = token.startOffset + 1 + i;
        const span: Span = { file: this.file, line: token.startLine!, col: token.startColumn! + 1 + i, offset: start, end: start + 2 };
        this.diagnostics.push(diag.syntax_error(span, `unknown escape '\\${next}' in a string`, [{ message: 'the escapes are \\\\, \\", \\n and \\t' }]));
      } else {
        value += replacement;
      }
      i++;
    }
    return { kind: 'string', value, span: this.tokenSpan(token) };
  }

  private repeatCall(node: C.RepeatCallCstNode): A.RepeatExpr {
    const c = node.children;
    if (c.RParen.length < 2 || c.RParen.some((t) => t.isInsertedInRecovery)) throw new Incomplete();
    const repeat: A.RepeatExpr = {
      kind: 'repeat',
      count: this.expr(one(c.count)),
      shared: c.Shared !== undefined,
      block: this.ident(c.block),
      args: this.argumentList(c.args?.[0]),
      span: this.nodeSpan(node),
    };
    if (c.index) repeat.indexName = this.ident(c.index);
    return repeat;
  }

  private maskLambda(node: C.MaskLambdaCstNode): A.MaskLambdaExpr {
    const c = node.children;
    const params = (c.params ?? []).map((p) => this.ident([p]));
    return { kind: 'mask_lambda', params, body: this.expr(one(c.body)), span: this.nodeSpan(node) };
  }

  // ---- spans -----------------------------------------------------------------------------------

  private ident(tokens: IToken[] | undefined): A.Ident {
    const token = one(tokens);
    return { name: token.image, span: this.tokenSpan(token) };
  }

  private tokenSpan(token: IToken): Span {
    if (token.isInsertedInRecovery || Number.isNaN(token.startOffset)) throw new Incomplete();
    return { file: this.file, line: token.startLine!, col: token.startColumn!, offset: token.startOffset, end: token.endOffset! + 1 };
  }

  /** From the first to the last real token of a node (chevrotain's location tracking). */
  private nodeSpan(node: CstNode): Span {
    const l = node.location;
    if (!l || Number.isNaN(l.startOffset) || l.endOffset === undefined || Number.isNaN(l.endOffset)) throw new Incomplete();
    return { file: this.file, line: l.startLine!, col: l.startColumn!, offset: l.startOffset, end: l.endOffset + 1 };
  }
}

/** The single element a CST child list holds, or Incomplete when recovery left it out. */
function one<T>(items: T[] | undefined): T {
  const item = items?.[0];
  if (item === undefined) throw new Incomplete();
  if (typeof item === 'object' && item !== null && 'isInsertedInRecovery' in item && item.isInsertedInRecovery) throw new Incomplete();
  return item;
}
