// Matmul template against the cpu reference runtime: each case is a spec over dense inputs plus a graph
// of primitive ops whose output has the out buffer's bytes; every case runs with every variant.
// Tolerance 1e-5 relative (max(|want|, 1) denominator): f32 accumulation in another order than f64.
// The same cases then run rendered to WGSL on WebGPU (which must be available: no skip).
import { describe, expect, it } from 'vitest';
import type { Dim, Value } from '../../src/ir/index.js';
import type { GraphBuilder } from '../../src/ir/index.js';
import type { MatmulSpec } from '../../src/codegen/templates/matmul.js';
import type { OperandSpec } from '../../src/codegen/templates/elementwise.js';
import { contiguousStrides } from '../../src/codegen/templates/indexing.js';
import { DEFAULT_MATMUL_VARIANT, matmulKernel, MATMUL_VARIANTS } from '../../src/codegen/templates/matmul.js';
import type { KernelInstance } from '../../src/codegen/templates/instance.js';
import { assertValidKernel, validateKernel } from '../../src/codegen/kernel-ir/validate.js';
import { noSpan } from '../../src/diagnostics/span.js';
import type { InstanceRun, KernelArray } from './helpers.js';
import { $, acc, bindParams, elementCount, f32, maxRelError, num, op, randomArray, referenceBuilder, runInterpreted, runReference, runWebGpu, seeded } from './helpers.js';
import { gpu } from '../webgpu/helpers.js';
import { packParams, renderWgsl } from '../../src/codegen/render/wgsl.js';
import { evalGrid } from '../../src/codegen/kernel-ir/interpret.js';
import { timeDispatches, uploadTensor } from '../../src/runtime/webgpu/index.js';

const TOL = 1e-5;

export interface MatmulCase {
  name: string;
  spec: Omit<MatmulSpec, 'variant' | 'locs'>;
  /** Builds the reference; its output has the out buffer's layout. */
  reference: (b: GraphBuilder, xs: Value[]) => Value;
  /** Elements of the out buffer. */
  outCount: number;
  symbols?: Record<string, number>;
  grid?: [number, number, number];
}

const dense = (shape: Dim[]) => ({ offset: 0, strides: contiguousStrides(shape) });
/** Strides of a [rows, cols] tensor read as [cols, rows] (a transposed operand). */
const transposed = (rows: Dim, cols: Dim) => ({ offset: 0, strides: [1, cols] as Dim[] });

/** A plain [m, k] @ [k, n], both dense. */
function plain(m: number, n: number, k: number): MatmulCase {
  return {
    name: `[${m}, ${k}] @ [${k}, ${n}]`,
    spec: { batch: [], m, n, k, inputs: [f32(m, k), f32(k, n)], a: { input: 0, layout: dense([m, k]) }, b: { input: 1, layout: dense([k, n]) }, out: dense([m, n]) },
    reference: (b, [x, w]) => b.op('matmul', [x!, w!]),
    outCount: m * n,
  };
}

const inputsOf = (...xs: OperandSpec[]) => xs;

export const MATMUL_CASES: MatmulCase[] = [
  plain(1, 1, 1),
  plain(5, 3, 9),
  plain(33, 67, 100),
  plain(70, 64, 64), // n % 4 == 0: the vec4 path of register variants
  plain(1, 68, 9),
  {
    name: 'x [33, 64] @ W^T, W [67, 64] (tied LM head, B strides (1, 64))',
    spec: { batch: [], m: 33, n: 67, k: 64, inputs: inputsOf(f32(33, 64), f32(67, 64)), a: { input: 0, layout: dense([33, 64]) }, b: { input: 1, layout: transposed(67, 64) }, out: dense([33, 67]) },
    reference: (b, [x, w]) => b.op('matmul', [x!, b.op('transpose', [w!], { perm: [1, 0] })]),
    outCount: 33 * 67,
  },
  {
    name: 'A transposed: X^T @ W, X [9, 20] (A strides (1, 20))',
    spec: { batch: [], m: 20, n: 12, k: 9, inputs: inputsOf(f32(9, 20), f32(9, 12)), a: { input: 0, layout: transposed(9, 20) }, b: { input: 1, layout: dense([9, 12]) }, out: dense([20, 12]) },
    reference: (b, [x, w]) => b.op('matmul', [b.op('transpose', [x!], { perm: [1, 0] }), w!]),
    outCount: 20 * 12,
  },
  {
    name: 'broadcast batch [2, 3, 5, 9] @ [1, 3, 9, 12] (B batch strides (0, 108))',
    spec: {
      batch: [2, 3], m: 5, n: 12, k: 9, inputs: inputsOf(f32(2, 3, 5, 9), f32(1, 3, 9, 12)),
      a: { input: 0, layout: dense([2, 3, 5, 9]) }, b: { input: 1, layout: { offset: 0, strides: [0, 108, 12, 1] } }, out: dense([2, 3, 5, 12]),
    },
    reference: (b, [x, w]) => b.op('matmul', [x!, w!]),
    outCount: 2 * 3 * 5 * 12,
  },
  {
    name: 'batch 5 over a grid capped at z = 2 (the batch loop), A broadcast [7, 9] @ [5, 9, 6]',
    spec: {
      batch: [5], m: 7, n: 6, k: 9, inputs: inputsOf(f32(7, 9), f32(5, 9, 6)),
      a: { input: 0, layout: { offset: 0, strides: [0, 9, 1] } }, b: { input: 1, layout: dense([5, 9, 6]) }, out: dense([5, 7, 6]),
    },
    reference: (b, [x, w]) => b.op('matmul', [x!, w!]),
    outCount: 5 * 7 * 6,
    grid: [1, 1, 2],
  },
  {
    name: 'LayerNorm prologue, epilogue gelu_tanh(acc + bias) + residual, batch [2], symbolic seq',
    spec: {
      batch: [2], m: 'seq', n: 36, k: 40, inputs: inputsOf(f32(2, 'seq', 40), f32(40, 36), f32(40), f32(40), f32(36), f32(2, 'seq', 36)),
      a: { input: 0, layout: dense([2, 'seq', 40]) }, b: { input: 1, layout: { offset: 0, strides: [0, 36, 1] } },
      aNorm: { kind: 'layer_norm', weight: 2, bias: 3, eps: 1e-5 },
      epilogue: op('add', op('gelu_tanh', op('add', acc, $(4))), $(5)),
      epilogueLayouts: { 4: { offset: 0, strides: [0, 0, 1] }, 5: dense([2, 'seq', 36]) },
      out: dense([2, 'seq', 36]),
    },
    reference: (b, [x, w, g, beta, bias, res]) => b.op('add', [b.op('gelu_tanh', [b.op('add', [b.op('matmul', [b.op('layer_norm', [x!, g!, beta!], { eps: 1e-5 }), w!]), bias!])]), res!]),
    outCount: 2 * 17 * 36,
    symbols: { seq: 17 },
  },
  {
    name: 'RMSNorm prologue [9, 33] @ [33, 20], k not a multiple of any tile',
    spec: {
      batch: [], m: 9, n: 20, k: 33, inputs: inputsOf(f32(9, 33), f32(33, 20), f32(33)),
      a: { input: 0, layout: dense([9, 33]) }, b: { input: 1, layout: dense([33, 20]) }, aNorm: { kind: 'rms_norm', weight: 2, eps: 1e-6 }, out: dense([9, 20]),
    },
    reference: (b, [x, w, g]) => b.op('matmul', [b.op('rms_norm', [x!, g!], { eps: 1e-6 }), w!]),
    outCount: 9 * 20,
  },
  {
    // Per-head projection: batch (b, h), n = Dh; B is W's column block h (batch strides (0, 8)); the
    // logical [B, H, T, Dh] result is written into [B, T, H, Dh] (strides (168, 8, 24, 1)), i.e. x @ W.
    name: 'head-split output: x [2, 7, 24] @ W [24, 24] as batch (2, 3) of [7, 24] @ [24, 8] into [B, T, H, Dh]',
    spec: {
      batch: [2, 3], m: 7, n: 8, k: 24, inputs: inputsOf(f32(2, 7, 24), f32(24, 24)),
      a: { input: 0, layout: { offset: 0, strides: [168, 0, 24, 1] } }, b: { input: 1, layout: { offset: 0, strides: [0, 8, 24, 1] } },
      out: { offset: 0, strides: [168, 8, 24, 1] },
    },
    reference: (b, [x, w]) => b.op('matmul', [x!, w!]),
    outCount: 2 * 7 * 24,
  },
  {
    name: 'offsets: A rows 2.. of [40, 16], B columns 4.. of [16, 72] (n = 64, 16-byte aligned)',
    spec: {
      batch: [], m: 38, n: 64, k: 16, inputs: inputsOf(f32(40, 16), f32(16, 72)),
      a: { input: 0, layout: { offset: 32, strides: [16, 1] } }, b: { input: 1, layout: { offset: 4, strides: [72, 1] } }, out: dense([38, 64]),
    },
    reference: (b, [x, w]) => b.op('matmul', [b.op('slice', [x!], { axis: 0, start: 2, end: 40, step: 1 }), b.op('slice', [w!], { axis: 1, start: 4, end: 68, step: 1 })]),
    outCount: 38 * 64,
  },
  {
    name: 'bool epilogue (acc > 0.5) stored as u32',
    spec: {
      batch: [], m: 6, n: 10, k: 7, inputs: inputsOf(f32(6, 7), f32(7, 10)),
      a: { input: 0, layout: dense([6, 7]) }, b: { input: 1, layout: dense([7, 10]) }, epilogue: op('gt', acc, num(0.5)), out: dense([6, 10]),
    },
    reference: (b, [x, w]) => b.op('gt', [b.op('matmul', [x!, w!]), b.op('constant', [], { value: 0.5, dtype: 'f32' })]),
    outCount: 60,
  },
];

const instanceOf = (c: MatmulCase, variant: string): KernelInstance => matmulKernel({ ...c.spec, variant: MATMUL_VARIANTS[variant]!, locs: [noSpan(c.name)] });

function caseRun(c: MatmulCase): InstanceRun {
  let seed = 0;
  for (const ch of c.name) seed = (seed * 31 + ch.charCodeAt(0)) >>> 0;
  const rand = seeded(seed);
  const symbols = new Map(Object.entries(c.symbols ?? {}));
  const inputs = c.spec.inputs.map((x) => randomArray(x.storage, elementCount(x.shape, symbols), rand));
  return { inputs, outputs: [c.outCount], symbols, ...(c.grid ? { grid: c.grid } : {}) };
}

export function checkMatmul(c: MatmulCase, run: InstanceRun, got: KernelArray): void {
  const { b, xs } = referenceBuilder('reference', c.spec.inputs);
  b.output('y', c.reference(b, xs));
  const want = runReference(b, c.spec.inputs, run.inputs, run.symbols).get('y')!;
  expect(maxRelError(got, want.data)).toBeLessThanOrEqual(TOL);
}

describe('matmul template on the kernel IR interpreter', () => {
  for (const variant of Object.keys(MATMUL_VARIANTS)) {
    describe(variant, () => {
      for (const c of MATMUL_CASES) {
        it(c.name, () => {
          const instance = instanceOf(c, variant);
          assertValidKernel(instance.kernel);
          expect(validateKernel(instance.kernel)).toEqual([]);
          const run = caseRun(c);
          checkMatmul(c, run, runInterpreted(instance, run)[0]!);
        });
      }
    });
  }

  it('reads B as vec4 only where the layout allows (n-stride 1, n % 4 == 0, 16-byte aligned offsets)', () => {
    const name = (c: string) => instanceOf(MATMUL_CASES.find((x) => x.name.startsWith(c))!, 'reg4x4').kernel.name;
    expect(name('[70, 64]')).toBe('matmul_reg4x4_vec4');
    expect(name('offsets')).toBe('matmul_reg4x4_vec4');
    expect(name('[33, 100]')).toBe('matmul_reg4x4'); // n = 67
    expect(name('x [33, 64] @ W^T')).toBe('matmul_reg4x4'); // B's n-stride is 64
  });

  it('gives sizes and strides as params over the graph symbols; workgroup memory fits 16 KiB', () => {
    const c = MATMUL_CASES.find((x) => x.name.startsWith('LayerNorm'))!;
    for (const variant of Object.keys(MATMUL_VARIANTS)) {
      const instance = instanceOf(c, variant);
      expect(instance.params).toMatchObject({ m: 'seq', n: 36, k: 40, batch: 2, a_s0: '40*seq', out_s0: '36*seq' });
      expect(instance.kernel.shared.reduce((s, a) => s + 4 * a.size, 0)).toBeLessThanOrEqual(16384);
    }
  });
});

/** Cases every variant runs on WebGPU (the rest run with the default variant): lavapipe is slow on a busy CPU. */
const WEBGPU_EVERY_VARIANT = ['[33, 100]', 'LayerNorm prologue', 'head-split output', 'offsets'];

describe('matmul template on WebGPU', () => {
  for (const variant of Object.keys(MATMUL_VARIANTS)) {
    describe(variant, () => {
      const isDefault = MATMUL_VARIANTS[variant] === DEFAULT_MATMUL_VARIANT;
      for (const c of MATMUL_CASES.filter((x) => isDefault || WEBGPU_EVERY_VARIANT.some((prefix) => x.name.startsWith(prefix)))) {
        it(c.name, async () => {
          const run = caseRun(c);
          checkMatmul(c, run, (await runWebGpu(await gpu(), instanceOf(c, variant), run))[0]!);
        });
      }
    });
  }

  it('GFLOP/s of every variant at 256^3 (informational; no timing assertion)', async () => {
    const ctx = await gpu();
    const c = plain(256, 256, 256), rand = seeded(1);
    const a = uploadTensor(ctx, 'a', randomArray('f32', 256 * 256, rand) as Float32Array);
    const b = uploadTensor(ctx, 'b', randomArray('f32', 256 * 256, rand) as Float32Array);
    const out = uploadTensor(ctx, 'out', new Float32Array(256 * 256));
    const lines: string[] = [];
    for (const variant of Object.keys(MATMUL_VARIANTS)) {
      const instance = instanceOf(c, variant), wgsl = renderWgsl(instance.kernel), params = bindParams(instance);
      const grid = evalGrid(instance.kernel, params), repeats = 4;
      const t = await timeDispatches(ctx, (ex) => {
        for (let r = 0; r < repeats; r++) ex.dispatch(instance.kernel, wgsl, [{ buffer: a }, { buffer: b }, { buffer: out }], params, grid);
      }, { packParams, runs: 3 });
      const seconds = t.gpuNs !== null ? t.gpuNs / 1e9 / repeats : t.wallUsPerDispatch / 1e6;
      lines.push(`${variant.padEnd(14)} ${instance.kernel.name.padEnd(28)} ${((2 * 256 ** 3) / seconds / 1e9).toFixed(2)} GFLOP/s`);
    }
    console.log(`matmul 256^3 on ${ctx.adapterInfo.description || ctx.adapterInfo.vendor}:\n${lines.join('\n')}`);
    for (const x of [a, b, out]) x.destroy();
  });
});
