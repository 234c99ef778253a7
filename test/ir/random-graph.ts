// Random valid graphs for property tests, built through GraphBuilder from fast-check's `gen`: each
// step draws an op from the whole registry and picks (or creates) operands its type inference accepts.
import fc from 'fast-check';
import type { Span } from '../../src/diagnostics/span.js';
import { noSpan } from '../../src/diagnostics/span.js';
import type { Attrs, Dim, DType, Graph, InitSpec, MaskBinaryOp, MaskExpr, Value } from '../../src/ir/index.js';
import { DTYPES, GraphBuilder, MASK_VARS, broadcastShapes, dimAdd, dimDivExact, dimMul, dimProduct, dimSub, isFloat, maskTrue } from '../../src/ir/index.js';

type Gen = fc.GeneratorValue;

const SYMBOLS = ['batch', 'seq', 'heads', 'n_ctx'];
const FLOATS: DType[] = ['f32', 'f16', 'bf16', 'f64'];
const UNARY = ['exp', 'log', 'sqrt', 'rsqrt', 'tanh', 'erf', 'sigmoid', 'gelu', 'gelu_tanh', 'silu', 'relu', 'neg', 'abs'];
const BINARY = ['add', 'sub', 'mul', 'div', 'pow', 'max', 'min', 'lt', 'le', 'gt', 'ge', 'eq', 'ne', 'and', 'or'];
const REDUCE = ['reduce_sum', 'reduce_mean', 'reduce_max'];
const MASK_OPS: MaskBinaryOp[] = ['+', '-', '*', '/', '%', '<', '<=', '>', '>=', '==', '!=', '&', '|'];
const FILES = ['models/gpt2.ptm', 'a "quoted" \\ path.ptm', 'модель.ptm'];

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
    iota: () => this.op('iota', [], { length: this.dim(), dtype: this.pick(DTYPES) }),
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
      this.op('attention', operands, { scale: this.float64(), mask: this.int(0, 3) === 0 ? maskTrue : this.mask(3, operands) });
    },
  };

  private mask(depth: number, operands: Value[]): MaskExpr {
    const choice = this.pick(depth > 0 ? [0, 1, 2, 3, 4, 5] : [0, 1]);
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
