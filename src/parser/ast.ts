// The .ptm abstract syntax tree: what the parser produces and elaboration consumes.
// Every node carries the span of its source text. Section numbers cite dsl/REFERENCE.md.
import type { Span } from '../diagnostics/span.js';

export interface Ident {
  name: string;
  span: Span;
}

export type BinaryOp = '+' | '-' | '*' | '/' | '%' | '@' | '**' | '<' | '<=' | '>' | '>=' | '==' | '!=' | '&' | '|';
export type UnaryOp = '-' | '!';

/** Expressions (§6). One grammar serves config arithmetic, tensor code and mask predicates. */
export type Expr =
  | NumberExpr
  | StringExpr
  | BoolExpr
  | NameExpr
  | BinaryExpr
  | UnaryExpr
  | CallExpr
  | MemberExpr
  | IndexExpr
  | TransposeExpr
  | ListExpr
  | RepeatExpr
  | MaskLambdaExpr;

/** `12`, `0.02`, `1e-5`. `isInteger` is true when the text has no `.` and no exponent. */
export interface NumberExpr { kind: 'number'; value: number; isInteger: boolean; text: string; span: Span }
export interface StringExpr { kind: 'string'; value: string; span: Span }
export interface BoolExpr { kind: 'bool'; value: boolean; span: Span }
export interface NameExpr { kind: 'name'; name: string; span: Span }
export interface BinaryExpr { kind: 'binary'; op: BinaryOp; left: Expr; right: Expr; span: Span }
export interface UnaryExpr { kind: 'unary'; op: UnaryOp; operand: Expr; span: Span }
/** `f(a, b, key: value)`. Positional arguments come before named ones. */
export interface CallExpr { kind: 'call'; callee: Expr; args: Arg[]; span: Span }
export interface Arg { name?: Ident; value: Expr; span: Span }
/** `tok.weight` */
export interface MemberExpr { kind: 'member'; object: Expr; member: Ident; span: Span }
/** `x[:, 0]`, `x[..., :d]`, `valid[b, k]` (§6.6). */
export interface IndexExpr { kind: 'index'; object: Expr; items: IndexItem[]; span: Span }
export type IndexItem =
  | { kind: 'ellipsis'; span: Span }
  | { kind: 'slice'; start?: Expr; end?: Expr; step?: Expr; span: Span }
  | { kind: 'at'; index: Expr; span: Span };
/** `w^T`: swaps the last two axes (§6.5). */
export interface TransposeExpr { kind: 'transpose'; operand: Expr; span: Span }
/** `[a, b, c]`: shapes for reshape, tensors for concat. */
export interface ListExpr { kind: 'list'; items: Expr[]; span: Span }
/** `repeat(layers) Layer(h)`, `repeat(n) shared Layer(h)`, `repeat(n) as i Layer(h, i)` (§5.3). */
export interface RepeatExpr {
  kind: 'repeat';
  count: Expr;
  shared: boolean;
  indexName?: Ident;
  block: Ident;
  args: Arg[];
  span: Span;
}
/** `mask (b, h, q, k) => rank[b, k] <= rank[b, q]` (§7.3). */
export interface MaskLambdaExpr { kind: 'mask_lambda'; params: Ident[]; body: Expr; span: Span }

/** Statements inside a model or block body (§5). */
export interface AssignStmt { kind: 'assign'; target: Ident; value: Expr; span: Span }
export interface ReturnStmt { kind: 'return'; value: Expr; span: Span }
export type Stmt = AssignStmt | ReturnStmt;

/** `config { d = 768  ff = 4 * d }` (§3). Entries may refer to each other in any order. */
export interface ConfigBlock { kind: 'config'; entries: ConfigEntry[]; span: Span }
export interface ConfigEntry { name: Ident; value: Expr; span: Span }

/** `input ids: i32[batch, seq]` (§4). A dimension is a config expression or a new symbol. */
export interface InputDecl { kind: 'input'; name: Ident; type: TensorTypeExpr; span: Span }
export interface TensorTypeExpr { dtype: Ident; dims: Expr[]; span: Span }

/** `memory mem[layers]: f32[batch, 512, d]` (§9, parsed; not supported yet). */
export interface MemoryDecl { kind: 'memory'; name: Ident; count?: Expr; type: TensorTypeExpr; span: Span }

/** `block Layer(x, heads = 12) { ... return x }` (§5.2). */
export interface BlockDecl { kind: 'block'; name: Ident; params: BlockParam[]; body: Stmt[]; span: Span }
export interface BlockParam { name: Ident; default?: Expr; span: Span }

/** `output logits = expr` (§5.4). */
export interface OutputDecl { kind: 'output'; name: Ident; value: Expr; span: Span }

export type ModelItem = ConfigBlock | InputDecl | MemoryDecl | BlockDecl | OutputDecl | AssignStmt;

/** `model GPT2 { ... }` (§2). */
export interface ModelDecl { kind: 'model'; name: Ident; items: ModelItem[]; span: Span }

/** `plan Name for Model { ... }` (§10): parsed so that it can be rejected as not supported yet. */
export interface PlanDecl { kind: 'plan'; name: Ident; model?: Ident; span: Span }

export interface SourceFile { file: string; models: ModelDecl[]; plans: PlanDecl[]; span: Span }
