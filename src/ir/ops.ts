// The op set of the graph IR, one registry entry per op: arity, attributes and type inference.
// The verifier, the textual reader, elaboration and every backend key off this table.
import type { Dim } from './dim.js';
import { dimAdd, dimEq, dimProduct, dimSub, dimDivExact, shapeToString } from './dim.js';
import type { Attrs, DType, TensorType } from './types.js';
import { DTYPES, isFloat } from './types.js';
import type { MaskExpr } from './mask.js';
import { maskOperands } from './mask.js';
import type { FusedExpr } from './fused.js';
import { inferFused } from './fused.js';

/** Raised by type inference; elaboration turns it into a diagnostic with both operands' origins. */
export class ShapeError extends Error {
  constructor(message: string, readonly code: 'shape_mismatch' | 'rank_mismatch' | 'dtype_mismatch' | 'invalid_dimension' = 'shape_mismatch') {
    super(message);
  }
}

export type AttrKind = 'int' | 'float' | 'bool' | 'dtype' | 'ints' | 'dim' | 'dims' | 'mask' | 'fused' | 'name';

export interface OpSpec {
  name: string;
  /** Number of operands: exact, or [min, max] (max Infinity for variadic). */
  arity: number | [number, number];
  attrs: Record<string, AttrKind>;
  /** Attributes that may be left out (absent means the documented default). */
  optional?: readonly string[];
  /** `primitive` ops map 1:1 to ONNX/kernels; `high-level` ops have a decomposition (passes/decompose). */
  level: 'primitive' | 'high-level';
  infer(operands: TensorType[], attrs: Attrs): TensorType;
}

const t = (dtype: DType, shape: Dim[]): TensorType => ({ dtype, shape });

function requireFloat(x: TensorType, what: string): void {
  if (!isFloat(x.dtype)) throw new ShapeError(`${what} needs a floating-point tensor, got ${x.dtype}`, 'dtype_mismatch');
}

function sameDtype(a: TensorType, b: TensorType, what: string): void {
  if (a.dtype !== b.dtype) {
    throw new ShapeError(`${what}: operand dtypes differ (${a.dtype} and ${b.dtype}); use cast(x, ${a.dtype})`, 'dtype_mismatch');
  }
}

/** NumPy broadcasting of two shapes (dims equal, or one of them 1). */
export function broadcastShapes(a: readonly Dim[], b: readonly Dim[]): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (dimEq(da, db) || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else throw new ShapeError(`shapes ${shapeToString(a)} and ${shapeToString(b)} do not broadcast (dimension ${da} vs ${db})`);
  }
  return out;
}

/** Normalizes a possibly negative axis against a rank. */
export function normalizeAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new ShapeError(`axis ${axis} is out of range for a tensor of rank ${rank}`, 'rank_mismatch');
  return a;
}

const unaryFloat = (name: string, level: OpSpec['level'] = 'primitive'): OpSpec => ({
  name, arity: 1, attrs: {}, level,
  infer: ([x]) => { requireFloat(x!, name); return t(x!.dtype, [...x!.shape]); },
});

const binary = (name: string, result: 'same' | 'bool', accepts: 'numeric' | 'bool' | 'any' = 'numeric'): OpSpec => ({
  name, arity: 2, attrs: {}, level: 'primitive',
  infer: ([a, b]) => {
    sameDtype(a!, b!, name);
    if (accepts === 'bool' && a!.dtype !== 'bool') throw new ShapeError(`${name} needs bool operands, got ${a!.dtype}`, 'dtype_mismatch');
    if (accepts === 'numeric' && a!.dtype === 'bool') throw new ShapeError(`${name} needs numeric operands, got bool`, 'dtype_mismatch');
    return t(result === 'bool' ? 'bool' : a!.dtype, broadcastShapes(a!.shape, b!.shape));
  },
});

const reduce = (name: string): OpSpec => ({
  name, arity: 1, attrs: { axes: 'ints', keepdims: 'bool' }, level: 'primitive',
  infer: ([x], attrs) => {
    if (x!.dtype === 'bool') throw new ShapeError(`${name} needs a numeric tensor`, 'dtype_mismatch');
    const axes = new Set((attrs.axes as number[]).map((a) => normalizeAxis(a, x!.shape.length)));
    if (axes.size !== (attrs.axes as number[]).length) throw new ShapeError(`${name}: axes [${(attrs.axes as number[]).join(', ')}] name an axis twice`, 'rank_mismatch');
    const shape: Dim[] = [];
    x!.shape.forEach((d, i) => { if (!axes.has(i)) shape.push(d); else if (attrs.keepdims) shape.push(1); });
    return t(x!.dtype, shape);
  },
});

const specs: OpSpec[] = [
  // ---- elementwise ---------------------------------------------------------------------------
  unaryFloat('exp'), unaryFloat('log'), unaryFloat('sin'), unaryFloat('cos'), unaryFloat('sqrt'), unaryFloat('rsqrt'), unaryFloat('tanh'),
  unaryFloat('erf'), unaryFloat('sigmoid'),
  unaryFloat('gelu', 'high-level'), unaryFloat('gelu_tanh', 'high-level'), unaryFloat('silu', 'high-level'),
  {
    name: 'neg', arity: 1, attrs: {}, level: 'primitive',
    infer: ([x]) => { if (x!.dtype === 'bool') throw new ShapeError('neg needs a numeric tensor', 'dtype_mismatch'); return t(x!.dtype, [...x!.shape]); },
  },
  {
    name: 'abs', arity: 1, attrs: {}, level: 'primitive',
    infer: ([x]) => { if (x!.dtype === 'bool') throw new ShapeError('abs needs a numeric tensor', 'dtype_mismatch'); return t(x!.dtype, [...x!.shape]); },
  },
  {
    name: 'relu', arity: 1, attrs: {}, level: 'primitive',
    infer: ([x]) => { requireFloat(x!, 'relu'); return t(x!.dtype, [...x!.shape]); },
  },
  {
    name: 'not', arity: 1, attrs: {}, level: 'primitive',
    infer: ([x]) => { if (x!.dtype !== 'bool') throw new ShapeError(`! needs a bool tensor, got ${x!.dtype}`, 'dtype_mismatch'); return t('bool', [...x!.shape]); },
  },
  binary('add', 'same'), binary('sub', 'same'), binary('mul', 'same'), binary('div', 'same'), binary('pow', 'same'),
  binary('max', 'same'), binary('min', 'same'),
  binary('and', 'same', 'bool'), binary('or', 'same', 'bool'),
  binary('eq', 'bool', 'any'), binary('ne', 'bool', 'any'),
  binary('lt', 'bool'), binary('le', 'bool'), binary('gt', 'bool'), binary('ge', 'bool'),
  {
    name: 'where', arity: 3, attrs: {}, level: 'primitive',
    infer: ([c, a, b]) => {
      if (c!.dtype !== 'bool') throw new ShapeError(`where: the condition must be bool, got ${c!.dtype}`, 'dtype_mismatch');
      sameDtype(a!, b!, 'where');
      return t(a!.dtype, broadcastShapes(c!.shape, broadcastShapes(a!.shape, b!.shape)));
    },
  },
  {
    name: 'cast', arity: 1, attrs: { to: 'dtype' }, level: 'primitive',
    infer: ([x], attrs) => t(attrs.to as DType, [...x!.shape]),
  },
  {
    // A scalar (rank-0) constant.
    name: 'constant', arity: 0, attrs: { value: 'float', dtype: 'dtype' }, level: 'primitive',
    infer: (_, attrs) => {
      // Infinities are allowed (masking); NaN is not.
      if (Number.isNaN(attrs.value as number)) throw new ShapeError('constant: NaN is not a valid constant');
      return t(attrs.dtype as DType, []);
    },
  },
  {
    // iota: [start, start+1, ..., start+length-1] as `dtype` (start defaults to 0; decoding with a
    // key/value cache numbers new positions from `past`).
    name: 'iota', arity: 0, attrs: { length: 'dim', dtype: 'dtype', start: 'dim' }, optional: ['start'], level: 'primitive',
    infer: (_, attrs) => {
      const length = attrs.length as Dim;
      if (typeof length === 'number' && length < 0) throw new ShapeError(`iota: the length must be non-negative, got ${length}`, 'invalid_dimension');
      return t(attrs.dtype as DType, [length]);
    },
  },

  // ---- shape ---------------------------------------------------------------------------------
  {
    name: 'reshape', arity: 1, attrs: { shape: 'dims' }, level: 'primitive',
    infer: ([x], attrs) => {
      const shape = attrs.shape as Dim[];
      if (!dimEq(dimProduct(x!.shape), dimProduct(shape))) {
        throw new ShapeError(`cannot reshape ${shapeToString(x!.shape)} (${dimProduct(x!.shape)} elements) to ${shapeToString(shape)} (${dimProduct(shape)} elements)`);
      }
      return t(x!.dtype, [...shape]);
    },
  },
  {
    name: 'transpose', arity: 1, attrs: { perm: 'ints' }, level: 'primitive',
    infer: ([x], attrs) => {
      const perm = attrs.perm as number[];
      const rank = x!.shape.length;
      if (perm.length !== rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
        throw new ShapeError(`transpose: [${perm.join(', ')}] is not a permutation of the ${rank} axes of ${shapeToString(x!.shape)}`, 'rank_mismatch');
      }
      return t(x!.dtype, perm.map((p) => x!.shape[p]!));
    },
  },
  {
    // x[..., start:end:step, ...] along one axis; start/end are already in range (elaboration clamps them).
    name: 'slice', arity: 1, attrs: { axis: 'int', start: 'dim', end: 'dim', step: 'int' }, level: 'primitive',
    infer: ([x], attrs) => {
      const axis = normalizeAxis(attrs.axis as number, x!.shape.length);
      const step = attrs.step as number;
      const size = x!.shape[axis]!, start = attrs.start as Dim, end = attrs.end as Dim;
      if (typeof size === 'number' && typeof start === 'number' && typeof end === 'number' && !(0 <= start && start <= end && end <= size)) {
        throw new ShapeError(`slice: [${start}:${end}] is out of range for an axis of size ${size}`, 'invalid_dimension');
      }
      if (!Number.isInteger(step) || step < 1) throw new ShapeError(`slice: step must be a positive integer, got ${step}`, 'invalid_dimension');
      const span = dimSub(attrs.end as Dim, attrs.start as Dim);
      let len: Dim;
      if (typeof span === 'number') len = Math.max(0, Math.ceil(span / step));
      else if (step === 1) len = span;
      else {
        const exact = dimDivExact(span, step);
        if (exact === undefined) throw new ShapeError(`slice: a step of ${step} over the symbolic length ${span} is not supported`, 'invalid_dimension');
        len = exact;
      }
      const shape = [...x!.shape];
      shape[axis] = len;
      return t(x!.dtype, shape);
    },
  },
  {
    name: 'concat', arity: [1, Infinity], attrs: { axis: 'int' }, level: 'primitive',
    infer: (xs, attrs) => {
      const first = xs[0]!;
      const axis = normalizeAxis(attrs.axis as number, first.shape.length);
      let total: Dim = 0;
      for (const x of xs) {
        sameDtype(first, x, 'concat');
        if (x.shape.length !== first.shape.length) throw new ShapeError(`concat: ranks differ (${shapeToString(first.shape)} and ${shapeToString(x.shape)})`, 'rank_mismatch');
        x.shape.forEach((d, i) => {
          if (i !== axis && !dimEq(d, first.shape[i]!)) throw new ShapeError(`concat along axis ${axis}: shapes ${shapeToString(first.shape)} and ${shapeToString(x.shape)} differ in axis ${i}`);
        });
        total = dimAdd(total, x.shape[axis]!);
      }
      const shape = [...first.shape];
      shape[axis] = total;
      return t(first.dtype, shape);
    },
  },
  {
    // gather(table, indices): out = table.shape[:axis] + indices.shape + table.shape[axis+1:]
    name: 'gather', arity: 2, attrs: { axis: 'int' }, level: 'primitive',
    infer: ([table, idx], attrs) => {
      if (idx!.dtype !== 'i32' && idx!.dtype !== 'i64') throw new ShapeError(`gather: indices must be i32 or i64, got ${idx!.dtype}`, 'dtype_mismatch');
      const axis = normalizeAxis(attrs.axis as number, table!.shape.length);
      return t(table!.dtype, [...table!.shape.slice(0, axis), ...idx!.shape, ...table!.shape.slice(axis + 1)]);
    },
  },

  // ---- reductions and contractions -----------------------------------------------------------
  reduce('reduce_sum'), reduce('reduce_mean'), reduce('reduce_max'),
  {
    // Batched matmul with NumPy broadcasting of the leading dims; both operands rank >= 2.
    name: 'matmul', arity: 2, attrs: {}, level: 'primitive',
    infer: ([a, b]) => {
      sameDtype(a!, b!, 'matmul (@)');
      requireFloat(a!, 'matmul (@)');
      if (a!.shape.length < 2 || b!.shape.length < 2) throw new ShapeError(`@ needs operands of rank 2 or more, got ${shapeToString(a!.shape)} and ${shapeToString(b!.shape)}`, 'rank_mismatch');
      const m = a!.shape[a!.shape.length - 2]!, ka = a!.shape[a!.shape.length - 1]!;
      const kb = b!.shape[b!.shape.length - 2]!, n = b!.shape[b!.shape.length - 1]!;
      if (!dimEq(ka, kb)) throw new ShapeError(`@: inner dimensions differ: ${shapeToString(a!.shape)} @ ${shapeToString(b!.shape)} (${ka} vs ${kb})`);
      const batch = broadcastShapes(a!.shape.slice(0, -2), b!.shape.slice(0, -2));
      return t(a!.dtype, [...batch, m, n]);
    },
  },

  // ---- high-level ops (decomposed by passes/decompose-high-level.ts) -------------------------
  {
    name: 'softmax', arity: 1, attrs: { axis: 'int' }, level: 'high-level',
    infer: ([x], attrs) => { requireFloat(x!, 'softmax'); normalizeAxis(attrs.axis as number, x!.shape.length); return t(x!.dtype, [...x!.shape]); },
  },
  {
    // layer_norm(x, weight, bias) over the last axis.
    name: 'layer_norm', arity: 3, attrs: { eps: 'float' }, level: 'high-level',
    infer: ([x, w, b]) => {
      requireFloat(x!, 'LayerNorm');
      const d = x!.shape[x!.shape.length - 1];
      for (const p of [w!, b!]) {
        if (p.shape.length !== 1 || !dimEq(p.shape[0]!, d!)) throw new ShapeError(`LayerNorm: parameter shape ${shapeToString(p.shape)} does not match the last axis of ${shapeToString(x!.shape)}`);
        sameDtype(x!, p, 'LayerNorm');
      }
      return t(x!.dtype, [...x!.shape]);
    },
  },
  {
    // rms_norm(x, weight) over the last axis.
    name: 'rms_norm', arity: 2, attrs: { eps: 'float' }, level: 'high-level',
    infer: ([x, w]) => {
      requireFloat(x!, 'RMSNorm');
      const d = x!.shape[x!.shape.length - 1];
      if (w!.shape.length !== 1 || !dimEq(w!.shape[0]!, d!)) throw new ShapeError(`RMSNorm: parameter shape ${shapeToString(w!.shape)} does not match the last axis of ${shapeToString(x!.shape)}`);
      sameDtype(x!, w!, 'RMSNorm');
      return t(x!.dtype, [...x!.shape]);
    },
  },
  {
    // attention(q [B,H,Tq,Dk], k [B,H,Tk,Dk], v [B,H,Tk,Dv], ...tensors the mask reads) -> [B,H,Tq,Dv]
    // out = softmax(scale * q k^T + bias(b,h,q,k) restricted to mask(b,h,q,k)) v; a row with no visible
    // key is 0. `bias` (optional, a numeric mask expression: T5's relative bias) reads float operands.
    name: 'attention', arity: [3, Infinity], attrs: { scale: 'float', mask: 'mask', bias: 'mask' }, optional: ['bias'], level: 'high-level',
    infer: (xs, attrs) => {
      const [q, k, v] = xs as [TensorType, TensorType, TensorType];
      for (const [x, n] of [[q, 'query'], [k, 'key'], [v, 'value']] as const) {
        requireFloat(x, 'attention');
        if (x.shape.length !== 4) throw new ShapeError(`attention: ${n} must be [batch, heads, seq, head_dim], got ${shapeToString(x.shape)}`, 'rank_mismatch');
      }
      sameDtype(q, k, 'attention');
      sameDtype(q, v, 'attention');
      const [bq, hq, , dq] = q.shape as [Dim, Dim, Dim, Dim];
      const [bk, hk, tk, dk] = k.shape as [Dim, Dim, Dim, Dim];
      const [bv, hv, tv, dv] = v.shape as [Dim, Dim, Dim, Dim];
      if (!dimEq(bq, bk) || !dimEq(bq, bv) || !dimEq(hq, hk) || !dimEq(hq, hv)) throw new ShapeError(`attention: batch/heads of query ${shapeToString(q.shape)}, key ${shapeToString(k.shape)} and value ${shapeToString(v.shape)} differ`);
      if (!dimEq(dq, dk)) throw new ShapeError(`attention: query head size ${dq} differs from key head size ${dk}`);
      if (!dimEq(tk, tv)) throw new ShapeError(`attention: ${tk} keys but ${tv} values`);
      const reads = maskOperands(attrs.mask as MaskExpr);
      for (const r of reads) if (r < 3 || r >= xs.length) throw new ShapeError(`attention: the mask reads operand ${r}, which is not a mask tensor operand`);
      if (attrs.bias !== undefined) {
        for (const r of maskOperands(attrs.bias as MaskExpr)) if (r < 3 || r >= xs.length) throw new ShapeError(`attention: the score bias reads operand ${r}, which is not a mask or bias tensor operand`);
      }
      return t(q.dtype, [bq, hq, q.shape[2]!, dv]);
    },
  },
  {
    // moe_route(probs [..., E]) -> [..., E]: the combine weight of each token at each expert — its gate
    // where the token is routed there and within capacity, else 0 (REFERENCE.md §8.8). Tokens are the
    // leading axes flattened in row-major order; top_k is 1 (Switch) or 2 (GShard); the capacity is
    // ceil(N · fl32(capacity · top_k / E)) slots per expert for N tokens.
    name: 'moe_route', arity: 1, attrs: { top_k: 'int', capacity: 'float' }, level: 'high-level',
    infer: ([p], attrs) => moeProbs(p!, 'moe_route', attrs.top_k as number, attrs.capacity as number),
  },
  {
    // moe_aux_loss(probs [..., E]) -> []: Switch's load-balancing loss E · Σ_i f_i · P_i (without α).
    name: 'moe_aux_loss', arity: 1, attrs: {}, level: 'high-level',
    infer: ([p]) => t(moeProbs(p!, 'moe_aux_loss', 1, 1).dtype, []),
  },
  {
    // moe_choices(combine [..., E]) -> i32 [..., top_k]: the experts with a nonzero combine weight, in
    // increasing order, then -1: the rows each token's kept assignments run through (§8.8).
    name: 'moe_choices', arity: 1, attrs: { top_k: 'int' }, level: 'high-level',
    infer: ([c], attrs) => {
      const topK = attrs.top_k as number;
      moeProbs(c!, 'moe_choices', topK, 1);
      return t('i32', [...c!.shape.slice(0, -1), topK]);
    },
  },
  {
    // expert_matmul(x [..., R, din], w [E, din, dout], experts i32 [..., k], bias [E, dout]?) -> [..., k, dout]:
    // row c is x[..., R == 1 ? 0 : c, :] @ w[e] + bias[e] for e = experts[..., c], and 0 where e < 0.
    name: 'expert_matmul', arity: [3, 4], attrs: {}, level: 'high-level',
    infer: ([x, w, idx, bias]) => {
      requireFloat(x!, 'expert_matmul');
      sameDtype(x!, w!, 'expert_matmul');
      if (idx!.dtype !== 'i32') throw new ShapeError(`expert_matmul: expert indices must be i32, got ${idx!.dtype}`, 'dtype_mismatch');
      if (x!.shape.length < 2 || w!.shape.length !== 3 || idx!.shape.length !== x!.shape.length - 1) {
        throw new ShapeError(`expert_matmul: expected x [..., R, din], w [E, din, dout] and experts [..., k], got ${shapeToString(x!.shape)}, ${shapeToString(w!.shape)} and ${shapeToString(idx!.shape)}`, 'rank_mismatch');
      }
      const [, din, dout] = w!.shape as [Dim, Dim, Dim];
      const lead = x!.shape.slice(0, -2), rows = x!.shape[x!.shape.length - 2]!, k = idx!.shape[idx!.shape.length - 1]!;
      if (!dimEq(x!.shape[x!.shape.length - 1]!, din) || !(rows === 1 || dimEq(rows, k)) || lead.some((d, i) => !dimEq(d, idx!.shape[i]!))) {
        throw new ShapeError(`expert_matmul: x ${shapeToString(x!.shape)} does not fit w ${shapeToString(w!.shape)} and experts ${shapeToString(idx!.shape)}`);
      }
      if (bias) {
        sameDtype(x!, bias, 'expert_matmul');
        if (bias.shape.length !== 2 || !dimEq(bias.shape[0]!, w!.shape[0]!) || !dimEq(bias.shape[1]!, dout)) throw new ShapeError(`expert_matmul: bias ${shapeToString(bias.shape)} does not match w ${shapeToString(w!.shape)}`);
      }
      return t(x!.dtype, [...lead, k, dout]);
    },
  },
];

/**
 * Slots per expert for `tokens` tokens (REFERENCE.md §8.8): ceil(tokens · s) with s = fl32(capacity ·
 * top_k / experts), the product rounded to f32 as every backend computes it, so that all agree exactly.
 */
export function moeCapacity(tokens: number, experts: number, topK: number, capacity: number): number {
  return Math.ceil(Math.fround(tokens * moeCapacityScale(experts, topK, capacity)));
}

/** fl32(capacity · top_k / experts): the f32 factor the kernels multiply the token count by. */
export function moeCapacityScale(experts: number, topK: number, capacity: number): number {
  return Math.fround((capacity * topK) / experts);
}

/** Router probabilities [..., E] of a float dtype, and a valid top_k / capacity factor. */
function moeProbs(p: TensorType, what: string, topK: number, capacity: number): TensorType {
  requireFloat(p, what);
  if (p.shape.length < 1) throw new ShapeError(`${what}: router probabilities must have an experts axis, got a scalar`, 'rank_mismatch');
  const experts = p.shape[p.shape.length - 1]!;
  if (typeof experts !== 'number') throw new ShapeError(`${what}: the number of experts must be a known integer, got ${experts}`, 'invalid_dimension');
  if (topK !== 1 && topK !== 2) throw new ShapeError(`${what}: top_k must be 1 or 2, got ${topK}`, 'invalid_dimension');
  if (topK > experts) throw new ShapeError(`${what}: top_k ${topK} is more than the ${experts} experts`, 'invalid_dimension');
  if (!(capacity > 0) || !Number.isFinite(capacity)) throw new ShapeError(`${what}: the capacity factor must be a positive number, got ${capacity}`, 'invalid_dimension');
  return t(p.dtype, [...p.shape]);
}

// ---- fused ops (made by src/passes/fuse-*.ts; each becomes one kernel) ---------------------------

const NORMS = ['none', 'layer_norm', 'rms_norm'];

/** The normalized A of a fused_matmul/fused_row: checks the norm parameters like layer_norm/rms_norm. */
function normed(kind: string, x: TensorType, xs: TensorType[], weight: number, bias: number, eps: number): TensorType {
  if (kind === 'none') return x;
  if (!NORMS.includes(kind)) throw new ShapeError(`unknown norm '${kind}'`);
  const w = xs[weight];
  if (!w) throw new ShapeError(`${kind}: the weight operand ${weight} does not exist`);
  if (kind === 'rms_norm') return inferType('rms_norm', [x, w], { eps });
  const b = xs[bias];
  if (!b) throw new ShapeError(`${kind}: the bias operand ${bias} does not exist`);
  return inferType('layer_norm', [x, w, b], { eps });
}

function sameShape(a: TensorType, b: TensorType, what: string): void {
  if (a.dtype !== b.dtype || shapeToString(a.shape) !== shapeToString(b.shape)) {
    throw new ShapeError(`${what}: the epilogue gives ${a.dtype}${shapeToString(a.shape)} but the core computes ${b.dtype}${shapeToString(b.shape)}; an epilogue may not broadcast the result`);
  }
}

specs.push(
  {
    // One elementwise kernel: `expr` over the operands (broadcast), embedding lookups included.
    name: 'fused_elementwise', arity: [0, Infinity], attrs: { expr: 'fused' }, level: 'primitive',
    infer: (xs, attrs) => inferFused(attrs.expr as FusedExpr, xs),
  },
  {
    // epilogue(norm(a) @ b): operands a, b, then norm weight/bias and epilogue inputs by index.
    name: 'fused_matmul', arity: [2, Infinity], attrs: { norm: 'name', eps: 'float', norm_weight: 'int', norm_bias: 'int', epilogue: 'fused' }, level: 'primitive',
    infer: (xs, attrs) => {
      const a = normed(attrs.norm as string, xs[0]!, xs, attrs.norm_weight as number, attrs.norm_bias as number, attrs.eps as number);
      const acc = inferType('matmul', [a, xs[1]!], {});
      const out = inferFused(attrs.epilogue as FusedExpr, xs, acc);
      sameShape(out, acc, 'fused_matmul');
      return out;
    },
  },
  {
    // epilogue(core(x)) over the last axis, core = softmax | layer_norm | rms_norm, x = a fused prologue.
    name: 'fused_row', arity: [1, Infinity], attrs: { kind: 'name', eps: 'float', weight: 'int', bias: 'int', x: 'fused', epilogue: 'fused' }, level: 'primitive',
    infer: (xs, attrs) => {
      const x = inferFused(attrs.x as FusedExpr, xs);
      const kind = attrs.kind as string;
      const core = kind === 'softmax' ? inferType('softmax', [x], { axis: -1 }) : normed(kind, x, xs, attrs.weight as number, attrs.bias as number, attrs.eps as number);
      const out = inferFused(attrs.epilogue as FusedExpr, xs, core);
      sameShape(out, core, 'fused_row');
      return out;
    },
  },
);

// ---- linear-cost attention (elaborate/linear-attention.ts; the feature maps are graph ops before it) --
specs.push({
  // linear_attention(φq [B,H,T,F], φk [B,H,S,F], v [B,H,S,Dv]) -> [B,H,T,Dv] (Katharopoulos et al. 2020,
  // eq. 4–6): out_t = φq_t · Σ_{s∈vis(t)} φk_s v_sᵀ / (φq_t · Σ_{s∈vis(t)} φk_s), vis(t) = {s ≤ t} when
  // `causal`, every s otherwise. The feature maps are non-negative, so a row with a visible key has a
  // positive denominator.
  name: 'linear_attention', arity: 3, attrs: { causal: 'bool' }, level: 'high-level',
  infer: (xs) => {
    const [q, k, v] = xs as [TensorType, TensorType, TensorType];
    for (const [x, n] of [[q, 'query features'], [k, 'key features'], [v, 'value']] as const) {
      requireFloat(x, 'linear_attention');
      if (x.shape.length !== 4) throw new ShapeError(`linear_attention: ${n} must be [batch, heads, seq, features], got ${shapeToString(x.shape)}`, 'rank_mismatch');
    }
    sameDtype(q, k, 'linear_attention');
    sameDtype(q, v, 'linear_attention');
    const [bq, hq, tq, fq] = q.shape as [Dim, Dim, Dim, Dim];
    const [bk, hk, tk, fk] = k.shape as [Dim, Dim, Dim, Dim];
    const [bv, hv, tv, dv] = v.shape as [Dim, Dim, Dim, Dim];
    if (!dimEq(bq, bk) || !dimEq(bq, bv) || !dimEq(hq, hk) || !dimEq(hq, hv)) throw new ShapeError(`linear_attention: batch/heads of ${shapeToString(q.shape)}, ${shapeToString(k.shape)} and ${shapeToString(v.shape)} differ`);
    if (!dimEq(fq, fk)) throw new ShapeError(`linear_attention: query features ${fq} differ from key features ${fk}`);
    if (!dimEq(tk, tv)) throw new ShapeError(`linear_attention: ${tk} keys but ${tv} values`);
    return t(q.dtype, [bq, hq, tq, dv]);
  },
});

export const OPS: ReadonlyMap<string, OpSpec> = new Map(specs.map((s) => [s.name, s]));

export function opSpec(name: string): OpSpec | undefined {
  return OPS.get(name);
}

/** Checks arity and attribute kinds, then infers the result type. Throws ShapeError. */
export function inferType(op: string, operands: TensorType[], attrs: Attrs): TensorType {
  const spec = OPS.get(op);
  if (!spec) throw new ShapeError(`unknown op '${op}'`);
  const [min, max] = typeof spec.arity === 'number' ? [spec.arity, spec.arity] : spec.arity;
  if (operands.length < min || operands.length > max) throw new ShapeError(`${op} takes ${min === max ? min : `${min} or more`} operand(s), got ${operands.length}`);
  for (const [name, kind] of Object.entries(spec.attrs)) {
    const v = attrs[name];
    if (v === undefined) {
      if (spec.optional?.includes(name)) continue;
      throw new ShapeError(`${op}: missing attribute '${name}'`);
    }
    if (!attrMatches(kind, v)) throw new ShapeError(`${op}: attribute '${name}' must be ${kind}`);
  }
  for (const name of Object.keys(attrs)) if (!(name in spec.attrs)) throw new ShapeError(`${op}: unknown attribute '${name}'`);
  return spec.infer(operands, attrs);
}

function attrMatches(kind: AttrKind, v: unknown): boolean {
  switch (kind) {
    case 'int': return typeof v === 'number' && Number.isInteger(v);
    case 'float': return typeof v === 'number';
    case 'bool': return typeof v === 'boolean';
    case 'dtype': return typeof v === 'string' && (DTYPES as readonly string[]).includes(v);
    case 'ints': return Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isInteger(x));
    case 'dim': return (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'string';
    case 'dims': return Array.isArray(v) && v.every((x) => (typeof x === 'number' && Number.isInteger(x)) || typeof x === 'string');
    case 'mask':
    case 'fused': return typeof v === 'object' && v !== null && !Array.isArray(v) && 'kind' in v;
    case 'name': return typeof v === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(v);
  }
}
