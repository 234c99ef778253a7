// Positions computed in kernels: iota leaves (an iota, or one reshaped to [seq, 1]) numbered from a
// start (`past` when decoding with a key/value cache), position-embedding lookups from a start, and
// sin/cos of position angles (sinusoidal and rotary tables), on the template level (kernel IR
// interpreter and WebGPU) and through fusion, lowering and a session. References are float64
// formulas written here. Tolerances: integer results exact; f32 arithmetic 2e-6 relative; sin/cos
// see the comment at SIN_TOL.
import { describe, expect, it } from 'vitest';
import type { ElementwiseSpec } from '../../src/codegen/templates/elementwise.js';
import { elementwiseKernel } from '../../src/codegen/templates/elementwise.js';
import type { RowReduceSpec } from '../../src/codegen/templates/row-reduce.js';
import { rowReduceKernel } from '../../src/codegen/templates/row-reduce.js';
import type { FusedExpr } from '../../src/codegen/templates/fused-expr.js';
import type { KernelInstance } from '../../src/codegen/templates/instance.js';
import type { Dim } from '../../src/ir/index.js';
import type { InstanceRun, KernelArray } from './helpers.js';
import { $, acc, cast, f32, i32, num, op, randomArray, runInterpreted, runWebGpu, seeded } from './helpers.js';
import { gpu } from '../webgpu/helpers.js';

/**
 * sin/cos of an f32 angle x = f32(position * freq): the kernel's error against Math.sin(x) (the exact
 * sine of the angle it computed) is the implementation's, measured ~7e-8 on lavapipe; 1e-6 leaves
 * room for other GPUs while catching a wrong range reduction (errors of order 1e-3 and up). Against
 * the exact angle, f32 rounding of x adds up to half an ulp of x (2.4e-4 at x = 4096): no f32
 * program does better, so that part is allowed per element.
 */
const SIN_TOL = 1e-6;
const REL_TOL = 2e-6;

const iota = (shape: Dim[], axis: number, dtype: 'f32' | 'i32', start?: Dim): FusedExpr => ({ kind: 'iota', shape, axis, dtype, ...(start !== undefined ? { start } : {}) });
const gatherFrom = (table: number, rows: number, start: Dim | undefined, shape: Dim[]): FusedExpr =>
  ({ kind: 'gather', tables: [table], rowsPerChunk: rows, ids: { kind: 'iota', ...(start !== undefined ? { start } : {}) }, shape });

/** Half an ulp of |x| in f32: the rounding error of an f32 result of magnitude |x|. */
const halfUlp = (x: number): number => (x === 0 ? 0 : 2 ** (Math.floor(Math.log2(Math.abs(x))) - 24));

interface PositionCase {
  name: string;
  spec: Omit<ElementwiseSpec, 'locs'>;
  symbols: Record<string, number>;
  /** Inputs by index (random f32 where absent). */
  data?: (rand: () => number) => (KernelArray | undefined)[];
  /** The expected output element n, from the inputs, and the error allowed there. */
  want: (inputs: KernelArray[], n: number) => { value: number; tol: number };
  kernel?: RegExp;
}

const freqs = (count: number) => Float32Array.from({ length: count }, (_, j) => 10000 ** (-(2 * Math.floor(j / 2)) / count));

const CASES: PositionCase[] = [
  {
    // angles (past + i) * freq[j] up to 136: sin over [seq, 64] with the iota along rows (vec4 stays on)
    name: 'sinusoidal table sin((past + i) * freq[j]), iota [seq, 1] from past',
    spec: { inputs: [f32(1, 64)], out: f32('seq', 64), expr: op('sin', op('mul', cast('f32', iota(['seq', 1], 0, 'i32', 'past')), $(0))) },
    symbols: { seq: 37, past: 100 }, data: () => [freqs(64)], kernel: /_vec4$/,
    want: ([f], n) => {
      const x = Math.fround((Math.floor(n / 64) + 100) * f![n % 64]!);
      return { value: Math.sin(x), tol: SIN_TOL };
    },
  },
  {
    name: 'cos(scale[r] * (past + j)), an f32 iota along the last axis [1, seq]',
    spec: { inputs: [f32(3, 1)], out: f32(3, 'seq'), expr: op('cos', op('mul', iota([1, 'seq'], 1, 'f32', 'past'), $(0))) },
    symbols: { seq: 29, past: 7 },
    want: ([s], n) => ({ value: Math.cos(Math.fround(s![Math.floor(n / 29)]! * ((n % 29) + 7))), tol: SIN_TOL }),
  },
  {
    name: 'integers: (7 + i) * m[j] with a constant start, i32 exact',
    spec: { inputs: [i32(1, 4)], out: i32('seq', 4), expr: op('mul', iota(['seq', 1], 0, 'i32', 7), $(0)) },
    symbols: { seq: 13 }, data: (rand) => [randomArray('i32', 4, rand, -50, 50)],
    want: ([m], n) => ({ value: (Math.floor(n / 4) + 7) * m![n % 4]!, tol: 0 }),
  },
  {
    name: 'an iota of the output shape, no start: i as f32 (collapses with the output)',
    spec: { inputs: [], out: f32('seq'), expr: iota(['seq'], 0, 'f32') },
    symbols: { seq: 300 }, want: (_, n) => ({ value: n, tol: 0 }),
  },
  {
    name: 'position embedding wpe[past + i] + x from a symbolic start',
    spec: { inputs: [f32(64, 8), f32('seq', 8)], out: f32('seq', 8), expr: op('add', gatherFrom(0, 64, 'past', ['seq', 8]), $(1)) },
    symbols: { seq: 11, past: 50 },
    want: ([wpe, x], n) => ({ value: wpe![(Math.floor(n / 8) + 50) * 8 + (n % 8)]! + x![n]!, tol: REL_TOL }),
  },
];

function runCase(c: PositionCase): InstanceRun {
  const rand = seeded(c.name.length * 7919);
  const symbols = new Map(Object.entries(c.symbols));
  const given = c.data?.(rand) ?? [];
  const size = (shape: Dim[]) => shape.reduce<number>((a, d) => a * (typeof d === 'number' ? d : symbols.get(d)!), 1);
  const inputs = c.spec.inputs.map((x, i) => given[i] ?? randomArray(x.storage, size(x.shape), rand));
  return { inputs, outputs: [size(c.spec.out.shape)], symbols };
}

function check(c: PositionCase, run: InstanceRun, got: KernelArray): void {
  let worst = 0;
  for (let n = 0; n < got.length; n++) {
    const { value, tol } = c.want(run.inputs as KernelArray[], n);
    const err = Math.abs(got[n]! - value) / (tol === REL_TOL ? Math.max(Math.abs(value), 1) : 1);
    worst = Math.max(worst, Number.isNaN(err) ? Infinity : err - tol);
  }
  expect(worst, 'largest error beyond its tolerance').toBeLessThanOrEqual(0);
}

const instanceOf = (c: PositionCase): KernelInstance => elementwiseKernel({ ...c.spec, locs: [] });

describe('elementwise template with positions (iota leaves, gathers from a start)', () => {
  for (const c of CASES) {
    it(`${c.name} (interpreter)`, () => {
      const instance = instanceOf(c);
      if (c.kernel) expect(instance.kernel.name).toMatch(c.kernel);
      const run = runCase(c);
      check(c, run, runInterpreted(instance, run)[0]!);
    });
    it(`${c.name} (WebGPU)`, async () => {
      const run = runCase(c);
      check(c, run, (await runWebGpu(await gpu(), instanceOf(c), run))[0]!);
    });
  }

  it('binds the start as a launch parameter: one kernel for every past', () => {
    expect(instanceOf(CASES[0]!).params).toMatchObject({ iota0_start: 'past' });
    expect(instanceOf(CASES[4]!).params).toMatchObject({ g0_start: 'past' });
  });
});

describe('row template with an iota in its prologue', () => {
  // softmax over j of x[i, j] · 0.05 (past + j) · 0.1 (past + i): one iota along the row, one across rows
  // (products, not sums: softmax does not see a shift of the whole row)
  const spec: Omit<RowReduceSpec, 'locs'> = {
    kind: 'softmax', inputs: [f32('seq', 40)], out: { shape: ['seq', 40] }, epilogue: acc,
    x: op('mul', op('mul', $(0), op('mul', cast('f32', iota([1, 40], 1, 'i32', 'past')), num(0.05))), op('mul', iota(['seq', 1], 0, 'f32', 'past'), num(0.1))),
  };
  const seq = 6, past = 3;
  const x = randomArray('f32', seq * 40, seeded(3));
  const want = Array.from({ length: seq }, (_, i) => {
    const row = Array.from({ length: 40 }, (_, j) => x[i * 40 + j]! * 0.05 * (past + j) * 0.1 * (past + i));
    const max = Math.max(...row), sum = row.reduce((s, v) => s + Math.exp(v - max), 0);
    return row.map((v) => Math.exp(v - max) / sum);
  }).flat();
  const run: InstanceRun = { inputs: [x], outputs: [seq * 40], symbols: new Map([['seq', seq], ['past', past]]) };
  const worst = (got: KernelArray) => Math.max(...want.map((w, n) => Math.abs(got[n]! - w)));

  it('on the interpreter', () => expect(worst(runInterpreted(rowReduceKernel({ ...spec, locs: [] }), run)[0]!)).toBeLessThanOrEqual(REL_TOL));
  it('on WebGPU', async () => expect(worst((await runWebGpu(await gpu(), rowReduceKernel({ ...spec, locs: [] }), run))[0]!)).toBeLessThanOrEqual(REL_TOL));
});

describe('sin and cos of position angles up to 4096 on WebGPU', () => {
  // positions 0..4095 times 64 frequencies 10000^(-2k/64) (k = 0..31; the largest is 1): the
  // sinusoidal table of a 4096-token context.
  const positions = 4096, d = 64;
  const f = freqs(d);
  for (const fn of ['sin', 'cos'] as const) {
    it(fn, async () => {
      const instance = elementwiseKernel({ inputs: [f32(1, d)], out: f32(positions, d), expr: op(fn, op('mul', cast('f32', iota([positions, 1], 0, 'i32')), $(0))), locs: [] });
      const got = (await runWebGpu(await gpu(), instance, { inputs: [f], outputs: [positions * d] }))[0]!;
      const exact = fn === 'sin' ? Math.sin : Math.cos;
      let implementation = 0, beyondRounding = 0;
      for (let n = 0; n < got.length; n++) {
        const angle = Math.floor(n / d) * f[n % d]!, x = Math.fround(angle);
        implementation = Math.max(implementation, Math.abs(got[n]! - exact(x)));
        beyondRounding = Math.max(beyondRounding, Math.abs(got[n]! - exact(angle)) - halfUlp(angle));
      }
      expect(implementation).toBeLessThanOrEqual(SIN_TOL);
      expect(beyondRounding).toBeLessThanOrEqual(SIN_TOL);
    });
  }
});
