// decompose-high-level: rewrites every high-level op (softmax, norms, GELU/SiLU, attention with its
// mask and score bias) into primitive ops of the same registry. Post: no high-level op is left; inputs,
// params, outputs and the result id of every original op are unchanged; each new op carries the loc
// of the op it replaces.
import { diag } from '../diagnostics/catalogue.js';
import { PtmError } from '../diagnostics/diagnostic.js';
import type { Span } from '../diagnostics/span.js';
import type { Dim } from '../ir/dim.js';
import { dimEq, dimProduct, shapeToString } from '../ir/dim.js';
import type { MaskExpr, MaskVar } from '../ir/mask.js';
import { isTrue, MASK_VARS, t5BucketThresholds } from '../ir/mask.js';
import { opSpec, ShapeError } from '../ir/ops.js';
import type { Attrs, Graph, Value } from '../ir/types.js';
import { isFloat } from '../ir/types.js';
import type { Pass } from './pass.js';
import { OpEmitter, rewriteOps } from './op-emitter.js';
import { expertMatmul, moeAuxLoss, moeChoices, moeRoute } from './decompose-moe.js';

/** Appends primitive ops for one high-level op. */
type Emitter = OpEmitter;

const unsupported = (loc: Span, message: string): PtmError =>
  new PtmError(diag.export_unsupported(loc, `cannot decompose attention: ${message}`));

// ---- elementwise and normalization ---------------------------------------------------------------

function softmax(e: Emitter, x: Value, axis: number): Value {
  const max = e.emit('reduce_max', [x], { axes: [axis], keepdims: true });
  const exp = e.emit('exp', [e.emit('sub', [x, max])]);
  return e.emit('div', [exp, e.emit('reduce_sum', [exp], { axes: [axis], keepdims: true })]);
}

function layerNorm(e: Emitter, [x, weight, bias]: Value[], eps: number): Value {
  const dt = x!.type.dtype;
  const centered = e.emit('sub', [x!, e.emit('reduce_mean', [x!], { axes: [-1], keepdims: true })]);
  // biased variance, as in PyTorch's LayerNorm
  const variance = e.emit('reduce_mean', [e.emit('mul', [centered, centered])], { axes: [-1], keepdims: true });
  const inv = e.emit('rsqrt', [e.emit('add', [variance, e.constant(eps, dt)])]);
  return e.emit('add', [e.emit('mul', [e.emit('mul', [centered, inv]), weight!]), bias!]);
}

function rmsNorm(e: Emitter, [x, weight]: Value[], eps: number): Value {
  const meanSquare = e.emit('reduce_mean', [e.emit('mul', [x!, x!])], { axes: [-1], keepdims: true });
  const inv = e.emit('rsqrt', [e.emit('add', [meanSquare, e.constant(eps, x!.type.dtype)])]);
  return e.emit('mul', [e.emit('mul', [x!, inv]), weight!]);
}

/** 0.5 x (1 + erf(x / √2)) */
function gelu(e: Emitter, x: Value): Value {
  const dt = x.type.dtype;
  const erf = e.emit('erf', [e.emit('mul', [x, e.constant(Math.SQRT1_2, dt)])]);
  return e.emit('mul', [e.emit('mul', [x, e.constant(0.5, dt)]), e.emit('add', [e.constant(1, dt), erf])]);
}

/** 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))) */
function geluTanh(e: Emitter, x: Value): Value {
  const dt = x.type.dtype;
  const cube = e.emit('mul', [x, e.emit('mul', [x, x])]);
  const inner = e.emit('add', [x, e.emit('mul', [e.constant(0.044715, dt), cube])]);
  const tanh = e.emit('tanh', [e.emit('mul', [e.constant(Math.sqrt(2 / Math.PI), dt), inner])]);
  return e.emit('mul', [e.emit('mul', [x, e.constant(0.5, dt)]), e.emit('add', [e.constant(1, dt), tanh])]);
}

// ---- attention -------------------------------------------------------------------------------------

/**
 * Materializes a mask predicate (or a numeric score bias) as a tensor that broadcasts against the
 * scores [B, H, Tq, Tk]: index variables are iotas reshaped onto their axis, reads of operands are
 * reshaped (or gathered, floats included), `dim(d)` is d's run-time value, integer arithmetic is i32
 * with C semantics (`/` truncates, `%` takes the sign of the dividend, division by zero gives 0, as
 * evalMask in ir/mask.ts) and T5 buckets use the integer thresholds of t5BucketThresholds.
 */
export class MaskLowering {
  private readonly iotas = new Map<Dim, Value>();
  /** Lowered subexpressions by structure: each variable and `dim` once, and a bias and a mask share `q + dim(past)`. */
  private readonly lowered = new Map<string, Value>();

  /** `operands` are the attention op's (mask reads index them); `sizes` the extent of b, h, q and k. */
  constructor(private readonly e: Emitter, private readonly operands: Value[], private readonly sizes: Record<MaskVar, Dim>) {}

  lower(m: MaskExpr): Value {
    const key = JSON.stringify(m);
    let v = this.lowered.get(key);
    if (!v) this.lowered.set(key, (v = this.lowerNode(m)));
    return v;
  }

  private lowerNode(m: MaskExpr): Value {
    switch (m.kind) {
      case 'var':
        return this.variable(m.name);
      case 'const':
        if (m.bool) return this.e.constant(m.value ? 1 : 0, 'bool');
        if (!Number.isInteger(m.value)) throw unsupported(this.e.loc, `mask constant ${m.value} is not an integer`);
        return this.e.constant(m.value, 'i32');
      case 'read':
        return this.read(m);
      case 'not':
        return this.e.emit('not', [this.toBool(this.lower(m.operand))]);
      case 'binary':
        return this.binary(m.op, m.left, m.right);
      case 'dim':
        return this.dimValue(m.dim);
      case 't5_bucket':
        return this.t5Bucket(m);
    }
  }

  toBool(v: Value): Value {
    return v.type.dtype === 'bool' ? v : this.e.emit('ne', [v, this.e.constant(0, v.type.dtype)]);
  }

  private variable(name: MaskVar): Value {
    const length = this.sizes[name];
    const shape: Dim[] = [1, 1, 1, 1];
    shape[MASK_VARS.indexOf(name)] = length;
    // q and k usually share a length (self-attention): one iota serves both.
    let iota = this.iotas.get(length);
    if (!iota) this.iotas.set(length, (iota = this.e.emit('iota', [], { length, dtype: 'i32' })));
    return this.e.emit('reshape', [iota], { shape });
  }

  /**
   * The run-time value of a dimension expression as i32 [1]: a one-element iota starting at it,
   * which every backend already computes from the sizes it binds (ONNX: Range over Shape values).
   */
  private dimValue(d: Dim): Value {
    return typeof d === 'number' ? this.e.constant(d, 'i32') : this.e.emit('iota', [], { length: 1, start: d, dtype: 'i32' });
  }

  /**
   * T5's bucket of rel = k - q (ir/mask.ts t5Bucket): with n the distance (|rel| split by sign when
   * bidirectional, max(-rel, 0) otherwise), base + n below maxExact, else base + maxExact + #{T_j <= n}.
   */
  private t5Bucket(m: Extract<MaskExpr, { kind: 't5_bucket' }>): Value {
    const e = this.e;
    const rel = this.toNumber(this.lower(m.rel));
    if (rel.type.dtype !== 'i32') throw unsupported(e.loc, `t5_bucket of a ${rel.type.dtype} value; relative positions are integers`);
    let table: ReturnType<typeof t5BucketThresholds>;
    try {
      table = t5BucketThresholds(m.buckets, m.maxDistance, m.bidirectional);
    } catch (error) {
      throw new PtmError(diag.invalid_mask(e.loc, (error as Error).message));
    }
    const { maxExact, offset, thresholds } = table;
    const zero = e.constant(0, 'i32');
    const n = m.bidirectional ? e.emit('abs', [rel]) : e.emit('max', [e.emit('neg', [rel]), zero]);
    let large = e.constant(maxExact, 'i32');
    for (const threshold of thresholds) large = e.emit('add', [large, e.emit('cast', [e.emit('ge', [n, e.constant(threshold, 'i32')])], { to: 'i32' })]);
    const bucket = e.emit('where', [e.emit('lt', [n, e.constant(maxExact, 'i32')]), n, large]);
    if (!m.bidirectional) return bucket;
    // Keys after the query (rel > 0) use the upper half of the buckets.
    return e.emit('add', [bucket, e.emit('where', [e.emit('gt', [rel, zero]), e.constant(offset, 'i32'), zero])]);
  }

  /** Bools count as 0/1 and i64 narrows to i32 in arithmetic; floats stay floats. */
  private toNumber(v: Value): Value {
    const dt = v.type.dtype;
    return dt === 'bool' || dt === 'i64' ? this.e.emit('cast', [v], { to: 'i32' }) : v;
  }

  private unify(a: Value, b: Value): [Value, Value] {
    const [x, y] = [this.toNumber(a), this.toNumber(b)];
    if (x.type.dtype === y.type.dtype) return [x, y];
    if (isFloat(y.type.dtype) && !isFloat(x.type.dtype)) return [this.e.emit('cast', [x], { to: y.type.dtype }), y];
    return [x, this.e.emit('cast', [y], { to: x.type.dtype })];
  }

  private binary(op: string, left: MaskExpr, right: MaskExpr): Value {
    const e = this.e;
    const l = this.lower(left);
    const r = this.lower(right);
    if (op === '&' || op === '|') return e.emit(op === '&' ? 'and' : 'or', [this.toBool(l), this.toBool(r)]);
    if ((op === '==' || op === '!=') && l.type.dtype === 'bool' && r.type.dtype === 'bool') return e.emit(op === '==' ? 'eq' : 'ne', [l, r]);
    const [a, b] = this.unify(l, r);
    const simple: Record<string, string> = { '+': 'add', '-': 'sub', '*': 'mul', '<': 'lt', '<=': 'le', '>': 'gt', '>=': 'ge', '==': 'eq', '!=': 'ne' };
    if (simple[op]) return e.emit(simple[op]!, [a, b]);
    if (isFloat(a.type.dtype)) throw unsupported(e.loc, `'${op}' on floating-point mask values`);
    const dt = a.type.dtype;
    if (right.kind === 'const' && right.value !== 0) {
      const quotient = e.emit('div', [a, b]); // i32 division truncates toward zero
      return op === '/' ? quotient : e.emit('sub', [a, e.emit('mul', [quotient, b])]);
    }
    // Divisor may be 0: divide by 1 instead and select 0 afterwards.
    const isZero = e.emit('eq', [b, e.constant(0, dt)]);
    const safe = e.emit('where', [isZero, e.constant(1, dt), b]);
    const quotient = e.emit('div', [a, safe]);
    const value = op === '/' ? quotient : e.emit('sub', [a, e.emit('mul', [quotient, safe])]);
    return e.emit('where', [isZero, e.constant(0, dt), value]);
  }

  private read(m: Extract<MaskExpr, { kind: 'read' }>): Value {
    const x = this.operands[m.operand];
    if (!x || x.type.shape.length !== m.indices.length) {
      throw new PtmError(diag.invalid_mask(this.e.loc, `the mask reads operand ${m.operand} with ${m.indices.length} indices, but it is ${x ? shapeToString(x.type.shape) : 'missing'}`));
    }
    const axes = m.indices.map((i) => (i.kind === 'var' ? MASK_VARS.indexOf(i.name) : -1));
    const direct = axes.every((a) => a >= 0) && new Set(axes).size === axes.length;
    return direct ? this.readByAxes(x, axes) : this.readByGather(x, m.indices);
  }

  /** `x[b, k]` and the like: put each axis of x where its variable lives, rank 4. */
  private readByAxes(x: Value, axes: number[]): Value {
    if (axes.length === 0) return x;
    const order = axes.map((a, i) => [a, i] as const).sort((p, q) => p[0] - q[0]);
    let v = x;
    if (order.some(([, i], j) => i !== j)) v = this.e.emit('transpose', [v], { perm: order.map(([, i]) => i) });
    const shape: Dim[] = [1, 1, 1, 1];
    order.forEach(([axis], j) => {
      const want = this.sizes[MASK_VARS[axis]!];
      const have = v.type.shape[j]!;
      // Only indices below the variable's range are read: drop the rest so the shapes broadcast.
      if (!dimEq(have, want) && have !== 1) v = this.e.emit('slice', [v], { axis: j, start: 0, end: want, step: 1 });
      shape[axis] = v.type.shape[j]!;
    });
    return this.e.emit('reshape', [v], { shape });
  }

  /** General index expressions: flatten x and gather at the row-major linear index. */
  private readByGather(x: Value, indices: MaskExpr[]): Value {
    const shape = x.type.shape;
    let linear: Value | undefined;
    // Row-major strides; a symbolic trailing axis (Transformer-XL's [.., 2*seq+mlen-1] table) makes them run-time values.
    let stride: number | Value = 1;
    for (let i = indices.length - 1; i >= 0; i--) {
      let index = this.toNumber(this.lower(indices[i]!));
      if (isFloat(index.type.dtype)) throw unsupported(this.e.loc, 'a read indexed by a floating-point value');
      if (stride !== 1) index = this.e.emit('mul', [index, typeof stride === 'number' ? this.e.constant(stride, 'i32') : stride]);
      linear = linear ? this.e.emit('add', [index, linear]) : index;
      const d = shape[i]!;
      stride = typeof stride === 'number' && typeof d === 'number' ? stride * d
        : this.e.emit('mul', [typeof stride === 'number' ? this.e.constant(stride, 'i32') : stride, this.dimValue(d)]);
    }
    const flat = this.e.emit('reshape', [x], { shape: [dimProduct(shape)] });
    return this.e.emit('gather', [flat, linear!], { axis: 0 });
  }
}

function attention(e: Emitter, operands: Value[], attrs: Attrs): Value {
  const [q, k, v] = operands as [Value, Value, Value];
  const dt = q.type.dtype;
  const [b, h, tq] = q.type.shape as [Dim, Dim, Dim];
  const lowering = new MaskLowering(e, operands, { b, h, q: tq, k: k.type.shape[2]! });
  // scores: [B, H, Tq, Tk]
  const kt = e.emit('transpose', [k], { perm: [0, 1, 3, 2] });
  let scores = e.emit('mul', [e.emit('matmul', [q, kt]), e.constant(attrs.scale as number, dt)]);
  if (attrs.bias !== undefined) {
    // bias: broadcasts against the scores, e.g. [1, H, Tq, Tk] for T5's W[t5_bucket(k - q, ...), h]
    const bias = lowering.lower(attrs.bias as MaskExpr);
    scores = e.emit('add', [scores, bias.type.dtype === dt ? bias : e.emit('cast', [bias], { to: dt })]);
  }
  const maskExpr = attrs.mask as MaskExpr;
  if (isTrue(maskExpr)) return e.emit('matmul', [softmax(e, scores, 3), v]);

  const mask = lowering.toBool(lowering.lower(maskExpr));
  // Masked softmax; a row with no visible key gives 0 (its max is -inf, replaced by 0 to avoid NaN).
  const negInf = e.constant(-Infinity, dt);
  const zero = e.constant(0, dt);
  const rowMax = e.emit('reduce_max', [e.emit('where', [mask, scores, negInf])], { axes: [3], keepdims: true });
  const safeMax = e.emit('where', [e.emit('eq', [rowMax, negInf]), zero, rowMax]);
  const exp = e.emit('where', [mask, e.emit('exp', [e.emit('sub', [scores, safeMax])]), zero]);
  // A row with a visible key holds exp(0) = 1, so its sum is >= 1; a row without one sums to 0.
  const sum = e.emit('max', [e.emit('reduce_sum', [exp], { axes: [3], keepdims: true }), e.constant(1, dt)]);
  return e.emit('matmul', [e.emit('div', [exp, sum]), v]);
}

/**
 * linear_attention(φq, φk, v): full, out = φq (φkᵀ v) / (φq Σ_s φk_s); causal, the same sums over s ≤ t,
 * written as the masked [T, S] product (quadratic, as ONNX has no matrix-valued prefix scan).
 */
function linearAttention(e: Emitter, [q, k, v]: Value[], causal: boolean): Value {
  const dt = q!.type.dtype;
  const kt = e.emit('transpose', [k!], { perm: [0, 1, 3, 2] }); // [B, H, F, S]
  let num: Value, den: Value;
  if (causal) {
    const t = q!.type.shape[2]!, s = k!.type.shape[2]!;
    const rows = e.emit('reshape', [e.emit('iota', [], { length: t, dtype: 'i32' })], { shape: [t, 1] });
    const cols = e.emit('reshape', [e.emit('iota', [], { length: s, dtype: 'i32' })], { shape: [1, s] });
    const weights = e.emit('where', [e.emit('le', [cols, rows]), e.emit('matmul', [q!, kt]), e.constant(0, dt)]); // [B, H, T, S]
    num = e.emit('matmul', [weights, v!]);
    den = e.emit('reduce_sum', [weights], { axes: [3], keepdims: true });
  } else {
    num = e.emit('matmul', [q!, e.emit('matmul', [kt, v!])]);
    den = e.emit('matmul', [q!, e.emit('reduce_sum', [kt], { axes: [3], keepdims: true })]); // [B, H, T, 1]
  }
  // A row whose denominator is 0 (no visible key) has a zero numerator too: divide by 1 to give 0.
  const zero = e.constant(0, dt);
  return e.emit('div', [num, e.emit('where', [e.emit('eq', [den, zero]), e.constant(1, dt), den])]);
}

type Rewrite = (e: Emitter, operands: Value[], attrs: Attrs) => Value;

const REWRITES: Record<string, Rewrite> = {
  softmax: (e, [x], attrs) => softmax(e, x!, attrs.axis as number),
  layer_norm: (e, xs, attrs) => layerNorm(e, xs, attrs.eps as number),
  rms_norm: (e, xs, attrs) => rmsNorm(e, xs, attrs.eps as number),
  gelu: (e, [x]) => gelu(e, x!),
  gelu_tanh: (e, [x]) => geluTanh(e, x!),
  silu: (e, [x]) => e.emit('mul', [x!, e.emit('sigmoid', [x!])]),
  attention,
  moe_route: moeRoute,
  moe_aux_loss: moeAuxLoss,
  moe_choices: moeChoices,
  expert_matmul: expertMatmul,
  linear_attention: (e, xs, attrs) => linearAttention(e, xs, attrs.causal as boolean),
};

function sameType(a: Value, b: Value): boolean {
  return a.type.dtype === b.type.dtype && a.type.shape.length === b.type.shape.length && a.type.shape.every((d, i) => dimEq(d, b.type.shape[i]!));
}

export const decomposeHighLevel: Pass = {
  info: {
    name: 'decompose-high-level',
    summary: 'rewrite softmax, layer/RMS norm, GELU, SiLU and attention (with its mask) into primitive ops',
  },
  run(graph: Graph): Graph {
    return rewriteOps(graph, (op, operands, ops, ids) => {
      const spec = opSpec(op.op);
      if (!spec) throw new PtmError(diag.ir_invalid(op.loc, `unknown op '${op.op}'`));
      if (spec.level === 'primitive') return undefined;
      const rewrite = REWRITES[op.op];
      if (!rewrite) throw new PtmError(diag.internal_error(op.loc, `no decomposition for the high-level op '${op.op}'`));
      const e = new OpEmitter(ops, ids, op.loc);
      let value: Value;
      try {
        value = rewrite(e, operands, op.attrs);
      } catch (error) {
        // e.g. a mask tensor whose shape does not broadcast against the scores
        if (error instanceof ShapeError) throw new PtmError(diag.export_unsupported(op.loc, `cannot decompose ${op.op}: ${error.message}`));
        throw error;
      }
      const last = ops[ops.length - 1];
      if (!last || last.result !== value || !sameType(value, op.result)) {
        throw new PtmError(diag.internal_error(op.loc, `the decomposition of '${op.op}' does not end in a value of type ${op.result.type.dtype}${shapeToString(op.result.type.shape)}`));
      }
      return value;
    });
  },
};
