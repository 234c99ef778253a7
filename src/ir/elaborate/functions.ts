// Built-in functions (REFERENCE.md §8.5–§8.7): activations, softmax, arange, reshape, transpose,
// concat, reductions, cast; the masks of masks.ts, the positions of positions.ts and the
// initializers of Parameter. Names the language reserves for later are NOT_YET (§9).
import { PtmError } from '../../diagnostics/diagnostic.js';
import { diag } from '../../diagnostics/catalogue.js';
import type { Span } from '../../diagnostics/span.js';
import type { Dim } from '../dim.js';
import { dimDivExact, dimProduct, shapeToString } from '../dim.js';
import { normalizeAxis, ShapeError } from '../ops.js';
import type { Args } from './args.js';
import type { Elaborator } from './elaborate.js';
import type { EValue, InitValue } from './values.js';
import { asDim, kindName } from './values.js';
import { MASK_FUNCTIONS } from './masks.js';
import { rotary, sinusoidal } from './positions.js';
import { moeAuxLoss } from './moe.js';
import { elu_plus_one, favor } from './linear-attention.js';

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
  ...MASK_FUNCTIONS,
  sinusoidal,
  rotary,
  moe_aux_loss: moeAuxLoss,
  elu_plus_one,
  favor,
  normal: (_el, args) => {
    const stdArg = args.require(0, 'std');
    args.done(['std']);
    if (stdArg.value.kind !== 'number' || !(stdArg.value.value > 0)) {
      throw new PtmError(diag.kind_mismatch(stdArg.span, 'a positive standard deviation for normal(std)', kindName(stdArg.value)));
    }
    return initValue({ kind: 'normal', std: stdArg.value.value }, args.span);
  },
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
};

function initValue(init: InitValue['init'], span: Span): InitValue {
  return { kind: 'init', init, span };
}

/** Initializers without arguments, for `Parameter(shape, init: zeros)` (§8.7); `normal(std)` is a function. */
export const NAMED_INITS: Record<string, (span: Span) => InitValue> = {
  zeros: (span) => initValue({ kind: 'zeros' }, span),
  ones: (span) => initValue({ kind: 'ones' }, span),
};

/** Constructs of DSL.md that the language reserves but does not support yet (REFERENCE.md §9). */
export const NOT_YET: Record<string, string> = {
};

/** Attention arguments of DSL.md that are reserved for later. */
export const ATTENTION_NOT_YET: Record<string, string> = {
};
