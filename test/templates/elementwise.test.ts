// Elementwise template against the cpu reference runtime: each case (data below) builds a kernel,
// runs it on the kernel IR interpreter, and compares with a graph of primitive ops computing the same
// expression in f64; then the same cases rendered to WGSL on WebGPU (which must be available: no skip).
// Cases cover broadcasting, symbolic dims, every activation, bools, i32, gathers, vec4.
import { describe, expect, it } from 'vitest';
import type { ElementwiseSpec } from '../../src/codegen/templates/elementwise.js';
import { elementwiseKernel } from '../../src/codegen/templates/elementwise.js';
import type { KernelInstance } from '../../src/codegen/templates/instance.js';
import { noSpan } from '../../src/diagnostics/span.js';
import type { InstanceRun, KernelArray } from './helpers.js';
import {
  $, bool, buildFused, cast, elementCount, f32, firstMismatch, gather, i32, instanceGrid, maxRelError, num, op, randomArray,
  referenceBuilder, runInterpreted, runReference, runWebGpu, seeded,
} from './helpers.js';
import { gpu } from '../webgpu/helpers.js';
import { broadcastStrides, collapseAxes, contiguousStrides } from '../../src/codegen/templates/indexing.js';

/**
 * Tolerances against the f64 reference (f32 rounding per op): plain arithmetic ≤ 2e-6 relative;
 * erf's fit is good to 1.2e-7 absolute, so erf/gelu ≤ 1e-6; exp/tanh/sigmoid chains ≤ 2e-6;
 * integer and bool results exact.
 */
export const TOL = { arith: 2e-6, erf: 1e-6, exact: 0 };

export interface ElementwiseCase {
  name: string;
  spec: Omit<ElementwiseSpec, 'locs'>;
  symbols?: Record<string, number>;
  /** Value range of random inputs (ids are drawn from the table rows). */
  range?: [number, number];
  /** Per-input data overrides (ids, divisors). */
  data?: Record<number, (n: number, rand: () => number) => KernelArray>;
  tol: number;
  /** Expected kernel name, where the case is about collapsing or vec4. */
  kernel?: string;
  grid?: [number, number, number];
}

const ids = (rows: number) => (n: number, rand: () => number) => Int32Array.from({ length: n }, () => Math.floor(rand() * rows));
const nonzero = (n: number, rand: () => number) => Int32Array.from({ length: n }, () => (rand() < 0.5 ? -1 : 1) * (1 + Math.floor(rand() * 9)));

const ACTIVATIONS = ['gelu', 'gelu_tanh', 'silu', 'sigmoid', 'tanh', 'relu', 'erf', 'exp'];

export const ELEMENTWISE_CASES: ElementwiseCase[] = [
  { name: 'add, same shape (collapses to rank 1)', spec: { inputs: [f32(7, 33), f32(7, 33)], out: f32(7, 33), expr: op('add', $(0), $(1)) }, tol: TOL.arith, kernel: 'ew_add_r1' },
  { name: 'bias broadcast over rows [3,5,257] + [257]', spec: { inputs: [f32(3, 5, 257), f32(257)], out: f32(3, 5, 257), expr: op('add', $(0), $(1)) }, tol: TOL.arith, kernel: 'ew_add_r2' },
  { name: 'two-sided broadcast [4,1,6] * [1,5,1]', spec: { inputs: [f32(4, 1, 6), f32(1, 5, 1)], out: f32(4, 5, 6), expr: op('mul', $(0), $(1)) }, tol: TOL.arith, kernel: 'ew_mul_r3' },
  { name: 'rank 5 without collapse', spec: { inputs: [f32(2, 1, 3, 1, 5), f32(4, 1, 6, 1)], out: f32(2, 4, 3, 6, 5), expr: op('sub', $(0), $(1)) }, tol: TOL.arith, kernel: 'ew_sub_r5' },
  { name: 'scalar output', spec: { inputs: [f32(), f32()], out: f32(), expr: op('div', $(0), $(1)) }, range: [0.5, 2], tol: TOL.arith, kernel: 'ew_div_r0' },
  { name: 'scalar input broadcast, constants', spec: { inputs: [f32(9, 7), f32()], out: f32(9, 7), expr: op('add', op('mul', $(0), num(1.5)), op('max', $(1), num(-0.25))) }, tol: TOL.arith },
  {
    name: 'symbolic [batch, seq, 33] + [seq, 33], bound at run time',
    spec: { inputs: [f32('batch', 'seq', 33), f32('seq', 33)], out: f32('batch', 'seq', 33), expr: op('add', $(0), $(1)) },
    symbols: { batch: 3, seq: 7 }, tol: TOL.arith, kernel: 'ew_add_r2',
  },
  {
    name: 'symbolic middle broadcast [batch, 1, seq] * [batch, 5, seq]',
    spec: { inputs: [f32('batch', 1, 'seq'), f32('batch', 5, 'seq')], out: f32('batch', 5, 'seq'), expr: op('mul', $(0), $(1)) },
    symbols: { batch: 2, seq: 11 }, tol: TOL.arith,
  },
  ...ACTIVATIONS.map((act): ElementwiseCase => ({
    name: `${act} over [769] in [-6, 6]`, spec: { inputs: [f32(769)], out: f32(769), expr: op(act, $(0)) },
    range: [-6, 6], tol: act === 'erf' || act === 'gelu' ? TOL.erf : TOL.arith, kernel: `ew_${act}_r1`,
  })),
  ...ACTIVATIONS.map((act): ElementwiseCase => ({
    name: `bias + ${act} as vec4 [3, 256] + [256]`, spec: { inputs: [f32(3, 256), f32(256)], out: f32(3, 256), expr: op(act, op('add', $(0), $(1))) },
    range: [-4, 4], tol: act === 'erf' || act === 'gelu' ? TOL.erf : TOL.arith, kernel: `ew_add_${act}_r2_vec4`,
  })),
  { name: 'vec4 with a column broadcast [6, 1] and a row [1, 12]', spec: { inputs: [f32(6, 12), f32(6, 1), f32(1, 12)], out: f32(6, 12), expr: op('add', op('mul', $(0), $(1)), $(2)) }, tol: TOL.arith, kernel: 'ew_mul_add_r2_vec4' },
  { name: 'vectorize: false keeps the scalar form', spec: { inputs: [f32(3, 256), f32(256)], out: f32(3, 256), expr: op('add', $(0), $(1)), vectorize: false }, tol: TOL.arith, kernel: 'ew_add_r2' },
  { name: 'pow and log, rsqrt, sqrt, abs, neg', spec: { inputs: [f32(5, 13), f32(5, 13)], out: f32(5, 13), expr: op('add', op('pow', op('abs', $(0)), $(1)), op('neg', op('mul', op('log', op('sqrt', op('abs', $(1)))), op('rsqrt', op('abs', $(0)))))) }, range: [0.25, 3], tol: TOL.arith },
  { name: 'comparison to bool output', spec: { inputs: [f32(4, 9), f32(9)], out: bool(4, 9), expr: op('lt', $(0), $(1)) }, tol: TOL.exact },
  { name: 'bool logic: and/or/not/eq over bool inputs', spec: { inputs: [bool(3, 17), bool(17), f32(3, 17)], out: bool(3, 17), expr: op('or', op('and', $(0), op('not', $(1))), op('eq', op('gt', $(2), num(0)), $(1))) }, tol: TOL.exact },
  { name: 'where with a bool input and a comparison', spec: { inputs: [bool(5, 7), f32(5, 7), f32(7)], out: f32(5, 7), expr: op('where', op('and', $(0), op('ge', $(1), $(2))), $(1), op('mul', $(2), num(-2))) }, tol: TOL.arith },
  {
    name: 'i32 math: add, mul, div (truncating), min, max, abs, neg',
    spec: { inputs: [i32(6, 10), i32(10)], out: i32(6, 10), expr: op('sub', op('add', op('mul', $(0), $(1)), op('div', $(0), $(1))), op('max', op('abs', op('neg', $(0))), op('min', $(1), num(3, 'i32')))) },
    range: [-50, 50], data: { 1: nonzero }, tol: TOL.exact,
  },
  { name: 'casts: f32 -> i32 truncates, bool -> f32, i32 -> f32', spec: { inputs: [f32(4, 11), bool(11), i32(4, 1)], out: f32(4, 11), expr: op('add', cast('f32', cast('i32', op('mul', $(0), num(7)))), op('add', cast('f32', $(1)), cast('f32', $(2)))) }, range: [-3, 3], tol: TOL.arith },
  { name: 'cast f32 -> bool (x != 0) stored as u32', spec: { inputs: [i32(40)], out: bool(40), expr: cast('bool', $(0)) }, range: [-2, 3], tol: TOL.exact },
  {
    name: 'embedding gather [2, 5] ids from a [50, 8] table',
    spec: { inputs: [f32(50, 8), i32(2, 5)], out: f32(2, 5, 8), expr: gather([0], 50, 1, [2, 5, 8]), vectorize: false },
    data: { 1: ids(50) }, tol: TOL.exact, kernel: 'ew_gather_r2',
  },
  {
    name: 'gather from 3 table chunks (20 + 20 + 9 rows), times a scale, vec4',
    spec: { inputs: [f32(20, 12), f32(20, 12), f32(9, 12), i32('batch', 'seq'), f32(12)], out: f32('batch', 'seq', 12), expr: op('mul', gather([0, 1, 2], 20, 3, ['batch', 'seq', 12]), $(4)) },
    symbols: { batch: 3, seq: 7 }, data: { 3: ids(49) }, tol: TOL.arith, kernel: 'ew_gather_mul_r2_vec4',
  },
  {
    name: 'token + position embeddings (iota ids broadcast over batch)',
    spec: { inputs: [f32(30, 6), i32('batch', 'seq'), f32(16, 6)], out: f32('batch', 'seq', 6), expr: op('add', gather([0], 30, 1, ['batch', 'seq', 6]), gather([2], 16, 'iota', ['seq', 6])) },
    symbols: { batch: 2, seq: 9 }, data: { 1: ids(30) }, tol: TOL.arith, kernel: 'ew_gather_add_r3',
  },
  {
    name: 'linearized 2-D grid (forced 3 x 4 workgroups)',
    spec: { inputs: [f32(2900), f32(2900)], out: f32(2900), expr: op('add', $(0), $(1)) }, grid: [3, 4, 1], tol: TOL.arith,
  },
];

export const instanceOf = (c: ElementwiseCase): KernelInstance => elementwiseKernel({ ...c.spec, locs: [noSpan('case')] });

/** Input arrays for a case (seeded by its name, so every backend sees the same data). */
export function caseInputs(c: ElementwiseCase): KernelArray[] {
  let seed = 0;
  for (const ch of c.name) seed = (seed * 31 + ch.charCodeAt(0)) >>> 0;
  const rand = seeded(seed);
  const symbols = new Map(Object.entries(c.symbols ?? {}));
  const [lo, hi] = c.range ?? [-2, 2];
  return c.spec.inputs.map((input, i) => {
    const n = elementCount(input.shape, symbols);
    return c.data?.[i]?.(n, rand) ?? randomArray(input.storage, n, rand, lo, hi);
  });
}

/** The launch of a case: its inputs, its one output, its symbols. */
export function caseRun(c: ElementwiseCase): InstanceRun {
  const symbols = new Map(Object.entries(c.symbols ?? {}));
  return { inputs: caseInputs(c), outputs: [elementCount(c.spec.out.shape, symbols)], symbols, ...(c.grid ? { grid: c.grid } : {}) };
}

/** Checks a case's output against the cpu reference graph of the same expression. */
export function checkElementwise(c: ElementwiseCase, run: InstanceRun, got: KernelArray): void {
  const { b, xs } = referenceBuilder('reference', c.spec.inputs);
  b.output('y', buildFused(b, c.spec.expr, xs));
  const want = runReference(b, c.spec.inputs, run.inputs, run.symbols).get('y')!;
  if (c.tol === 0) {
    const at = firstMismatch(got, want.data);
    expect(at, at < 0 ? '' : `element ${at}: got ${got[at]}, want ${want.data[at]}`).toBe(-1);
  } else {
    expect(maxRelError(got, want.data)).toBeLessThanOrEqual(c.tol);
  }
}

describe('elementwise template on the kernel IR interpreter', () => {
  for (const c of ELEMENTWISE_CASES) {
    it(c.name, () => {
      const instance = instanceOf(c);
      if (c.kernel) expect(instance.kernel.name).toBe(c.kernel);
      const run = caseRun(c);
      checkElementwise(c, run, runInterpreted(instance, run)[0]!);
    });
  }

  it('clamps out-of-range ids to the first and last table row (the cpu reference raises instead)', () => {
    const instance = elementwiseKernel({ inputs: [f32(3, 4), i32(4)], out: f32(4, 4), expr: gather([0], 3, 1, [4, 4]), locs: [] });
    const table = Float32Array.from({ length: 12 }, (_, n) => n);
    const [out] = runInterpreted(instance, { inputs: [table, Int32Array.from([-5, 1, 3, 1000])], outputs: [16] });
    expect(Array.from(out!)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 8, 9, 10, 11]);
  });

  it('launches a 2-D grid past 65535 workgroups', () => {
    const instance = instanceOf(ELEMENTWISE_CASES[0]!);
    const n = 65535 * 256 * 2 + 1; // 131071 workgroups
    expect(instanceGrid({ ...instance, params: { ...instance.params, n } })).toEqual([65535, 3, 1]);
    expect(instanceGrid(instance)).toEqual([1, 1, 1]);
  });

  it('gives sizes and strides as params over the graph symbols (kernels are generic)', () => {
    const instance = instanceOf(ELEMENTWISE_CASES.find((c) => c.name.startsWith('symbolic [batch'))!);
    expect(instance.params).toEqual({ n: '33*batch*seq', dim1: '33*seq' });
  });
});

describe('index helpers', () => {
  it('broadcast strides are Dims, 0 where an operand is broadcast', () => {
    expect(contiguousStrides(['batch', 'seq', 33])).toEqual(['33*seq', 33, 1]);
    expect(broadcastStrides(['seq', 33], ['batch', 'seq', 33])).toEqual([0, 33, 1]);
    expect(broadcastStrides([4, 1, 6], [4, 5, 6])).toEqual([6, 0, 1]);
    expect(() => broadcastStrides([3], [4])).toThrow(/does not broadcast/);
  });

  it('collapses axes every operand addresses alike, dropping size-1 axes', () => {
    const out = ['batch', 'seq', 1, 768];
    const residual = collapseAxes(out, [contiguousStrides(out), broadcastStrides([1, 'seq', 1, 768], out)]);
    expect(residual).toEqual({ shape: ['batch', '768*seq'], strides: [['768*seq', 1], [0, 1]] });
    // A bias [768] is constant along seq, so seq and 768 stay apart; batch and seq merge for it alone.
    const both = collapseAxes(out, [contiguousStrides(out), broadcastStrides([768], out), broadcastStrides([1, 'seq', 1, 768], out)]);
    expect(both).toEqual({ shape: ['batch', 'seq', 768], strides: [['768*seq', 768, 1], [0, 0, 1], [0, 768, 1]] });
  });

  it('binds only the inputs the expression reads', () => {
    const instance = elementwiseKernel({ inputs: [f32(3), f32(3), f32(3)], out: f32(3), expr: op('exp', $(2)), locs: [] });
    expect(instance.kernel.buffers.map((b) => b.name)).toEqual(['in2', 'out']);
    expect(instance.bind).toEqual([{ kind: 'input', index: 2 }, { kind: 'output', index: 0 }]);
  });
});

describe('elementwise template on WebGPU', () => {
  for (const c of ELEMENTWISE_CASES) {
    it(c.name, async () => {
      const ctx = await gpu();
      const run = caseRun(c);
      checkElementwise(c, run, (await runWebGpu(ctx, instanceOf(c), run))[0]!);
    });
  }

  it('clamps out-of-range ids to the first and last table row', async () => {
    const instance = elementwiseKernel({ inputs: [f32(3, 4), i32(4)], out: f32(4, 4), expr: gather([0], 3, 1, [4, 4]), locs: [] });
    const table = Float32Array.from({ length: 12 }, (_, n) => n);
    const [out] = await runWebGpu(await gpu(), instance, { inputs: [table, Int32Array.from([-5, 1, 3, 1000])], outputs: [16] });
    expect(Array.from(out!)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 8, 9, 10, 11]);
  });
});
