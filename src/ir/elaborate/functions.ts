// Built-in functions (REFERENCE.md §8.5–§8.6) and masks (§7.2–§7.3): activations, softmax,
// arange, reshape, transpose, concat, reductions, cast; full, causal, padding, prefix, custom.
import { PtmError } from '../../diagnostics/diagnostic.js';
import { diag } from '../../diagnostics/catalogue.js';
import type { Span } from '../../diagnostics/span.js';
import type { Expr, MaskLambdaExpr } from '../../parser/ast.js';
import type { Dim } from '../dim.js';
import { dimDivExact, dimProduct, shapeToString } from '../dim.js';
import type { MaskBinaryOp, MaskExpr, MaskVar } from '../mask.js';
import { maskAnd, maskBin, maskConst, maskNot, maskOr, maskRead, maskTrue, maskVar, MASK_VARS } from '../mask.js';
import { normalizeAxis, ShapeError } from '../ops.js';
import type { Value } from '../types.js';
import type { Args } from './args.js';
import type { Elaborator } from './elaborate.js';
import type { EValue, MaskValue } from './values.js';
import { asDim, kindName } from './values.js';

type Tensor = EValue & { kind: 'tensor' };
export type FunctionFn = (el: Elaborator, args: Args) => EValue;

/** Activation names usable as functions and as `act:` of FFN, and the graph op each becomes. */
export const ACTIVATIONS: Record<string, string> = {
  gelu: 'gelu', gelu_tanh: 'gelu_tanh', relu: 'relu', silu: 'silu', tanh: 'tanh', sigmoid: 'sigmoid',
};

const unary = (op: string): FunctionFn => (el, args) => {
  const x = args.tensor(0, 'x');
  args.done(['x']);
  return el.emit(op, [x], {}, args.span);
};

function axisArg(args: Args, x: Tensor, fallback?: number): number {
  const axis = args.int(undefined, 'axis', fallback);
  try {
    return normalizeAxis(axis, x.value.type.shape.length);
  } catch (e) {
    if (e instanceof ShapeError) throw new PtmError(diag.rank_mismatch(args.span, e.message));
    throw e;
  }
}

const reduce = (op: string): FunctionFn => (el, args) => {
  const x = args.tensor(0, 'x');
  const axis = axisArg(args, x, -1);
  const keepdims = args.bool(undefined, 'keepdims', false);
  args.done(['x']);
  return el.emit(op, [x], { axes: [axis], keepdims }, args.span);
};

export const FUNCTIONS: Record<string, FunctionFn> = {
  ...Object.fromEntries(Object.entries(ACTIVATIONS).map(([name, op]) => [name, unary(op)])),
  exp: unary('exp'),
  log: unary('log'),
  sqrt: unary('sqrt'),
  softmax: (el, args) => {
    const x = args.tensor(0, 'x');
    const axis = axisArg(args, x, -1);
    args.done(['x']);
    return el.emit('softmax', [x], { axis }, args.span);
  },
  mean: reduce('reduce_mean'),
  sum: reduce('reduce_sum'),
  max: reduce('reduce_max'),
  /** arange(n): i32[n] = 0, 1, ..., n-1; n may be a symbol such as `seq`. */
  arange: (el, args) => {
    const n = args.require(0, 'n');
    const length = asDim(n.value);
    if (length === undefined) throw new PtmError(diag.kind_mismatch(n.span, 'an integer length for arange', kindName(n.value)));
    if (typeof length === 'number' && length < 1) throw new PtmError(diag.invalid_dimension(n.span, `arange needs a length of at least 1, got ${length}`));
    args.done(['n']);
    return el.emit('iota', [], { length, dtype: 'i32' }, args.span);
  },
  /** reshape(x, [d0, d1, ...]) with at most one -1 inferred from the element count. */
  reshape: (el, args) => {
    const x = args.tensor(0, 'x');
    const shapeArg = args.require(1, 'shape');
    args.done(['x', 'shape']);
    if (shapeArg.value.kind !== 'list') throw new PtmError(diag.kind_mismatch(shapeArg.span, 'a list of dimensions like [batch, seq, 12, 64]', kindName(shapeArg.value)));
    const dims: (Dim | undefined)[] = shapeArg.value.items.map((item) => {
      const d = asDim(item);
      if (d === undefined) throw new PtmError(diag.kind_mismatch(item.span, 'an integer dimension', kindName(item)));
      if (d === -1) return undefined;
      if (typeof d === 'number' && d < 1) throw new PtmError(diag.invalid_dimension(item.span, `a dimension must be at least 1 (or -1 to infer it), got ${d}`));
      return d;
    });
    const holes = dims.filter((d) => d === undefined).length;
    if (holes > 1) throw new PtmError(diag.invalid_dimension(shapeArg.span, 'at most one dimension can be -1'));
    if (holes === 1) {
      const known = dimProduct(dims.filter((d): d is Dim => d !== undefined));
      const inferred = dimDivExact(dimProduct(x.value.type.shape), known);
      if (inferred === undefined) throw new PtmError(diag.shape_mismatch(shapeArg.span, `cannot infer -1: ${shapeToString(x.value.type.shape)} does not divide by ${known}`, [{ message: 'the tensor comes from here', span: x.span }]));
      dims[dims.indexOf(undefined)] = inferred;
    }
    return el.emit('reshape', [x], { shape: dims as Dim[] }, args.span);
  },
  /** transpose(x, a, b): swaps two axes. */
  transpose: (el, args) => {
    const x = args.tensor(0, 'x');
    const rank = x.value.type.shape.length;
    const a = args.int(1, 'a'), b = args.int(2, 'b');
    args.done(['x', 'a', 'b']);
    let na: number, nb: number;
    try {
      na = normalizeAxis(a, rank);
      nb = normalizeAxis(b, rank);
    } catch (e) {
      if (e instanceof ShapeError) throw new PtmError(diag.rank_mismatch(args.span, e.message));
      throw e;
    }
    const perm = [...Array(rank).keys()];
    [perm[na], perm[nb]] = [perm[nb]!, perm[na]!];
    return el.emit('transpose', [x], { perm }, args.span);
  },
  /** concat([a, b, ...], axis: k). */
  concat: (el, args) => {
    const list = args.require(0, 'tensors');
    if (list.value.kind !== 'list' || list.value.items.length === 0) throw new PtmError(diag.kind_mismatch(list.span, 'a non-empty list of tensors', kindName(list.value)));
    const items = list.value.items.map((item) => {
      if (item.kind !== 'tensor') throw new PtmError(diag.kind_mismatch(item.span, 'a tensor', kindName(item)));
      return item;
    });
    const axis = axisArg(args, items[0]!, -1);
    args.done(['tensors']);
    return el.emit('concat', items, { axis }, args.span);
  },
  /** cast(x, f32) */
  cast: (el, args) => {
    const x = args.tensor(0, 'x');
    const to = args.require(1, 'dtype');
    args.done(['x', 'dtype']);
    if (to.value.kind !== 'dtype') throw new PtmError(diag.kind_mismatch(to.span, 'a dtype (f32, f16, bf16, f64, i32, i64, bool)', kindName(to.value)));
    return el.emit('cast', [x], { to: to.value.dtype }, args.span);
  },
  /** padding(valid): key k of batch b is visible when valid[b, k] (§7.2). */
  padding: (_el, args) => {
    const valid = args.tensor(0, 'valid');
    const at = args.require(0, 'valid').span;
    args.done(['valid']);
    if (valid.value.type.shape.length !== 2) throw new PtmError(diag.invalid_mask(at, `padding(valid) needs valid as [batch, seq], got ${shapeToString(valid.value.type.shape)}`));
    return maskValue(truthy(maskRead(0, [maskVar('b'), maskVar('k')]), valid.value), [valid.value], args.span);
  },
  /** prefix(n): keys before n[b] are visible to all; the rest causally (§7.2). */
  prefix: (_el, args) => {
    const n = args.require(0, 'n');
    args.done(['n']);
    const causal = maskBin('<=', maskVar('k'), maskVar('q'));
    if (n.value.kind === 'tensor') {
      const t = n.value.value;
      if (t.type.shape.length !== 1 || (t.type.dtype !== 'i32' && t.type.dtype !== 'i64')) {
        throw new PtmError(diag.invalid_mask(n.span, `prefix(n) needs n as an integer [batch] tensor or an integer, got ${t.type.dtype}${shapeToString(t.type.shape)}`));
      }
      return maskValue(maskOr(maskBin('<', maskVar('k'), maskRead(0, [maskVar('b')])), causal), [t], args.span);
    }
    const len = asDim(n.value);
    if (typeof len !== 'number') throw new PtmError(diag.invalid_mask(n.span, `prefix(n) needs an integer or an integer tensor, got ${kindName(n.value)}`));
    return maskValue(maskOr(maskBin('<', maskVar('k'), maskConst(len)), causal), [], args.span);
  },
};

function maskValue(expr: MaskExpr, tensors: Value[], span: Span): MaskValue {
  return { kind: 'mask', expr, tensors, span };
}

/** A read used as a condition: bool tensors as they are, numbers compared with 0. */
function truthy(read: MaskExpr, t: Value): MaskExpr {
  return t.type.dtype === 'bool' ? read : maskBin('!=', read, maskConst(0));
}

/** Constructs of DSL.md that the language reserves but does not support yet (REFERENCE.md §9). */
export const NOT_YET: Record<string, string> = {
  sinusoidal: 'sinusoidal positions', rotary: 'rotary positions', t5_bias: "T5's relative position bias",
  xl_relative: "Transformer-XL's relative positions", MoE: 'mixture-of-experts layers (MoE)',
  window: 'the window(w) mask', global: 'the global(is_global) mask', strided: 'the strided(s) mask',
  random_blocks: 'the random_blocks mask', same_segment: 'the same_segment(seg) mask',
  elu_plus_one: 'linear attention kernels', favor: 'linear attention kernels (FAVOR+)',
};

/** Attention arguments of DSL.md that are reserved for later. */
export const ATTENTION_NOT_YET: Record<string, string> = {
  memory: 'attention over segment memory (memory:)', kernel: 'linear attention kernels (kernel:)',
  project_kv: 'low-rank key/value projection (project_kv:)', position: 'position terms in attention (position:)',
};

/** Masks that take no arguments. */
export const NAMED_MASKS: Record<string, (span: Span) => MaskValue> = {
  full: (span) => maskValue(maskTrue, [], span),
  causal: (span) => maskValue(maskBin('<=', maskVar('k'), maskVar('q')), [], span),
};

/** `a & b`, `a | b`: tensor lists are concatenated and b's reads shifted past a's. */
export function combineMasks(op: '&' | '|', a: MaskValue, b: MaskValue, span: Span): MaskValue {
  const shifted = shiftReads(b.expr, a.tensors.length);
  return maskValue(op === '&' ? maskAnd(a.expr, shifted) : maskOr(a.expr, shifted), [...a.tensors, ...b.tensors], span);
}

export function notMask(a: MaskValue, span: Span): MaskValue {
  return maskValue(maskNot(a.expr), a.tensors, span);
}

function shiftReads(e: MaskExpr, by: number): MaskExpr {
  switch (e.kind) {
    case 'read': return { kind: 'read', operand: e.operand + by, indices: e.indices.map((i) => shiftReads(i, by)) };
    case 'binary': return { ...e, left: shiftReads(e.left, by), right: shiftReads(e.right, by) };
    case 'not': return { kind: 'not', operand: shiftReads(e.operand, by) };
    default: return e;
  }
}

const MASK_OPS = new Set(['+', '-', '*', '/', '%', '<', '<=', '>', '>=', '==', '!=', '&', '|']);
const COMPARISONS = new Set(['<', '<=', '>', '>=', '==', '!=']);

/**
 * `mask (b, h, q, k) => body` (§7.3): the four parameters name the batch, head, query and key
 * indices; the body is integer arithmetic, comparisons, & | ! and reads of integer/bool tensors.
 */
export function evalMaskLambda(el: Elaborator, e: MaskLambdaExpr, evalOuter: (x: Expr) => EValue): MaskValue {
  if (e.params.length !== 4) {
    throw new PtmError(diag.invalid_mask(e.span, `a mask takes the four indices (b, h, q, k), got ${e.params.length} parameter(s)`));
  }
  const vars = new Map<string, MaskVar>(e.params.map((p, i) => [p.name, MASK_VARS[i]!]));
  const tensors: Value[] = [];
  type Typed = { expr: MaskExpr; bool: boolean };
  const walk = (x: Expr): Typed => {
    switch (x.kind) {
      case 'name': {
        const v = vars.get(x.name);
        if (v) return { expr: maskVar(v), bool: false };
        return scalar(evalOuter(x), x.span);
      }
      case 'number':
      case 'bool':
        return scalar(evalOuter(x), x.span);
      case 'unary': {
        const o = walk(x.operand);
        if (x.op === '!') return { expr: maskNot(needBool(o, x.operand.span)), bool: true };
        return { expr: maskBin('-', maskConst(0), needInt(o, x.operand.span)), bool: false };
      }
      case 'binary': {
        if (!MASK_OPS.has(x.op)) throw new PtmError(diag.invalid_mask(x.span, `'${x.op}' cannot be used in a mask`));
        const l = walk(x.left), r = walk(x.right);
        const op = x.op as MaskBinaryOp;
        if (op === '&' || op === '|') return { expr: maskBin(op, needBool(l, x.left.span), needBool(r, x.right.span)), bool: true };
        if (COMPARISONS.has(op)) return { expr: maskBin(op, needInt(l, x.left.span), needInt(r, x.right.span)), bool: true };
        return { expr: maskBin(op, needInt(l, x.left.span), needInt(r, x.right.span)), bool: false };
      }
      case 'index': {
        const t = evalOuter(x.object);
        if (t.kind !== 'tensor') throw new PtmError(diag.invalid_mask(x.object.span, `a mask can index input tensors only, not ${kindName(t)}`));
        const dtype = t.value.type.dtype;
        if (dtype !== 'bool' && dtype !== 'i32' && dtype !== 'i64') throw new PtmError(diag.invalid_mask(x.object.span, `a mask can read integer or bool tensors, not ${dtype}`));
        if (x.items.length !== t.value.type.shape.length) throw new PtmError(diag.invalid_mask(x.span, `${x.items.length} indices for a tensor of shape ${shapeToString(t.value.type.shape)}`));
        const indices = x.items.map((item) => {
          if (item.kind !== 'at') throw new PtmError(diag.invalid_mask(item.span, 'a mask reads single elements; slices are not allowed here'));
          return needInt(walk(item.index), item.span);
        });
        let operand = tensors.findIndex((v) => v.id === t.value.id);
        if (operand < 0) operand = tensors.push(t.value) - 1;
        return { expr: maskRead(operand, indices), bool: dtype === 'bool' };
      }
      default:
        throw new PtmError(diag.invalid_mask(x.span, `a mask body is made of the indices, integers, comparisons, & | ! and tensor reads; found ${x.kind === 'call' ? 'a call' : 'a ' + x.kind}`));
    }
  };
  const scalar = (v: EValue, span: Span): Typed => {
    if (v.kind === 'bool') return { expr: { kind: 'const', value: v.value ? 1 : 0, bool: true }, bool: true };
    const d = asDim(v);
    if (typeof d === 'number') return { expr: maskConst(d), bool: false };
    throw new PtmError(diag.invalid_mask(span, `a mask can use integers, not ${kindName(v)}`));
  };
  const needBool = (t: Typed, span: Span): MaskExpr => {
    if (!t.bool) throw new PtmError(diag.invalid_mask(span, 'expected a condition (true or false) here, found an integer'));
    return t.expr;
  };
  const needInt = (t: Typed, span: Span): MaskExpr => {
    if (t.bool) throw new PtmError(diag.invalid_mask(span, 'expected an integer here, found a condition'));
    return t.expr;
  };
  const body = walk(e.body);
  void el;
  return maskValue(needBool(body, e.body.span), tensors, e.span);
}
