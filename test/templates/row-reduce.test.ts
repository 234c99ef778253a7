// Row-reduction template (softmax, LayerNorm, RMSNorm with fused prologue/epilogue) against the cpu
// reference runtime's softmax/layer_norm/rms_norm ops on a graph of the same computation, in f64.
// The same cases run rendered to WGSL on WebGPU (which must be available: no skip).
// Tolerance: 1e-5 relative (max(|want|, 1) denominator): f32 accumulation in a different order.
import { describe, expect, it } from 'vitest';
import type { Dim } from '../../src/ir/index.js';
import type { RowReduceSpec } from '../../src/codegen/templates/row-reduce.js';
import { rowReduceKernel } from '../../src/codegen/templates/row-reduce.js';
import type { KernelInstance } from '../../src/codegen/templates/instance.js';
import { noSpan } from '../../src/diagnostics/span.js';
import type { InstanceRun, KernelArray } from './helpers.js';
import { $, acc, buildFused, elementCount, f32, gather, i32, maxRelError, num, op, randomArray, referenceBuilder, runInterpreted, runReference, runWebGpu, seeded } from './helpers.js';
import { gpu } from '../webgpu/helpers.js';

const TOL = 1e-5;

interface RowCase {
  name: string;
  spec: Omit<RowReduceSpec, 'locs'>;
  symbols?: Record<string, number>;
  range?: [number, number];
  data?: Record<number, (n: number, rand: () => number) => KernelArray>;
  kernel?: string;
  grid?: [number, number, number];
  /** Overrides TOL (stated where a case is ill-conditioned on purpose). */
  tol?: number;
}

const ids = (rows: number) => (n: number, rand: () => number) => Int32Array.from({ length: n }, () => Math.floor(rand() * rows));
const softmax = (rows: Dim, cols: number): RowCase['spec'] => ({ kind: 'softmax', inputs: [f32(rows, cols)], x: $(0), out: { shape: [rows, cols] } });
/** LayerNorm of x = in0 + in1 (residual), weight in2, bias in3. */
const residualLayerNorm = (shape: Dim[], residual: Dim[], eps: number, saveX: boolean): RowCase['spec'] => {
  const cols = shape[shape.length - 1]!;
  return { kind: 'layer_norm', inputs: [f32(...shape), f32(...residual), f32(cols), f32(cols)], x: op('add', $(0), $(1)), weight: 2, bias: 3, eps, out: { shape }, saveX };
};

export const ROW_CASES: RowCase[] = [
  ...[1, 3, 7, 33, 257, 769].map((cols): RowCase => ({ name: `softmax [5, ${cols}]`, spec: softmax(5, cols), range: [-8, 8], kernel: `softmax_${cols}` })),
  { name: 'softmax of a long row, not cached in shared memory [2, 5000]', spec: softmax(2, 5000), range: [-8, 8] },
  {
    name: 'scaled, masked scores: softmax(x * 0.125 + mask[1, seq]) with symbolic rows',
    spec: { kind: 'softmax', inputs: [f32('batch', 'seq', 40), f32(1, 1, 40)], x: op('add', op('mul', $(0), num(0.125)), $(1)), out: { shape: ['batch', 'seq', 40] } },
    symbols: { batch: 2, seq: 3 }, range: [-30, 30], kernel: 'mul_add_softmax_40',
  },
  { name: 'layer_norm [7, 768]', spec: { kind: 'layer_norm', inputs: [f32(7, 768), f32(768), f32(768)], x: $(0), weight: 1, bias: 2, eps: 1e-5, out: { shape: [7, 768] } }, kernel: 'layer_norm_768' },
  { name: 'layer_norm of a residual sum, saving x, symbolic [batch, seq, 257]', spec: residualLayerNorm(['batch', 'seq', 257], ['batch', 'seq', 257], 1e-12, true), symbols: { batch: 2, seq: 3 }, kernel: 'add_layer_norm_257_save_x' },
  { name: 'layer_norm of x + a broadcast [1, seq, 33] residual', spec: residualLayerNorm(['batch', 'seq', 33], [1, 'seq', 33], 1e-5, false), symbols: { batch: 3, seq: 4 } },
  { name: 'layer_norm of one column (variance 0: the bias)', spec: residualLayerNorm([9, 1], [9, 1], 1e-5, true) },
  {
    // x in [200, 202] with std ≈ 0.4: f32 rounding of x and of the row sum near |mean| costs ~ε·|mean|/std
    // ≈ 5e-5 per unit of weight (|w| ≤ 2). A one-pass E[x²] - mean² would lose ε·mean²/var ≈ 1% instead.
    name: 'layer_norm with a mean far from 0 (two-pass variance)', spec: residualLayerNorm([4, 100], [100], 1e-5, false), range: [100, 101],
    data: { 2: (n, rand) => randomArray('f32', n, rand), 3: (n, rand) => randomArray('f32', n, rand) }, tol: 3e-4,
  },
  { name: 'layer_norm of a long row, uncached [2, 4500], saving x', spec: residualLayerNorm([2, 4500], [2, 4500], 1e-5, true) },
  {
    name: 'layer_norm then gelu(acc) + a bias [cols] (epilogue)',
    spec: { ...residualLayerNorm([6, 65], [6, 65], 1e-5, false), inputs: [f32(6, 65), f32(6, 65), f32(65), f32(65), f32(65)], epilogue: op('add', op('gelu', acc), $(4)) },
    kernel: 'add_layer_norm_65_then_gelu_add',
  },
  { name: 'rms_norm [6, 33]', spec: { kind: 'rms_norm', inputs: [f32(6, 33), f32(33)], x: $(0), weight: 1, eps: 1e-6, out: { shape: [6, 33] } }, kernel: 'rms_norm_33' },
  {
    name: 'rms_norm of a residual sum, saving x, then silu [3, 769]',
    spec: { kind: 'rms_norm', inputs: [f32(3, 769), f32(3, 769), f32(769)], x: op('add', $(0), $(1)), weight: 2, eps: 1e-6, out: { shape: [3, 769] }, saveX: true, epilogue: op('silu', acc) },
  },
  {
    // The BERT embedding layer as one kernel: token (2 table chunks) + position (iota) + segment, then LN.
    name: 'embeddings tok(ids) + pos(iota) + type(ids) then layer_norm, symbolic [batch, seq, 64]',
    spec: {
      kind: 'layer_norm',
      inputs: [f32(25, 64), f32(15, 64), i32('batch', 'seq'), f32(16, 64), f32(2, 64), i32('batch', 'seq'), f32(64), f32(64)],
      x: op('add', op('add', gather([0, 1], 25, 2, ['batch', 'seq', 64]), gather([3], 16, 'iota', ['seq', 64])), gather([4], 2, 5, ['batch', 'seq', 64])),
      weight: 6, bias: 7, eps: 1e-12, out: { shape: ['batch', 'seq', 64] },
    },
    symbols: { batch: 2, seq: 5 }, data: { 2: ids(40), 5: ids(2) }, kernel: 'gather_add_layer_norm_64',
  },
  { name: 'linearized 2-D grid over rows (forced 2 x 3 workgroups for 5 rows)', spec: softmax(5, 19), grid: [2, 3, 1] },
];

const instanceOf = (c: RowCase): KernelInstance => rowReduceKernel({ ...c.spec, locs: [noSpan('case')] });

function caseRun(c: RowCase): InstanceRun {
  let seed = 0;
  for (const ch of c.name) seed = (seed * 31 + ch.charCodeAt(0)) >>> 0;
  const rand = seeded(seed);
  const symbols = new Map(Object.entries(c.symbols ?? {}));
  const [lo, hi] = c.range ?? [-2, 2];
  const inputs = c.spec.inputs.map((input, i) => c.data?.[i]?.(elementCount(input.shape, symbols), rand) ?? randomArray(input.storage, elementCount(input.shape, symbols), rand, lo, hi));
  const n = elementCount(c.spec.out.shape, symbols);
  return { inputs, outputs: c.spec.saveX ? [n, n] : [n], symbols, ...(c.grid ? { grid: c.grid } : {}) };
}

/** Checks the outputs against the reference graph: x, then softmax / layer_norm / rms_norm, then the epilogue. */
function checkRows(c: RowCase, run: InstanceRun, got: KernelArray[]): void {
  const s = c.spec;
  const { b, xs } = referenceBuilder('reference', s.inputs);
  const x = buildFused(b, s.x, xs);
  const core = s.kind === 'softmax' ? b.op('softmax', [x], { axis: -1 })
    : s.kind === 'layer_norm' ? b.op('layer_norm', [x, xs[s.weight!]!, xs[s.bias!]!], { eps: s.eps! })
      : b.op('rms_norm', [x, xs[s.weight!]!], { eps: s.eps! });
  b.output('y', s.epilogue ? buildFused(b, s.epilogue, xs, core) : core);
  b.output('x', x);
  const want = runReference(b, s.inputs, run.inputs, run.symbols);
  expect(maxRelError(got[0]!, want.get('y')!.data)).toBeLessThanOrEqual(c.tol ?? TOL);
  if (s.saveX) expect(maxRelError(got[1]!, want.get('x')!.data)).toBeLessThanOrEqual(2e-6);
}

describe('row-reduce template on the kernel IR interpreter', () => {
  for (const c of ROW_CASES) {
    it(c.name, () => {
      const instance = instanceOf(c);
      if (c.kernel) expect(instance.kernel.name).toBe(c.kernel);
      const run = caseRun(c);
      checkRows(c, run, runInterpreted(instance, run));
    });
  }

  it('picks the workgroup size from the row length and caches short rows in shared memory', () => {
    const sizes = [7, 100, 768, 5000].map((cols) => instanceOf({ name: '', spec: softmax(2, cols) }).kernel);
    expect(sizes.map((k) => k.workgroupSize[0])).toEqual([64, 128, 256, 256]);
    expect(sizes.map((k) => k.shared.map((s) => `${s.name}[${s.size}]`).join(' '))).toEqual(['red[64] xs[7]', 'red[128] xs[100]', 'red[256] xs[768]', 'red[256]']);
  });

  it('rejects a symbolic row length', () => {
    expect(() => instanceOf({ name: '', spec: softmax(2, 'seq' as unknown as number) })).toThrow(/static last axis/);
  });
});

describe('row-reduce template on WebGPU', () => {
  for (const c of ROW_CASES) {
    it(c.name, async () => {
      const run = caseRun(c);
      checkRows(c, run, await runWebGpu(await gpu(), instanceOf(c), run));
    });
  }
});
