// Random valid graphs for property tests, built through GraphBuilder from fast-check's `gen`: each
// step draws an op from the whole registry and picks (or creates) operands its type inference accepts;
// fused ops get random bodies (every leaf kind, consts, casts, bool ops, where, norms, softmax).
import fc from 'fast-check';
import type { Span } from '../../src/diagnostics/span.js';
import { noSpan } from '../../src/diagnostics/span.js';
import type { Attrs, Dim, DType, Graph, InitSpec, MaskBinaryOp, MaskExpr, TensorType, Value } from '../../src/ir/index.js';
import { DTYPES, GraphBuilder, MASK_VARS, broadcastShapes, dimAdd, dimDivExact, dimMul, dimProduct, dimSub, inferType, isFloat, maskTrue, shapeToString } from '../../src/ir/index.js';
import type { FusedExpr } from '../../src/ir/fused.js';
import { inferFused } from '../../src/ir/fused.js';

type Gen = fc.GeneratorValue;

const SYMBOLS = ['batch', 'seq', 'heads', 'n_ctx'];
const FLOATS: DType[] = ['f32', 'f16', 'bf16', 'f64'];
const UNARY = ['exp', 'log', 'sin', 'cos', 'sqrt', 'rsqrt', 'tanh', 'erf', 'sigmoid', 'gelu', 'gelu_tanh', 'silu', 'relu', 'neg', 'abs'];
const BINARY = ['add', 'sub', 'mul', 'div', 'pow', 'max', 'min', 'lt', 'le', 'gt', 'ge', 'eq', 'ne', 'and', 'or'];
const REDUCE = ['reduce_sum', 'reduce_mean', 'reduce_max'];
const MASK_OPS: MaskBinaryOp[] = ['+', '-', '*', '/', '%', '<', '<=', '>', '>=', '==', '!=', '&', '|'];
const FILES = ['models/gpt2.ptm', 'a "quoted" \\ path.ptm', 'модель.ptm'];
const FUSED_ARITHMETIC = ['add', 'sub', 'mul', 'div', 'pow', 'max', 'min'];
const FUSED_COMPARE = ['lt', 'le', 'gt', 'ge'];
/** Fused constants stress printing too: infinities, -0, an integer past 1e21, tiny and arbitrary doubles. */
const FUSED_F32_CONSTS = [0, -0, 1, -1, 0.5, 2, 1e-5, 1e21, Infinity, -Infinity];

/** A fused body being drawn: the fused op's operands so far, its iteration shape, the core's type. */
interface FusedBody {
  operands: Value[];
  shape: Dim[];
  acc?: TensorType;
}

/** Floats that stress printing: any double but NaN, plus infinities, ±0, subnormals and extremes. */
const floatArb = (): fc.Arbitrary<number> =>
  fc.oneof(fc.double({ noNaN: true }), fc.constantFrom(Infinity, -Infinity, 0, -0, 1, 1e-12, 5e-324, Number.MAX_VALUE, 0.125, 1e21, 123456789));

/** Builds one random valid graph and records which ops it used in `opsUsed`. */
export function randomGraph(gen: Gen, opsUsed: Set<string> = new Set()): Graph {
  return new RandomGraph(gen, opsUsed).build();
}

class RandomGraph {
  private b = new GraphBuilder('');
  private readonly pool: Value[] = [];
  private symbols: string[] = [];
  private fresh = 0;

  constructor(private readonly gen: Gen, private readonly opsUsed: Set<string>) {}

  build(): Graph {
    this.b = new GraphBuilder(this.pick(['GPT2', 'tiny_llama', 'model.v2']));
    this.symbols = this.gen(fc.subarray, SYMBOLS, { minLength: 1 });
    this.symbols.forEach((s) => this.b.symbol(s));
    for (let i = this.int(1, 3); i > 0; i--) this.newInput(this.pick(DTYPES), this.shape(this.int(0, 4)));
    for (let i = this.int(1, 3); i > 0; i--) this.newParam(this.pick(FLOATS), this.shape(this.int(0, 3)));
    const recipes = Object.keys(this.recipes) as (keyof RandomGraph['recipes'])[];
    for (let i = this.int(0, 14); i > 0; i--) this.recipes[this.pick(recipes)]();
    const names = ['logits', 'loss', 'hidden.last', 'out'];
    for (let i = this.int(1, 3); i > 0; i--) this.b.output(names.pop()!, this.pick(this.pool), this.loc());
    return this.b.finish();
  }

  private readonly recipes = {
    unary: () => {
      const name = this.pick(UNARY);
      this.op(name, [name === 'neg' || name === 'abs' ? this.numeric() : this.float()]);
    },
    not: () => this.op('not', [this.value((v) => v.type.dtype === 'bool', () => this.newInput('bool', this.shape(this.int(0, 3))))]),
    binary: () => {
      const name = this.pick(BINARY);
      const x = name === 'and' || name === 'or' ? this.value((v) => v.type.dtype === 'bool', () => this.constant('bool'))
        : name === 'eq' || name === 'ne' ? this.pick(this.pool) : this.numeric();
      const y = this.partner(x);
      this.op(name, this.bool() ? [x, y] : [y, x]);
    },
    where: () => {
      const a = this.pick(this.pool);
      const b = this.partner(a);
      const shape = broadcastShapes(a.type.shape, b.type.shape);
      const c = this.value((v) => v.type.dtype === 'bool' && broadcasts(v.type.shape, shape), () => this.constant('bool'));
      this.op('where', [c, a, b]);
    },
    cast: () => this.op('cast', [this.pick(this.pool)], { to: this.pick(DTYPES) }),
    constant: () => this.constant(this.pick(DTYPES)),
    iota: () => this.op('iota', [], this.bool() ? { length: this.dim(), dtype: this.pick(DTYPES) } : { length: this.dim(), dtype: this.pick(DTYPES), start: this.dim() }),
    reshape: () => {
      const x = this.pick(this.pool);
      const shape = x.type.shape;
      const target = this.pick([[dimProduct(shape)], [1, ...shape], [...shape].reverse(), [...shape, 1]]);
      this.op('reshape', [x], { shape: target });
    },
    transpose: () => {
      const x = this.pick(this.pool);
      const axes = x.type.shape.map((_, i) => i);
      this.op('transpose', [x], { perm: this.gen(fc.shuffledSubarray, axes, { minLength: axes.length, maxLength: axes.length }) });
    },
    slice: () => {
      const x = this.ranked(1);
      const axis = this.int(0, x.type.shape.length - 1);
      const d = x.type.shape[axis]!;
      const start: Dim = typeof d === 'number' ? this.int(0, d) : this.int(0, 2);
      const end: Dim = typeof d === 'number' ? this.int(start, d) : d;
      let step = this.int(1, 3);
      if (typeof dimSub(end, start) !== 'number' && dimDivExact(dimSub(end, start), step) === undefined) step = 1;
      this.op('slice', [x], { axis: this.axis(axis, x), start, end, step });
    },
    concat: () => {
      const x = this.ranked(1);
      const parts = Array.from({ length: this.int(1, 3) }, () => x);
      this.op('concat', parts, { axis: this.axis(this.int(0, x.type.shape.length - 1), x) });
    },
    gather: () => {
      const table = this.ranked(1);
      const indices = this.value((v) => v.type.dtype === 'i32' || v.type.dtype === 'i64', () => this.op('iota', [], { length: this.dim(), dtype: 'i64' }));
      this.op('gather', [table, indices], { axis: this.axis(this.int(0, table.type.shape.length - 1), table) });
    },
    reduce: () => {
      const x = this.numeric();
      const axes = this.gen(fc.subarray, x.type.shape.map((_, i) => i)).map((a) => this.axis(a, x));
      this.op(this.pick(REDUCE), [x], { axes, keepdims: this.bool() });
    },
    matmul: () => {
      const a = this.value((v) => isFloat(v.type.dtype) && v.type.shape.length >= 2, () => this.newInput(this.pick(FLOATS), this.shape(this.int(2, 4))));
      const [m, k] = a.type.shape.slice(-2) as [Dim, Dim];
      const b = m === k && this.bool() ? a
        : this.bool() ? this.op('transpose', [a], { perm: [...a.type.shape.keys()].map((i, _, all) => (i < all.length - 2 ? i : 2 * all.length - 3 - i)) })
        : this.newParam(a.type.dtype, [k, this.dim()]);
      this.op('matmul', [a, b]);
    },
    softmax: () => {
      const x = this.value((v) => isFloat(v.type.dtype) && v.type.shape.length >= 1, () => this.newInput('f32', this.shape(this.int(1, 3))));
      this.op('softmax', [x], { axis: this.axis(this.int(0, x.type.shape.length - 1), x) });
    },
    norm: () => {
      const x = this.value((v) => isFloat(v.type.dtype) && v.type.shape.length >= 1, () => this.newInput('f16', this.shape(this.int(1, 3))));
      const d = x.type.shape.at(-1)!;
      const weight = this.newParam(x.type.dtype, [d], { kind: 'ones' });
      if (this.bool()) this.op('rms_norm', [x, weight], { eps: this.float64() });
      else this.op('layer_norm', [x, weight, this.newParam(x.type.dtype, [d], { kind: 'zeros' })], { eps: this.float64() });
    },
    attention: () => {
      const [batch, heads, tq, tk, dk, dv] = [this.dim(), this.pick([1, 2, 12]), this.dim(), this.dim(), this.dim(), this.dim()];
      const dtype = this.pick(FLOATS);
      const q = this.value((v) => isFloat(v.type.dtype) && v.type.shape.length === 4, () => this.newInput(dtype, [batch, heads, tq, dk]));
      const [b, h, , d] = q.type.shape as Dim[];
      const k = this.bool() ? q : this.newInput(q.type.dtype, [b!, h!, tk, d!]);
      const v = this.bool() ? k : this.newInput(q.type.dtype, [b!, h!, k.type.shape[2]!, dv]);
      const extras = [...new Set(Array.from({ length: this.int(0, 2) }, () => this.ranked(0)))];
      const operands = [q, k, v, ...extras];
      const attrs: Attrs = { scale: this.float64(), mask: this.int(0, 3) === 0 ? maskTrue : this.mask(3, operands) };
      if (this.bool()) attrs.bias = this.mask(3, operands);
      this.op('attention', operands, attrs);
    },
    linear_attention: () => {
      const q = this.value((v) => isFloat(v.type.dtype) && v.type.shape.length === 4, () => this.newInput(this.pick(FLOATS), [this.dim(), this.pick([1, 2]), this.dim(), this.dim()]));
      const [b, h, , f] = q.type.shape as Dim[];
      const k = this.bool() ? q : this.newInput(q.type.dtype, [b!, h!, this.dim(), f!]);
      const v = this.bool() ? k : this.newInput(q.type.dtype, [b!, h!, k.type.shape[2]!, this.dim()]);
      this.op('linear_attention', [q, k, v], { causal: this.bool() });
    },
    moe: () => {
      // router probabilities [..., E] with a known number of experts
      const p = this.value((v) => isFloat(v.type.dtype) && typeof v.type.shape.at(-1) === 'number' && (v.type.shape.at(-1) as number) >= 1, () => this.newInput('f32', [...this.shape(this.int(0, 2)), this.int(1, 4)]));
      const experts = p.type.shape.at(-1) as number;
      const topK = experts >= 2 && this.bool() ? 2 : 1;
      const choice = this.int(0, 3);
      if (choice === 0) this.op('moe_aux_loss', [p]);
      else if (choice === 1) this.op('moe_route', [p], { top_k: topK, capacity: this.pick([0.5, 1, 1.25, 2]) });
      else {
        // expert rows: x [..., 1 | k, din] through w [E, din, dout] for the routed experts
        const routed = this.op('moe_choices', [p], { top_k: topK });
        if (choice === 3) return;
        const lead = routed.type.shape.slice(0, -1), din = this.int(1, 3), dout = this.int(1, 3);
        const x = this.newInput(p.type.dtype, [...lead, this.bool() ? 1 : topK, din]);
        const operands = [x, this.newParam(p.type.dtype, [experts, din, dout]), routed];
        if (this.bool()) operands.push(this.newParam(p.type.dtype, [experts, dout]));
        this.op('expert_matmul', operands);
      }
    },
    fused_elementwise: () => {
      const shape = this.bool() ? this.pick(this.pool).type.shape : this.shape(this.int(0, 3));
      const body: FusedBody = { operands: [], shape };
      const dtype = this.pick<DType>(['f32', 'f32', this.pick(FLOATS), 'i32', 'i64', 'bool']);
      const expr = this.fusedExpr(body, dtype, this.int(0, 3));
      this.op('fused_elementwise', body.operands, { expr });
    },
    fused_matmul: () => {
      // epilogue(norm(a) @ b); a: [..., M, K], b: [K, N] or batched
      const a = this.value((v) => isFloat(v.type.dtype) && v.type.shape.length >= 2, () => this.newInput(this.pick(FLOATS), this.shape(this.int(2, 3))));
      const dtype = a.type.dtype;
      const k = a.type.shape.at(-1)!;
      const b = this.bool() ? this.newParam(dtype, [k, this.dim()]) : this.newInput(dtype, [...a.type.shape.slice(0, -2), k, this.dim()]);
      const body: FusedBody = { operands: [a, b], shape: [] };
      const norm = this.pick(['none', 'layer_norm', 'rms_norm']);
      const weight = norm === 'none' ? -1 : body.operands.push(this.newParam(dtype, [k], { kind: 'ones' })) - 1;
      const bias = norm === 'layer_norm' ? body.operands.push(this.newParam(dtype, [k])) - 1 : -1;
      body.acc = inferType('matmul', [a.type, b.type], {});
      body.shape = body.acc.shape;
      const epilogue = this.fusedEpilogue(body);
      this.op('fused_matmul', body.operands, { norm, eps: this.float64(), norm_weight: weight, norm_bias: bias, epilogue });
    },
    fused_row: () => {
      // epilogue(core(x)) over the last axis, x a prologue of the row's full shape
      const dtype = this.pick(FLOATS);
      const shape = this.shape(this.int(1, 3));
      const body: FusedBody = { operands: [], shape };
      const x = this.fusedFull(body, dtype, this.int(0, 2));
      const kind = this.pick(['softmax', 'layer_norm', 'rms_norm']);
      const d = shape.at(-1)!;
      const weight = kind === 'softmax' ? -1 : body.operands.push(this.newParam(dtype, [d], { kind: 'ones' })) - 1;
      const bias = kind === 'layer_norm' ? body.operands.push(this.newParam(dtype, [d])) - 1 : -1;
      body.acc = { dtype, shape };
      const epilogue = this.fusedEpilogue(body);
      this.op('fused_row', body.operands, { kind, eps: this.float64(), weight, bias, x, epilogue });
    },
  };

  // ---- fused bodies ----------------------------------------------------------------------------

  /** An expression of type `dtype` whose shape broadcasts to the body's iteration shape. */
  private fusedExpr(body: FusedBody, dtype: DType, depth: number): FusedExpr {
    if (depth <= 0 || this.int(0, 3) === 0) return this.fusedLeaf(body, dtype);
    const sub = (t: DType): FusedExpr => this.fusedExpr(body, t, depth - 1);
    const op = (name: string, args: FusedExpr[]): FusedExpr => ({ kind: 'op', op: name, args });
    const where = (): FusedExpr => op('where', [sub('bool'), sub(dtype), sub(dtype)]);
    if (isFloat(dtype)) {
      return this.pick<() => FusedExpr>([
        () => op(this.pick(UNARY), [sub(dtype)]),
        () => op(this.pick(FUSED_ARITHMETIC), [sub(dtype), sub(dtype)]),
        where,
        // only f32 is reachable by a cast (casts go to f32, i32 or bool)
        () => (dtype === 'f32' ? this.fusedCast('f32', sub(this.pick<DType>(['i32', 'bool', this.pick(FLOATS)]))) : op('neg', [sub(dtype)])),
      ])();
    }
    if (dtype !== 'bool') {
      return this.pick<() => FusedExpr>([
        () => op(this.pick(['neg', 'abs']), [sub(dtype)]),
        () => op(this.pick(FUSED_ARITHMETIC), [sub(dtype), sub(dtype)]),
        where,
        () => (dtype === 'i32' ? this.fusedCast('i32', sub(this.pick<DType>(['f32', 'bool']))) : where()),
      ])();
    }
    const numeric = this.pick<DType>(['f32', 'i32', this.pick(FLOATS)]);
    return this.pick<() => FusedExpr>([
      () => op('not', [sub('bool')]),
      () => op(this.pick(['and', 'or']), [sub('bool'), sub('bool')]),
      () => op(this.pick(FUSED_COMPARE), [sub(numeric), sub(numeric)]),
      () => { const t = this.pick<DType>([numeric, 'bool']); return op(this.pick(['eq', 'ne']), [sub(t), sub(t)]); },
      where,
      () => this.fusedCast('bool', sub(this.pick<DType>(['f32', 'i32']))),
    ])();
  }

  private fusedCast(to: 'f32' | 'i32' | 'bool', x: FusedExpr): FusedExpr {
    // `to` defaults to f32: sometimes leave it out
    return to === 'f32' && this.bool() ? { kind: 'op', op: 'cast', args: [x] } : { kind: 'op', op: 'cast', args: [x], to };
  }

  private fusedLeaf(body: FusedBody, dtype: DType): FusedExpr {
    const leaves: (() => FusedExpr)[] = [() => ({ kind: 'input', index: this.fusedOperand(body, dtype) })];
    if (dtype === 'f32' || dtype === 'i32' || dtype === 'bool') leaves.push(() => this.fusedConst(dtype));
    if (body.acc?.dtype === dtype) leaves.push(() => ({ kind: 'acc' }), () => ({ kind: 'acc' }));
    if (body.shape.length >= 1) leaves.push(() => this.fusedGather(body, dtype));
    return this.pick(leaves)();
  }

  private fusedConst(dtype: 'f32' | 'i32' | 'bool'): FusedExpr {
    const value = dtype === 'bool' ? this.int(0, 1)
      : dtype === 'i32' ? this.int(-4, 4)
      : this.pick<() => number>([() => this.pick(FUSED_F32_CONSTS), () => this.gen(fc.double, { min: -4, max: 4, noNaN: true }), () => this.float64()])();
    return { kind: 'const', value, dtype };
  }

  /** The index of an operand of `dtype` that broadcasts to the body's shape: reused, from the pool, or new. */
  private fusedOperand(body: FusedBody, dtype: DType, shape?: Dim[]): number {
    const fits = (v: Value): boolean => v.type.dtype === dtype && (shape ? shapeToString(v.type.shape) === shapeToString(shape) : broadcastsTo(v.type.shape, body.shape));
    const v = this.value(fits, () => {
      const s = shape ?? this.subShape(body.shape);
      return isFloat(dtype) && this.bool() ? this.newParam(dtype, s) : this.newInput(dtype, s);
    });
    const index = body.operands.indexOf(v);
    return index >= 0 ? index : body.operands.push(v) - 1;
  }

  /** An embedding lookup of width D = the last dim: 1-3 chunks, ids an integer input or iota. */
  private fusedGather(body: FusedBody, dtype: DType): FusedExpr {
    const d = body.shape.at(-1)!;
    const iota = body.shape.length >= 2 && this.bool();
    const idsShape = iota ? [this.pick([body.shape.at(-2)!, 1])] : this.subShape(body.shape.slice(0, -1));
    const ids = iota ? { kind: 'iota' as const } : { kind: 'input' as const, index: body.operands.push(this.newInput(this.pick<DType>(['i32', 'i64']), idsShape)) - 1 };
    // bool tables are computed (x != 0) from f32 ones; integer tables are inputs (params are floats)
    const table = (rows: Dim): Value => {
      if (isFloat(dtype)) return this.newParam(dtype, [rows, d]);
      if (dtype !== 'bool') return this.newInput(dtype, [rows, d]);
      return this.op('ne', [this.newParam('f32', [rows, d]), this.op('constant', [], { value: 0, dtype: 'f32' })]);
    };
    let tables: Value[];
    let rowsPerChunk: number;
    if (this.int(0, 3) === 0) {
      // one table of symbolic rows (a position embedding [n_ctx, D])
      rowsPerChunk = 4096;
      tables = [table(this.pick(this.symbols))];
    } else {
      rowsPerChunk = this.pick([2, 3, 4, 8]);
      const chunks = this.int(1, 3);
      tables = Array.from({ length: chunks }, (_, c) => table(c < chunks - 1 ? rowsPerChunk : this.int(1, rowsPerChunk)));
    }
    return { kind: 'gather', tables: tables.map((t) => body.operands.push(t) - 1), rowsPerChunk, ids, shape: [...idsShape, d] };
  }

  /** An expression of exactly the body's shape: a drawn one, widened by an operand of that shape if needed. */
  private fusedFull(body: FusedBody, dtype: DType, depth: number): FusedExpr {
    const e = this.fusedExpr(body, dtype, depth);
    if (shapeToString(this.fusedType(body, e).shape) === shapeToString(body.shape)) return e;
    const full: FusedExpr = { kind: 'input', index: this.fusedOperand(body, dtype, body.shape) };
    return { kind: 'op', op: this.pick(FUSED_ARITHMETIC), args: this.bool() ? [full, e] : [e, full] };
  }

  /** An epilogue: the core's type exactly (a body that does not reach it is combined with acc). */
  private fusedEpilogue(body: FusedBody): FusedExpr {
    const acc = body.acc!;
    if (this.int(0, 4) === 0) return { kind: 'acc' };
    const e = this.fusedExpr(body, acc.dtype, this.int(1, 3));
    if (shapeToString(this.fusedType(body, e).shape) === shapeToString(acc.shape)) return e;
    return { kind: 'op', op: this.pick(FUSED_ARITHMETIC), args: this.bool() ? [{ kind: 'acc' }, e] : [e, { kind: 'acc' }] };
  }

  private fusedType(body: FusedBody, e: FusedExpr): TensorType {
    return inferFused(e, body.operands.map((v) => v.type), body.acc);
  }

  /** A trailing part of `shape` with some dims set to 1: it broadcasts to `shape`. */
  private subShape(shape: readonly Dim[]): Dim[] {
    const rank = this.bool() ? shape.length : this.int(0, shape.length);
    return shape.slice(shape.length - rank).map((d) => (this.int(0, 3) === 0 ? 1 : d));
  }

  private mask(depth: number, operands: Value[]): MaskExpr {
    const choice = this.pick(depth > 0 ? [0, 1, 2, 3, 4, 5, 6, 7] : [0, 1, 6]);
    if (choice === 6) return { kind: 'dim', dim: this.dim() };
    if (choice === 7) return { kind: 't5_bucket', rel: this.mask(depth - 1, operands), buckets: this.int(4, 64), maxDistance: this.int(40, 512), bidirectional: this.bool() };
    if (choice === 0) return { kind: 'var', name: this.pick(MASK_VARS) };
    if (choice === 1) return this.bool() ? { kind: 'const', value: this.int(-5, 600) } : { kind: 'const', value: this.int(0, 1), bool: true };
    if (choice === 2 || choice === 3) {
      if (operands.length === 3) return { kind: 'var', name: 'q' };
      const operand = this.int(3, operands.length - 1);
      const indices = operands[operand]!.type.shape.map(() => this.mask(depth - 1, operands));
      return { kind: 'read', operand, indices };
    }
    if (choice === 4) return { kind: 'not', operand: this.mask(depth - 1, operands) };
    return { kind: 'binary', op: this.pick(MASK_OPS), left: this.mask(depth - 1, operands), right: this.mask(depth - 1, operands) };
  }

  // ---- values ----------------------------------------------------------------------------------

  private op(name: string, operands: Value[], attrs: Attrs = {}): Value {
    this.opsUsed.add(name);
    const result = this.b.op(name, operands, attrs, this.loc());
    this.pool.push(result);
    return result;
  }

  private constant(dtype: DType): Value {
    return this.op('constant', [], { value: this.float64(), dtype });
  }

  private newInput(dtype: DType, shape: Dim[]): Value {
    const value = this.b.input(this.pick(['x', 'in.', 'tokens_']) + this.fresh++, { dtype, shape }, this.loc());
    this.pool.push(value);
    return value;
  }

  private newParam(dtype: DType, shape: Dim[], init?: InitSpec): Value {
    const inits: InitSpec[] = [{ kind: 'zeros' }, { kind: 'ones' }, { kind: 'normal', std: this.gen(fc.double, { min: 0, max: 1e300, noNaN: true }) }, { kind: 'normal', std: 0.02 }];
    const value = this.b.param(`layers.${this.fresh++}.w`, { dtype, shape }, init ?? this.pick(inits), this.loc());
    this.pool.push(value);
    return value;
  }

  /** A pool value satisfying `want`, or `make()` when there is none (or by chance). */
  private value(want: (v: Value) => boolean, make: () => Value): Value {
    const fits = this.pool.filter(want);
    return fits.length > 0 && this.int(0, 3) > 0 ? this.pick(fits) : make();
  }

  private float(): Value {
    return this.value((v) => isFloat(v.type.dtype), () => this.newParam(this.pick(FLOATS), this.shape(this.int(0, 3))));
  }

  private numeric(): Value {
    return this.value((v) => v.type.dtype !== 'bool', () => this.newInput(this.pick(['i32', 'f32'] as DType[]), this.shape(this.int(0, 3))));
  }

  private ranked(minRank: number): Value {
    return this.value((v) => v.type.shape.length >= minRank, () => this.newInput(this.pick(DTYPES), this.shape(this.int(minRank, 3))));
  }

  /** A value of x's dtype whose shape broadcasts with x's: x itself, a pool value, or a scalar constant. */
  private partner(x: Value): Value {
    const fits = this.pool.filter((v) => v.type.dtype === x.type.dtype && broadcasts(v.type.shape, x.type.shape));
    return this.bool() ? this.pick(fits) : this.constant(x.type.dtype);
  }

  // ---- small draws -----------------------------------------------------------------------------

  private dim(): Dim {
    const s = this.pick(this.symbols);
    return this.pick<Dim>([1, 2, 3, 4, 8, s, s, dimMul(s, this.pick(this.symbols)), dimAdd(s, this.int(-3, 512)), dimMul(2, s)]);
  }

  private shape(rank: number): Dim[] {
    return Array.from({ length: rank }, () => this.dim());
  }

  /** An axis of x, sometimes written negatively. */
  private axis(axis: number, x: Value): number {
    return this.bool() ? axis : axis - x.type.shape.length;
  }

  private loc(): Span {
    if (this.bool()) return noSpan();
    return { file: this.pick(FILES), line: this.int(1, 5000), col: this.int(1, 200), offset: this.int(0, 1e6), end: this.int(0, 1e6) };
  }

  private float64(): number {
    return this.gen(floatArb);
  }

  private int(min: number, max: number): number {
    return this.gen(fc.integer, { min, max });
  }

  private bool(): boolean {
    return this.gen(fc.boolean);
  }

  /** Uniform (unbiased) choice, so every recipe and mask form is drawn as often as the others. */
  private pick<T>(xs: readonly T[]): T {
    return xs[this.gen(() => fc.noBias(fc.integer({ min: 0, max: xs.length - 1 })))]!;
  }
}

/** True when `a` broadcasts to exactly `shape` (NumPy rules, `shape` unchanged). */
function broadcastsTo(a: readonly Dim[], shape: readonly Dim[]): boolean {
  return broadcasts(a, shape) && shapeToString(broadcastShapes(a, shape)) === shapeToString(shape);
}

function broadcasts(a: readonly Dim[], b: readonly Dim[]): boolean {
  try {
    broadcastShapes(a, b);
    return true;
  } catch {
    return false;
  }
}

/** The graph with every span's offset and end zeroed: the text keeps only file:line:col. */
export function withoutOffsets(g: Graph): Graph {
  const strip = <T extends { loc: Span }>(x: T): T => ({ ...x, loc: { ...x.loc, offset: 0, end: 0 } });
  return { ...g, inputs: g.inputs.map(strip), params: g.params.map(strip), ops: g.ops.map(strip), outputs: g.outputs.map(strip) };
}
