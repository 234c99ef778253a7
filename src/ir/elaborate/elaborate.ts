// Elaboration: AST -> graph IR. Evaluates config, binds symbols, expands blocks and repeats,
// creates parameters with hierarchical names and infers every type (REFERENCE.md §2–§8).
// Errors are collected per statement so one run reports several; a failed name is poisoned, not re-reported.
import type { BlockDecl, Expr, IndexItem, InputDecl, ModelDecl, RepeatExpr, SourceFile, Stmt } from '../../parser/ast.js';
import type { Diagnostic, DiagnosticNote } from '../../diagnostics/diagnostic.js';
import { PtmError } from '../../diagnostics/diagnostic.js';
import { diag } from '../../diagnostics/catalogue.js';
import type { Span } from '../../diagnostics/span.js';
import { nearestName } from '../../diagnostics/suggest.js';
import { GraphBuilder } from '../builder.js';
import type { Dim } from '../dim.js';
import { dimAdd, dimMul, dimSub, shapeToString } from '../dim.js';
import { ShapeError } from '../ops.js';
import type { Attrs, DType, Graph, InitSpec, Value } from '../types.js';
import { DTYPES, isFloat } from '../types.js';
import type { ConfigOverride, ConfigValue } from './config.js';
import { evaluateConfig } from './config.js';
import { Args } from './args.js';
import type { EValue } from './values.js';
import { asDim, kindName } from './values.js';
import { NameScope, snakeCase } from './naming.js';
import { LAYERS, MODULE_APPLY } from './layers.js';
import { FUNCTIONS, NAMED_INITS, NOT_YET } from './functions.js';
import { combineMasks, notMask, evalMaskLambda, NAMED_MASKS } from './masks.js';
import { checkMemoriesUsed, declareMemory } from './memory.js';

export interface ElaborateOptions {
  overrides?: readonly ConfigOverride[];
  /** Name of the model to elaborate when a file has several (only one is allowed for now). */
  model?: string;
}

/** Limits that turn absurd specs into diagnostics instead of out-of-memory crashes. */
export const LIMITS = {
  maxDimension: 2 ** 31 - 1,
  maxParamElements: 2 ** 31 - 1,
  maxTotalParams: 1e12,
  maxRepeat: 4096,
  maxOps: 2_000_000,
  maxCallDepth: 64,
};

export interface ElaborateResult {
  graph: Graph;
  config: ReadonlyMap<string, ConfigValue>;
}

/** Elaborates the file's model into a verified-shape graph; throws PtmError with all diagnostics found. */
export function elaborate(file: SourceFile, options: ElaborateOptions = {}): ElaborateResult {
  if (file.plans.length > 0) throw new PtmError(diag.unsupported(file.plans[0]!.span, 'a `plan` block (compile plans, REFERENCE.md §10)'));
  if (file.models.length === 0) throw new PtmError(diag.no_model(file.span));
  if (file.models.length > 1) throw new PtmError(diag.multiple_models(file.models[1]!.name.span, file.models[1]!.name.name));
  return new Elaborator(file.models[0]!, options).run();
}

const POISON: EValue = { kind: 'string', value: '<error>', span: { file: '', line: 0, col: 0, offset: 0, end: 0 } };

type Scope = Map<string, EValue>;

export class Elaborator {
  readonly b: GraphBuilder;
  readonly errors: Diagnostic[] = [];
  config = new Map<string, ConfigValue>();
  private readonly modelScope: Scope = new Map();
  private readonly blocks = new Map<string, BlockDecl>();
  private readonly callStack: string[] = [];
  private readonly paramValues = new Map<string, Value>();
  private totalParams = 0;
  naming = new NameScope('');

  constructor(private readonly model: ModelDecl, private readonly options: ElaborateOptions) {
    this.b = new GraphBuilder(model.name.name);
  }

  run(): ElaborateResult {
    const m = this.model;
    this.config = evaluateConfig(m.items.filter((i) => i.kind === 'config'), this.options.overrides ?? [], this.errors);
    for (const item of m.items) {
      if (item.kind === 'block') {
        const prev = this.blocks.get(item.name.name);
        if (prev) this.errors.push(diag.duplicate_definition(item.name.span, item.name.name, prev.name.span));
        else this.blocks.set(item.name.name, item);
      }
    }
    if (this.errors.length > 0) throw new PtmError(this.errors);
    let outputs = 0;
    for (const item of m.items) {
      this.guard(() => {
        switch (item.kind) {
          case 'config':
          case 'block':
            return;
          case 'memory':
            this.defineModelName(item.name.name, item.name.span);
            return declareMemory(this, item, (e) => this.declaredDim(e), (e) => this.evalExpr(e, this.modelScope), (name, v) => this.modelScope.set(name, v));
          case 'input':
            return this.declareInput(item);
          case 'assign':
            return this.assign(item.target.name, item.value, this.modelScope, undefined, item.target.span);
          case 'output': {
            outputs++;
            const v = this.evalExpr(item.value, this.modelScope);
            if (v.kind !== 'tensor') throw new PtmError(diag.kind_mismatch(item.value.span, 'a tensor for an output', kindName(v)));
            this.b.output(item.name.name, v.value, item.name.span);
            return;
          }
        }
      }, item.kind === 'assign' ? item.target.name : item.kind === 'input' || item.kind === 'memory' ? item.name.name : undefined);
    }
    if (outputs === 0 && this.errors.length === 0) this.errors.push(diag.no_outputs(m.name.span));
    if (this.errors.length === 0) this.guard(() => checkMemoriesUsed(this));
    if (this.errors.length > 0) throw new PtmError(this.errors);
    return { graph: this.b.finish(), config: this.config };
  }

  /** Runs one statement, recording its diagnostics; a failed assignment poisons its target. */
  private guard(fn: () => void, target?: string, scope: Scope = this.modelScope): void {
    try {
      fn();
    } catch (err) {
      if (!(err instanceof PtmError)) throw err;
      this.errors.push(...err.diagnostics);
      if (target) scope.set(target, POISON);
    }
  }

  // ---- declarations ------------------------------------------------------------------------------

  private declareInput(item: InputDecl): void {
    const dtypeName = item.type.dtype.name;
    if (!(DTYPES as readonly string[]).includes(dtypeName)) {
      throw new PtmError(diag.unknown_name(item.type.dtype.span, dtypeName, nearestName(dtypeName, DTYPES)));
    }
    const shape = item.type.dims.map((e) => this.declaredDim(e));
    this.defineModelName(item.name.name, item.name.span);
    const value = this.b.input(item.name.name, { dtype: dtypeName as DType, shape }, item.name.span);
    this.modelScope.set(item.name.name, { kind: 'tensor', value, span: item.name.span });
  }

  /** A dimension in an input type: an integer expression over config, or a new symbol (§4). */
  private declaredDim(e: Expr): Dim {
    if (e.kind === 'name' && !this.config.has(e.name)) {
      if (this.modelScope.has(e.name) && this.modelScope.get(e.name)!.kind !== 'dim') {
        throw new PtmError(diag.kind_mismatch(e.span, 'a dimension (an integer or a new symbol)', kindName(this.modelScope.get(e.name)!)));
      }
      this.b.symbol(e.name);
      this.modelScope.set(e.name, { kind: 'dim', dim: e.name, span: e.span });
      return e.name;
    }
    const v = this.evalExpr(e, this.modelScope);
    if (v.kind === 'number' && !v.isInteger) throw new PtmError(diag.config_not_integer(e.span, e.kind === 'name' ? e.name : 'this dimension', v.value));
    return this.positiveDim(v, e.span, 'a dimension');
  }

  positiveDim(v: EValue, span: Span, what: string): number {
    if (v.kind === 'number' && !v.isInteger) throw new PtmError(diag.config_not_integer(span, what, v.value));
    const d = asDim(v);
    if (typeof d !== 'number') throw new PtmError(diag.kind_mismatch(span, `an integer for ${what}`, kindName(v)));
    if (d < 1) throw new PtmError(diag.invalid_dimension(span, `${what} must be at least 1, got ${d}`));
    if (d > LIMITS.maxDimension) throw new PtmError(diag.size_limit(span, what, String(d), String(LIMITS.maxDimension)));
    return d;
  }

  private defineModelName(name: string, span: Span): void {
    const prev = this.modelScope.get(name);
    if (prev && prev.kind === 'tensor' && this.b.hasInput(name)) {
      throw new PtmError(diag.duplicate_definition(span, name, prev.span));
    }
  }

  // ---- statements --------------------------------------------------------------------------------

  private assign(target: string, value: Expr, scope: Scope, parent: Scope | undefined, span: Span): void {
    if (this.config.has(target)) throw new PtmError(diag.duplicate_definition(span, target, this.config.get(target)!.span));
    const v = this.evalExpr(value, scope, parent, target);
    scope.set(target, v);
  }

  // ---- parameters and ops (used by layers.ts and functions.ts) -----------------------------------

  /** Creates (or, in a shared repeat, reuses) the parameter `<scope prefix><local>`. */
  param(local: string, shape: number[], init: InitSpec, span: Span, dtype: DType = 'f32'): Value {
    const name = this.naming.prefix + local;
    const existing = this.paramValues.get(name);
    if (existing) {
      if (this.naming.reuse && shapeToString(existing.type.shape) === shapeToString(shape)) return existing;
      throw new PtmError(diag.duplicate_definition(span, `parameter ${name}`, span));
    }
    const count = shape.reduce((a, d) => a * d, 1);
    if (count > LIMITS.maxParamElements) throw new PtmError(diag.size_limit(span, `parameter '${name}' ${shapeToString(shape)}`, `${count} elements`, `${LIMITS.maxParamElements}`));
    this.totalParams += count;
    if (this.totalParams > LIMITS.maxTotalParams) throw new PtmError(diag.size_limit(span, 'the total parameter count', String(this.totalParams), String(LIMITS.maxTotalParams)));
    const value = this.b.param(name, { dtype, shape }, init, span);
    this.paramValues.set(name, value);
    return value;
  }

  /** Runs `fn` with parameter names under `local.` (`attn.` inside `layers.3.`). */
  within<T>(local: string, fn: () => T): T {
    const saved = this.naming;
    this.naming = saved.child(local);
    try {
      return fn();
    } finally {
      this.naming = saved;
    }
  }

  /** Emits an op; a type error becomes a diagnostic at `span` with a note on each tensor operand's origin. */
  emit(op: string, operands: Array<EValue & { kind: 'tensor' }>, attrs: Attrs, span: Span): EValue & { kind: 'tensor' } {
    if (this.b.opCount > LIMITS.maxOps) throw new PtmError(diag.size_limit(span, 'the number of graph ops', '>' + LIMITS.maxOps, String(LIMITS.maxOps)));
    try {
      const value = this.b.op(op, operands.map((o) => o.value), attrs, span);
      return { kind: 'tensor', value, span };
    } catch (err) {
      if (!(err instanceof ShapeError)) throw err;
      const notes: DiagnosticNote[] = operands
        .filter((o) => o.span.line > 0)
        .map((o) => ({ message: `this operand is ${o.value.type.dtype}${shapeToString(o.value.type.shape)}`, span: o.span }));
      throw new PtmError(diag[err.code](span, err.message, notes));
    }
  }

  /** A rank-0 constant of `dtype`. */
  constant(value: number, dtype: DType, span: Span): EValue & { kind: 'tensor' } {
    return this.emit('constant', [], { value, dtype }, span);
  }

  /** A tensor from a tensor or, for scalars, a constant matching `like`'s dtype. */
  toTensor(v: EValue, like: DType | undefined, span: Span): EValue & { kind: 'tensor' } {
    if (v.kind === 'tensor') return v;
    if (v.kind === 'number') {
      const dtype = like ?? (v.isInteger ? 'i32' : 'f32');
      if (!isFloat(dtype) && !v.isInteger) throw new PtmError(diag.dtype_mismatch(span, `the number ${v.value} cannot be mixed with an ${dtype} tensor; use cast(x, f32)`));
      return this.constant(v.value, dtype, v.span);
    }
    if (v.kind === 'bool') return this.constant(v.value ? 1 : 0, 'bool', v.span);
    if (v.kind === 'dim') {
      if (typeof v.dim === 'number') return this.constant(v.dim, like ?? 'i32', v.span);
      // A symbolic size as a value: the length of an iota over it.
      const len = this.emit('iota', [], { length: v.dim, dtype: like ?? 'i32' }, v.span);
      const one = this.emit('slice', [len], { axis: 0, start: dimSub(v.dim, 1), end: v.dim, step: 1 }, v.span);
      const last = this.emit('reshape', [one], { shape: [] }, v.span);
      return this.emit('add', [last, this.constant(1, like ?? 'i32', v.span)], {}, v.span);
    }
    throw new PtmError(diag.kind_mismatch(span, 'a tensor or a number', kindName(v)));
  }

  // ---- expressions -------------------------------------------------------------------------------

  /** Looks a name up: local scope, then the model scope, config, blocks, then built-ins. */
  lookup(name: string, span: Span, scope: Scope, parent?: Scope): EValue {
    const local = scope.get(name) ?? parent?.get(name) ?? (scope !== this.modelScope ? this.modelScope.get(name) : undefined);
    if (local === POISON) throw new PtmError([]);
    if (local) return { ...local, span: local.kind === 'tensor' ? local.span : span } as EValue;
    const c = this.config.get(name);
    if (c) return { kind: 'number', value: c.value, isInteger: c.isInteger, span };
    if (this.blocks.has(name)) return { kind: 'block', name, span };
    if (name in LAYERS || name in FUNCTIONS) return { kind: 'function', name, span };
    if (name in NAMED_MASKS) return NAMED_MASKS[name]!(span);
    if (name in NAMED_INITS) return NAMED_INITS[name]!(span);
    if ((DTYPES as readonly string[]).includes(name)) return { kind: 'dtype', dtype: name as DType, span };
    if (name in NOT_YET) throw new PtmError(diag.unsupported(span, `${NOT_YET[name]} (\`${name}\`, REFERENCE.md §9)`));
    const known = [...scope.keys(), ...(parent?.keys() ?? []), ...this.modelScope.keys(), ...this.config.keys(), ...this.blocks.keys(), ...Object.keys(LAYERS), ...Object.keys(FUNCTIONS), ...Object.keys(NAMED_MASKS), ...Object.keys(NAMED_INITS)];
    throw new PtmError(diag.unknown_name(span, name, nearestName(name, known)));
  }

  /**
   * Evaluates an expression. `nameHint` is the assignment target, used to name a module declared
   * by that assignment (`tok = Embedding(vocab, d)` -> `tok.weight`).
   */
  evalExpr(e: Expr, scope: Scope, parent?: Scope, nameHint?: string): EValue {
    switch (e.kind) {
      case 'number':
        return { kind: 'number', value: e.value, isInteger: e.isInteger, span: e.span };
      case 'string':
        return { kind: 'string', value: e.value, span: e.span };
      case 'bool':
        return { kind: 'bool', value: e.value, span: e.span };
      case 'name':
        return this.lookup(e.name, e.span, scope, parent);
      case 'list':
        return { kind: 'list', items: e.items.map((i) => this.evalExpr(i, scope, parent)), span: e.span };
      case 'unary':
        return this.unary(e.op, this.evalExpr(e.operand, scope, parent), e.span);
      case 'binary':
        return this.binary(e.op, this.evalExpr(e.left, scope, parent), this.evalExpr(e.right, scope, parent), e.span);
      case 'transpose': {
        const x = this.evalExpr(e.operand, scope, parent);
        if (x.kind !== 'tensor' || x.value.type.shape.length < 2) throw new PtmError(diag.kind_mismatch(e.span, 'a tensor of rank 2 or more before ^T', kindName(x)));
        const rank = x.value.type.shape.length;
        const perm = [...Array(rank).keys()];
        [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1]!, perm[rank - 2]!];
        return this.emit('transpose', [x], { perm }, e.span);
      }
      case 'member': {
        const obj = this.evalExpr(e.object, scope, parent);
        if (obj.kind !== 'module') throw new PtmError(diag.kind_mismatch(e.object.span, `a layer with parameters before '.${e.member.name}'`, kindName(obj)));
        const p = obj.params[e.member.name];
        if (!p) throw new PtmError(diag.unknown_name(e.member.span, `${obj.name}.${e.member.name}`, nearestName(e.member.name, Object.keys(obj.params))));
        return { kind: 'tensor', value: p, span: e.span };
      }
      case 'index':
        return this.index(this.evalExpr(e.object, scope, parent), e.items, e.span, scope, parent);
      case 'call':
        return this.call(e, scope, parent, nameHint);
      case 'repeat':
        return this.repeat(e, scope, parent);
      case 'mask_lambda':
        return evalMaskLambda(this, e, (x) => this.evalExpr(x, scope, parent));
    }
  }

  private unary(op: '-' | '!', v: EValue, span: Span): EValue {
    if (op === '-') {
      if (v.kind === 'number') return { ...v, value: -v.value, span };
      if (v.kind === 'dim') return { kind: 'dim', dim: dimMul(v.dim, -1), span };
      if (v.kind === 'tensor') return this.emit('neg', [v], {}, span);
    } else {
      if (v.kind === 'mask') return notMask(v, span);
      if (v.kind === 'bool') return { ...v, value: !v.value, span };
      if (v.kind === 'tensor') return this.emit('not', [v], {}, span);
    }
    throw new PtmError(diag.kind_mismatch(span, op === '-' ? 'a number or tensor after -' : 'a mask or bool tensor after !', kindName(v)));
  }

  private binary(op: string, l: EValue, r: EValue, span: Span): EValue {
    // Masks combine with & | (§7.3).
    if (l.kind === 'mask' || r.kind === 'mask') {
      if ((op === '&' || op === '|') && l.kind === 'mask' && r.kind === 'mask') return combineMasks(op, l, r, span);
      throw new PtmError(diag.kind_mismatch(span, `two masks around '${op}' (masks combine with & and |)`, `${kindName(l)} and ${kindName(r)}`));
    }
    // Compile-time integers and numbers (§6.2).
    const ld = asDim(l), rd = asDim(r);
    if (ld !== undefined && rd !== undefined && (typeof ld === 'string' || typeof rd === 'string')) {
      if (op === '+') return { kind: 'dim', dim: dimAdd(ld, rd), span };
      if (op === '-') return { kind: 'dim', dim: dimSub(ld, rd), span };
      if (op === '*') return { kind: 'dim', dim: dimMul(ld, rd), span };
    }
    if (l.kind === 'number' && r.kind === 'number') {
      const value = numeric(op, l.value, r.value, span);
      const isInteger = l.isInteger && r.isInteger && Number.isInteger(value);
      return { kind: 'number', value, isInteger, span };
    }
    // Tensor arithmetic with NumPy broadcasting; scalars take the tensor's dtype.
    if (l.kind === 'tensor' || r.kind === 'tensor') {
      const like = l.kind === 'tensor' ? l.value.type.dtype : (r as EValue & { kind: 'tensor' }).value.type.dtype;
      const lt = this.toTensor(l, like, span), rt = this.toTensor(r, like, span);
      const name = TENSOR_BINARY[op];
      if (!name) throw new PtmError(diag.kind_mismatch(span, `an operator that applies to tensors`, `'${op}'`));
      return this.emit(name, [lt, rt], {}, span);
    }
    throw new PtmError(diag.kind_mismatch(span, `numbers or tensors around '${op}'`, `${kindName(l)} and ${kindName(r)}`));
  }

  // ---- calls ---------------------------------------------------------------------------------------

  bindArgs(callee: string, e: { args: import('../../parser/ast.js').Arg[]; span: Span }, scope: Scope, parent?: Scope, extra?: Scope): Args {
    const positional: { value: EValue; span: Span }[] = [];
    const named = new Map<string, { value: EValue; span: Span; nameSpan: Span }>();
    for (const a of e.args) {
      const value = this.evalExpr(a.value, extra ?? scope, extra ? scope : parent);
      if (a.name) {
        if (named.has(a.name.name)) throw new PtmError(diag.duplicate_argument(a.name.span, a.name.name));
        named.set(a.name.name, { value, span: a.value.span, nameSpan: a.name.span });
      } else positional.push({ value, span: a.value.span });
    }
    return new Args(callee, e.span, positional, named);
  }

  private call(e: Expr & { kind: 'call' }, scope: Scope, parent: Scope | undefined, nameHint?: string): EValue {
    const callee = this.evalExpr(e.callee, scope, parent);
    switch (callee.kind) {
      case 'function': {
        const args = this.bindArgs(callee.name, e, scope, parent);
        const layer = LAYERS[callee.name];
        if (layer) return layer(this, args, nameHint);
        return FUNCTIONS[callee.name]!(this, args);
      }
      case 'module': {
        const args = this.bindArgs(callee.name, e, scope, parent);
        return applyModule(this, callee, args);
      }
      case 'block':
        return this.callBlock(callee.name, this.bindArgs(callee.name, e, scope, parent), e.span, this.naming.fresh(snakeCase(callee.name)));
      case 'mask':
        throw new PtmError(diag.not_callable(e.callee.span, `the mask (named masks with arguments are written padding(valid), prefix(n))`));
      default:
        throw new PtmError(diag.not_callable(e.callee.span, kindName(callee)));
    }
  }

  /** Runs a block body with its parameters bound, under the naming scope `local` (§5.2). */
  callBlock(name: string, args: Args, span: Span, local: string | NameScope): EValue {
    const block = this.blocks.get(name)!;
    if (this.callStack.includes(name)) throw new PtmError(diag.recursive_block(span, name));
    if (this.callStack.length >= LIMITS.maxCallDepth) throw new PtmError(diag.size_limit(span, 'block call depth', String(this.callStack.length), String(LIMITS.maxCallDepth)));
    const locals: Scope = new Map();
    block.params.forEach((p, i) => {
      const a = args.get(i, p.name.name);
      if (a) locals.set(p.name.name, a.value);
      else if (p.default) locals.set(p.name.name, this.evalExpr(p.default, this.modelScope));
      else throw new PtmError(diag.missing_argument(span, name, p.name.name));
    });
    args.done(block.params.map((p) => p.name.name));
    const saved = this.naming;
    this.naming = typeof local === 'string' ? saved.child(local) : local;
    this.callStack.push(name);
    try {
      return this.runBody(block, locals);
    } finally {
      this.callStack.pop();
      this.naming = saved;
    }
  }

  private runBody(block: BlockDecl, locals: Scope): EValue {
    const failures: Diagnostic[] = [];
    for (const stmt of block.body as Stmt[]) {
      if (stmt.kind === 'return') {
        if (failures.length) throw new PtmError(failures);
        return this.evalExpr(stmt.value, locals);
      }
      try {
        this.assign(stmt.target.name, stmt.value, locals, undefined, stmt.target.span);
      } catch (err) {
        if (!(err instanceof PtmError)) throw err;
        failures.push(...err.diagnostics);
        locals.set(stmt.target.name, POISON);
      }
    }
    if (failures.length) throw new PtmError(failures);
    throw new PtmError(diag.no_return(block.name.span, block.name.name));
  }

  /** `repeat(n) [shared] [as i] Block(x, ...)`: n copies, the first argument fed through (§5.3). */
  private repeat(e: RepeatExpr, scope: Scope, parent?: Scope): EValue {
    const countValue = this.evalExpr(e.count, scope, parent);
    if (countValue.kind === 'number' && !countValue.isInteger) throw new PtmError(diag.config_not_integer(e.count.span, 'the repeat count', countValue.value));
    const count = asDim(countValue);
    if (typeof count !== 'number') throw new PtmError(diag.kind_mismatch(e.count.span, 'an integer repeat count', kindName(countValue)));
    if (count < 1) throw new PtmError(diag.invalid_dimension(e.count.span, `the repeat count must be at least 1, got ${count}`));
    if (count > LIMITS.maxRepeat) throw new PtmError(diag.size_limit(e.count.span, 'the repeat count', String(count), String(LIMITS.maxRepeat)));
    if (!this.blocks.has(e.block.name)) {
      const known = [...this.blocks.keys()];
      throw new PtmError(diag.unknown_name(e.block.span, e.block.name, nearestName(e.block.name, known)));
    }
    if (e.args.length === 0 || e.args[0]!.name) throw new PtmError(diag.missing_argument(e.span, e.block.name, 'the value fed through the repeat (first positional argument)'));
    const prefix = e.count.kind === 'name' ? this.naming.fresh(e.count.name) : this.naming.fresh('repeat');
    // Arguments are evaluated once (§5.3): the first is fed through, the others are the same for every
    // copy, unless `as i` makes them depend on the copy (then they are evaluated per copy, with i bound).
    let carried: EValue | undefined;
    let first: Args | undefined;
    for (let i = 0; i < count; i++) {
      let args: Args;
      if (i === 0 || e.indexName) {
        const extra: Scope = new Map(scope);
        if (e.indexName) extra.set(e.indexName.name, { kind: 'number', value: i, isInteger: true, span: e.indexName.span });
        args = this.bindArgs(e.block.name, i === 0 ? e : { ...e, args: e.args.slice(1) }, scope, parent, extra);
        if (i === 0) first = args;
        else args = new Args(e.block.name, e.span, [{ value: carried!, span: carried!.span }, ...args.positional], args.named);
      } else {
        args = new Args(e.block.name, e.span, [{ value: carried!, span: carried!.span }, ...first!.positional.slice(1)], first!.named);
      }
      const naming = e.shared ? new NameScope(`${this.naming.prefix}${prefix}.`, i > 0) : new NameScope(`${this.naming.prefix}${prefix}.${i}.`);
      carried = this.callBlock(e.block.name, args, e.span, naming);
    }
    return carried!;
  }

  // ---- indexing and slicing (§6.6) -----------------------------------------------------------------

  private index(x: EValue, items: IndexItem[], span: Span, scope: Scope, parent?: Scope): EValue {
    if (x.kind === 'list') {
      if (items.length !== 1 || items[0]!.kind !== 'at') throw new PtmError(diag.kind_mismatch(span, 'a single index into a list', 'a slice'));
      const i = asDim(this.evalExpr(items[0]!.index, scope, parent));
      const item = typeof i === 'number' ? x.items[i < 0 ? i + x.items.length : i] : undefined;
      if (!item) throw new PtmError(diag.invalid_dimension(span, `index ${i} is out of range for a list of ${x.items.length}`));
      return item;
    }
    if (x.kind !== 'tensor') throw new PtmError(diag.kind_mismatch(span, 'a tensor to index', kindName(x)));
    const shape = x.value.type.shape;
    const ellipses = items.filter((i) => i.kind === 'ellipsis').length;
    if (ellipses > 1) throw new PtmError(diag.syntax_error(span, 'only one `...` is allowed in an index'));
    const explicit = items.length - ellipses;
    if (explicit > shape.length) throw new PtmError(diag.rank_mismatch(span, `${explicit} indices for a tensor of rank ${shape.length} ${shapeToString(shape)}`, [{ message: 'the tensor comes from here', span: x.span }]));
    const expanded: (IndexItem | undefined)[] = [];
    for (const item of items) {
      if (item.kind === 'ellipsis') for (let k = 0; k < shape.length - explicit; k++) expanded.push(undefined);
      else expanded.push(item);
    }
    while (expanded.length < shape.length) expanded.push(undefined);
    let cur = x as EValue & { kind: 'tensor' };
    const dropped: number[] = [];
    expanded.forEach((item, axis) => {
      if (!item) return;
      const size = shape[axis]!;
      const bound = (e: Expr | undefined, fallback: Dim): Dim => {
        if (!e) return fallback;
        const v = this.evalExpr(e, scope, parent);
        const d = asDim(v);
        if (d === undefined) throw new PtmError(diag.kind_mismatch(e.span, 'an integer index', kindName(v)));
        return normalizeIndex(d, size, e.span);
      };
      if (item.kind === 'at') {
        const start = bound(item.index, 0);
        cur = this.emit('slice', [cur], { axis, start, end: dimAdd(start, 1), step: 1 }, item.span);
        dropped.push(axis);
      } else if (item.kind === 'slice') {
        const start = bound(item.start, 0), end = bound(item.end, size);
        let step = 1;
        if (item.step) {
          const s = asDim(this.evalExpr(item.step, scope, parent));
          if (typeof s !== 'number' || s < 1) throw new PtmError(diag.invalid_dimension(item.step.span, 'a slice step must be a positive integer'));
          step = s;
        }
        if (!(start === 0 && end === size && step === 1)) cur = this.emit('slice', [cur], { axis, start, end, step }, item.span);
      }
    });
    if (dropped.length) cur = this.emit('reshape', [cur], { shape: cur.value.type.shape.filter((_, i) => !dropped.includes(i)) }, span);
    return { ...cur, span };
  }
}

/** Python-style index normalisation: negative counts from the end; concrete bounds are clamped. */
function normalizeIndex(i: Dim, size: Dim, span: Span): Dim {
  if (typeof i === 'number' && i < 0) {
    if (typeof size === 'number') {
      if (i + size < 0) throw new PtmError(diag.invalid_dimension(span, `index ${i} is out of range for an axis of size ${size}`));
      return i + size;
    }
    return dimAdd(size, i);
  }
  if (typeof i === 'number' && typeof size === 'number' && i > size) throw new PtmError(diag.invalid_dimension(span, `index ${i} is out of range for an axis of size ${size}`));
  return i;
}

function numeric(op: string, a: number, b: number, span: Span): number {
  let v: number;
  switch (op) {
    case '+': v = a + b; break;
    case '-': v = a - b; break;
    case '*': v = a * b; break;
    case '/': if (b === 0) throw new PtmError(diag.division_by_zero(span)); v = a / b; break;
    case '%': if (b === 0) throw new PtmError(diag.division_by_zero(span)); v = a % b; break;
    case '**': v = a ** b; break;
    default: throw new PtmError(diag.kind_mismatch(span, `tensors or masks around '${op}'`, 'numbers'));
  }
  if (!Number.isFinite(v)) throw new PtmError(diag.number_out_of_range(span, String(v)));
  return v;
}

const TENSOR_BINARY: Record<string, string> = {
  '+': 'add', '-': 'sub', '*': 'mul', '/': 'div', '**': 'pow', '@': 'matmul',
  '<': 'lt', '<=': 'le', '>': 'gt', '>=': 'ge', '==': 'eq', '!=': 'ne', '&': 'and', '|': 'or',
};

/** Calling a declared module: `tok(ids)`, `proj(x)`, `ln(x)`. */
function applyModule(el: Elaborator, m: EValue & { kind: 'module' }, args: Args): EValue {
  const apply = MODULE_APPLY[m.layer];
  if (!apply) throw new PtmError(diag.not_callable(args.span, kindName(m)));
  return apply(el, m, args);
}
