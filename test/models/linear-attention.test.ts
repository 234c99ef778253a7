// Linear-cost attention (REFERENCE.md §7.5): elu+1 (Katharopoulos et al. 2020), FAVOR+ (Choromanski
// et al. 2021) and Linformer (Wang et al. 2020) through the whole compiler, against float64 references
// written from the papers' equations (the quadratic form Σ_j φ(q_i)·φ(k_j) v_j / Σ_j φ(q_i)·φ(k_j), not
// the running-sum form the kernels use); then the three models at published sizes and tiny.
// Tolerances:
// - CPU float64 vs the float64 reference: relative error norm <= 1e-9 (both f64 from the same f32
//   weights, sums in other orders: measured ~1e-15). A wrong feature map or mask moves outputs by 1e-2+.
// - FAVOR+ vs exact softmax attention: an estimate whose spread shrinks like 1/√m (the paper's Lemma 2);
//   mean over 5 seeds decreasing at every step m = 16 -> 64 -> 256 -> 1024, and at 1024 <= 0.06
//   (measured 0.046) and <= 0.25 of the exact output's distance from uniform attention (measured 0.19).
// - WebGPU vs CPU (both f32): relative error norm <= 1e-4 (the bound).
// - onnxruntime vs CPU (both f32): max abs error <= 1e-4 x max(1, largest |output|), as family.test.ts.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { compile, compileGraph } from '../../src/api.js';
import type { Compiled } from '../../src/api.js';
import { PtmError } from '../../src/diagnostics/diagnostic.js';
import type { Graph } from '../../src/ir/types.js';
import { decodeStep } from '../../src/passes/derive-decode-step.js';
import { initParam, initParams, loadParams, RandomStream, runGraph, size, tensor, writeSafetensors } from '../../src/runtime/index.js';
import type { Tensor } from '../../src/runtime/index.js';
import { main } from '../../src/cli/main.js';
import { WebGpuDevice } from '../../src/runtime/program/webgpu-device.js';
import { errorLog, expectOnnxMaxAbsAgreement, expectWebGpuMatchesCpu, expectWgslAndNvcc, nvccWorkspace, relativeError } from './harness.js';

type Rows = Float64Array[];
type Weights = Map<string, Tensor>;

// ---------------------------------------------------------------------------------------------------
// Weights, inputs and float64 helpers

/**
 * Non-trivial weights: matrices N(0, 1/rows), biases N(0, 0.1²), LayerNorm scales 1 + N(0, 0.1²).
 * FAVOR+'s `favor_features` is a constant of the model, not a weight: it keeps its seeded value.
 */
function weights(graph: Graph, seed: number): Weights {
  return new Map(graph.params.map((p) => {
    if (p.init.kind === 'random_features') return [p.name, initParam(p, seed)];
    const shape = p.value.type.shape as number[];
    const z = new RandomStream(seed, p.name).normals(size(shape));
    const data = Float32Array.from(z, (v) => (p.init.kind === 'ones' ? 1 + 0.1 * v : shape.length === 1 ? 0.1 * v : v / Math.sqrt(shape[0]!)));
    return [p.name, tensor('f32', shape, data)];
  }));
}

function normalInput(seed: number, shape: number[]): Tensor {
  return tensor('f32', shape, Float32Array.from(new RandomStream(seed, 'x').normals(size(shape))));
}

/** Rows of batch row b of a [batch, seq, d] tensor, as float64. */
function rowsOf(t: Tensor, b: number): Rows {
  const [, T, D] = t.shape as [number, number, number];
  return Array.from({ length: T }, (_, i) => Float64Array.from(t.data.subarray((b * T + i) * D, (b * T + i + 1) * D)));
}

/** x @ W + bias for W: [in, out] (row-major, f32 values read as f64). */
function linear(w: Weights, name: string, x: Rows): Rows {
  const W = w.get(`${name}.weight`)!, bias = w.get(`${name}.bias`);
  const [inF, out] = W.shape as [number, number];
  return x.map((row) => {
    const y = new Float64Array(out);
    for (let o = 0; o < out; o++) {
      let s = bias ? bias.data[o]! : 0;
      for (let i = 0; i < inF; i++) s += row[i]! * W.data[i * out + o]!;
      y[o] = s;
    }
    return y;
  });
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};
const headOf = (x: Rows, h: number, dh: number): Rows => x.map((r) => r.slice(h * dh, (h + 1) * dh));

/**
 * Attention(x, heads) with a pairwise weight: out_i = Σ_{j visible} w(q_i, k_j) v_j / Σ_j w(q_i, k_j)
 * per head, then the output projection. softmax attention is w = exp(scale q·k); linear attention
 * w = φ(q)·φ(k) (Katharopoulos et al. 2020, eq. 3-4).
 */
function attentionReference(w: Weights, prefix: string, x: Rows, heads: number, visible: (i: number, j: number) => boolean,
  weight: (q: Float64Array, k: Float64Array, h: number) => number, kv: (k: Rows, v: Rows, h: number) => [Rows, Rows] = (k, v) => [k, v]): Rows {
  const d = x[0]!.length, dh = d / heads;
  const q = linear(w, `${prefix}.q`, x), k = linear(w, `${prefix}.k`, x), v = linear(w, `${prefix}.v`, x);
  const merged = x.map(() => new Float64Array(d));
  for (let h = 0; h < heads; h++) {
    const qh = headOf(q, h, dh);
    const [kh, vh] = kv(headOf(k, h, dh), headOf(v, h, dh), h);
    qh.forEach((qi, i) => {
      let den = 0;
      const num = new Float64Array(dh);
      kh.forEach((kj, j) => {
        if (!visible(i, j)) return;
        const a = weight(qi, kj, h);
        den += a;
        for (let c = 0; c < dh; c++) num[c] += a * vh[j]![c]!;
      });
      for (let c = 0; c < dh; c++) merged[i]![h * dh + c] = num[c]! / den;
    });
  }
  return linear(w, `${prefix}.o`, merged);
}

const eluPlusOne = (x: Float64Array): Float64Array => x.map((v) => (v > 0 ? v + 1 : Math.exp(v)));

const flat = (batches: Rows[]): Float64Array => Float64Array.from(batches.flatMap((rows) => rows.flatMap((r) => Array.from(r))));

const note = errorLog('linear attention errors');

/** One attention layer over x: [batch, seq, d]. */
const oneLayer = (args: string, seqDim = 'seq', config = 'd = 16  heads = 2  n = 12  k = 5'): string =>
  `model One {\n  config { ${config} }\n  input x: f32[batch, ${seqDim}, d]\n  output y = Attention(x, ${args})\n}\n`;

/** Runs the layer in float64 with test weights; q and k projections scaled by `qkScale`. */
function runOne(source: string, x: Tensor, seed = 5, qkScale = 1): { out: Tensor; w: Weights; graph: Graph } {
  const { graph } = compileGraph(source, { file: 'one.ptm' });
  const w = weights(graph, seed);
  for (const name of ['attn.q.weight', 'attn.k.weight']) w.set(name, tensor('f32', w.get(name)!.shape, Float32Array.from(w.get(name)!.data, (v) => v * qkScale)));
  return { out: runGraph(graph, { inputs: { x }, params: w, precision: 'f64' }).outputs.get('y')!, w, graph };
}

// ---------------------------------------------------------------------------------------------------

describe('elu + 1 linear attention (Katharopoulos et al. 2020) against the paper in float64', () => {
  const x = normalInput(1, [2, 9, 16]);
  for (const mask of ['causal', 'full'] as const) {
    test(mask, () => {
      const { out, w } = runOne(oneLayer(`heads: heads, mask: ${mask}, kernel: elu_plus_one`), x);
      const visible = mask === 'causal' ? (i: number, j: number) => j <= i : () => true;
      const ref = [0, 1].map((b) => attentionReference(w, 'attn', rowsOf(x, b), 2, visible, (q, k) => dot(eluPlusOne(q), eluPlusOne(k))));
      const err = relativeError(out.data, flat(ref));
      note(`elu+1 ${mask} f64 vs reference`, err);
      expect(err).toBeLessThanOrEqual(1e-9);
      // The mask matters: the other visibility is far off.
      const other = [0, 1].map((b) => attentionReference(w, 'attn', rowsOf(x, b), 2, mask === 'causal' ? () => true : (i, j) => j <= i, (q, k) => dot(eluPlusOne(q), eluPlusOne(k))));
      expect(relativeError(out.data, flat(other))).toBeGreaterThan(1e-2);
    });
  }
});

describe('FAVOR+ (Choromanski et al. 2021)', () => {
  const x = normalInput(2, [2, 10, 16]);
  const favorLayer = (m: number, seed: number, mask = 'full', heads = 1) => oneLayer(`heads: ${heads}, mask: ${mask}, kernel: favor(features: ${m}, seed: ${seed})`);
  test("the features are the paper's φ(x) = exp(ωᵀx' − |x'|²/2)/√m with x' = x/d^(1/4), ω orthogonal in blocks", () => {
    for (const mask of ['full', 'causal'] as const) {
      const { out, w } = runOne(favorLayer(64, 7, mask), x);
      const omega = w.get('attn.favor_features')!; // [2·16, 64]: ω over −1/2
      const m = 64, dh = 16;
      for (let i = dh; i < 2 * dh; i++) for (let j = 0; j < m; j++) expect(omega.data[i * m + j]).toBe(-0.5);
      const phi = (v: Float64Array): Float64Array => {
        const xs = v.map((c) => c / Math.sqrt(Math.sqrt(dh)));
        const half = dot(xs, xs) / 2;
        return Float64Array.from({ length: m }, (_, j) => {
          let p = 0;
          for (let i = 0; i < dh; i++) p += omega.data[i * m + j]! * xs[i]!;
          return Math.exp(p - half) / Math.sqrt(m);
        });
      };
      const visible = mask === 'causal' ? (i: number, j: number) => j <= i : () => true;
      const ref = [0, 1].map((b) => attentionReference(w, 'attn', rowsOf(x, b), 1, visible, (q, k) => dot(phi(q), phi(k))));
      const err = relativeError(out.data, flat(ref));
      note(`FAVOR+ ${mask} f64 vs the paper's estimator with the same ω`, err);
      expect(err).toBeLessThanOrEqual(1e-9);
      // ω: rows of a block of 16 mutually orthogonal; lengths chi(16), so E|ω_j|² = 16 (mean of 64: sd 0.7).
      const col = (j: number) => Float64Array.from({ length: dh }, (_, i) => omega.data[i * m + j]!);
      for (let j = 1; j < dh; j++) expect(Math.abs(dot(col(0), col(j))) / Math.sqrt(dot(col(0), col(0)) * dot(col(j), col(j)))).toBeLessThan(1e-6);
      expect(Math.abs(dot(col(0), col(dh))) / Math.sqrt(dot(col(0), col(0)) * dot(col(dh), col(dh)))).toBeGreaterThan(1e-4); // next block: independent
      const meanSquare = Array.from({ length: m }, (_, j) => dot(col(j), col(j))).reduce((a, b) => a + b) / m;
      expect(Math.abs(meanSquare - dh)).toBeLessThan(3.5);
    }
  });

  test('converges to exact softmax attention as the features grow (mean over 5 seeds)', () => {
    // Four heads of 4 with q, k entries of about N(0, 1/4): |x'|² ~ 1/2, where the estimator's relative
    // spread per pair, sqrt((exp|x'+y'|² − 1)/m) (the paper's Lemma 2), is ~0.05 at m = 1024, while the
    // softmax is still far from uniform. Error is measured on the layer's output and, as a yardstick
    // that uniform attention would score 1, against the exact output's distance from uniform attention.
    const exactOf = (w: Weights, visible: (i: number, j: number) => boolean, weight = (q: Float64Array, k: Float64Array) => Math.exp(dot(q, k) / 2)) =>
      flat([0, 1].map((b) => attentionReference(w, 'attn', rowsOf(x, b), 4, visible, weight)));
    const errors = (out: Tensor, w: Weights, visible: (i: number, j: number) => boolean): [number, number] => {
      const exact = exactOf(w, visible), uniform = exactOf(w, visible, () => 1);
      return [relativeError(out.data, exact), relativeError(out.data, exact) / relativeError(uniform, exact)];
    };
    const means: [number, number][] = [];
    for (const m of [16, 64, 256, 1024]) {
      let plain = 0, yardstick = 0;
      for (let seed = 0; seed < 5; seed++) {
        const { out, w } = runOne(favorLayer(m, seed, 'full', 4), x, 5, 0.5);
        const [e, u] = errors(out, w, () => true);
        plain += e / 5;
        yardstick += u / 5;
      }
      means.push([plain, yardstick]);
      note(`FAVOR+ m=${m} vs exact softmax (mean rel. norm over 5 seeds)`, plain);
      note(`FAVOR+ m=${m} vs exact softmax (relative to exact's distance from uniform)`, yardstick);
    }
    // measured: 0.21, 0.12, 0.078, 0.046 and 0.86, 0.51, 0.32, 0.19
    for (let i = 1; i < means.length; i++) expect(means[i]![0]).toBeLessThan(means[i - 1]![0]);
    expect(means[3]![0]).toBeLessThanOrEqual(0.06);
    expect(means[3]![1]).toBeLessThanOrEqual(0.25);
    // Causal at m = 1024: the same estimator over prefixes (measured in the notes).
    const { out, w } = runOne(favorLayer(1024, 0, 'causal', 4), x, 5, 0.5);
    const [causal] = errors(out, w, (i, j) => j <= i);
    note('FAVOR+ causal m=1024 seed 0 vs exact softmax', causal);
    expect(causal).toBeLessThanOrEqual(0.08);
  });

  test('fixed by the seed: the same seed gives the same numbers, another seed others', () => {
    const a = runOne(favorLayer(32, 11), x).out, b = runOne(favorLayer(32, 11), x).out, c = runOne(favorLayer(32, 12), x).out;
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(relativeError(c.data, a.data)).toBeGreaterThan(1e-4);
  });
});

describe('Linformer (Wang et al. 2020) against the paper in float64', () => {
  test('K\' = E K, V\' = F V with E, F: [k, n] shared by the heads, then softmax over k positions', () => {
    const x = normalInput(3, [2, 12, 16]);
    const { out, w } = runOne(oneLayer('heads: heads, project_kv: k', 'n'), x);
    const E = w.get('attn.proj_k')!, F = w.get('attn.proj_v')!;
    const project = (P: Tensor, rows: Rows): Rows => Array.from({ length: 5 }, (_, r) => {
      const y = new Float64Array(rows[0]!.length);
      rows.forEach((row, t) => { for (let c = 0; c < y.length; c++) y[c] += P.data[r * 12 + t]! * row[c]!; });
      return y;
    });
    const ref = [0, 1].map((b) => attentionReference(w, 'attn', rowsOf(x, b), 2, () => true, (q, k) => Math.exp(dot(q, k) / Math.sqrt(8)), (k, v) => [project(E, k), project(F, v)]));
    const err = relativeError(out.data, flat(ref));
    note('Linformer f64 vs reference', err);
    expect(err).toBeLessThanOrEqual(1e-9);
    expect(E.shape).toEqual([5, 12]);
  });
});

describe('diagnostics', () => {
  const fails = (source: string): { code: string; line: number; col: number; message: string } => {
    try {
      compileGraph(source, { file: 'bad.ptm' });
    } catch (e) {
      if (!(e instanceof PtmError)) throw e;
      const d = e.diagnostics[0]!;
      return { code: d.code, line: d.span.line, col: d.span.col, message: d.message };
    }
    throw new Error('expected a diagnostic');
  };
  const at = (source: string, text: string) => ({ line: 5, col: source.split('\n')[4]!.indexOf(text) + 1 });

  test('a mask other than full or causal with kernel:', () => {
    const src = `model M {\n  config { d = 16  heads = 2 }\n  input x: f32[batch, seq, d]\n  input valid: bool[batch, seq]\n  output y = Attention(x, heads: heads, mask: padding(valid), kernel: elu_plus_one)\n}\n`;
    const d = fails(src);
    expect(d).toMatchObject({ code: 'unsupported', ...at(src, 'padding(valid)') });
    expect(d.message).toMatch(/running-sum/);
  });
  test('a mask with project_kv:', () => {
    const src = `model M {\n  config { d = 16  heads = 2  n = 8 }\n  input x: f32[batch, n, d]\n\n  output y = Attention(x, heads: heads, mask: causal, project_kv: 4)\n}\n`;
    expect(fails(src)).toMatchObject({ code: 'unsupported', ...at(src, 'causal') });
  });
  test('project_kv: over a symbolic sequence', () => {
    const src = `model M {\n  config { d = 16  heads = 2 }\n  input x: f32[batch, seq, d]\n\n  output y = Attention(x, heads: heads, project_kv: 4)\n}\n`;
    const d = fails(src);
    expect(d).toMatchObject({ code: 'invalid_dimension', ...at(src, '4)') });
    expect(d.message).toMatch(/fixed sequence length/);
  });
  test('kernel: and project_kv: together; a kernel that is not a feature map; a bad seed; scale with elu+1', () => {
    const line = (args: string) => `model M {\n  config { d = 16  heads = 2  n = 8 }\n  input x: f32[batch, n, d]\n\n  output y = Attention(x, heads: heads, ${args})\n}\n`;
    let src = line('kernel: elu_plus_one, project_kv: 4');
    expect(fails(src)).toMatchObject({ code: 'conflicting_arguments', ...at(src, '4)') });
    src = line('kernel: relu');
    expect(fails(src)).toMatchObject({ code: 'kind_mismatch', ...at(src, 'relu') });
    src = line('kernel: favor(features: 8, seed: -1)');
    expect(fails(src)).toMatchObject({ code: 'kind_mismatch', ...at(src, '-1') });
    src = line('kernel: elu_plus_one, scale: 0.5');
    expect(fails(src)).toMatchObject({ code: 'conflicting_arguments', ...at(src, '0.5') });
    src = line('kernel: favor(features: 8), position: t5_bias(buckets: 8, max_distance: 16)');
    expect(fails(src).code).toBe('conflicting_arguments');
  });
  test('derive-decode-step refuses linear_attention (its running state is not a key/value cache)', () => {
    const { graph } = compileGraph(readFileSync('models/linear-transformer.ptm', 'utf8'), { file: 'models/linear-transformer.ptm', set: TINY['linear-transformer'] });
    expect(() => decodeStep(graph, { tokens: 'ids' })).toThrow(/linear_attention/);
  });
});

test("REFERENCE.md §7.5's example compiles and runs on the CPU", () => {
  const reference = readFileSync('dsl/REFERENCE.md', 'utf8');
  const section = reference.slice(reference.indexOf('### 7.5 Linear-cost attention'));
  const example = section.slice(section.indexOf('```ptm\n') + 7, section.indexOf('\n```', section.indexOf('```ptm\n')));
  const { graph } = compileGraph(example, { file: 'REFERENCE.md', set: { n: 6, d: 16 } });
  expect(graph.ops.filter((o) => o.op === 'linear_attention').map((o) => o.attrs.causal)).toEqual([true, false]);
  const y = runGraph(graph, { inputs: { x: normalInput(4, [1, 6, 16]) }, params: weights(graph, 3), precision: 'f64' }).outputs.get('y')!;
  expect(y.data.every(Number.isFinite)).toBe(true);
});

// ---------------------------------------------------------------------------------------------------
// The models

const VOCAB = 97;
const TINY: Record<string, Record<string, number>> = {
  'linear-transformer': { layers: 2, d: 32, heads: 4, vocab: VOCAB, ctx: 24 },
  performer: { layers: 2, d: 32, heads: 4, vocab: VOCAB, ctx: 16, features: 24 },
  linformer: { layers: 2, d: 32, heads: 4, vocab: VOCAB, n: 12, k: 5 },
};
/** Sequence lengths: the Linear Transformer's 20 rows make two causal chunks of 16 on the GPU. */
const SEQ: Record<string, number> = { 'linear-transformer': 20, performer: 11, linformer: 12 };

/** BERT-style post-LN layer: q, k, v, o with biases, two LayerNorms, FFN d -> ff -> d. */
const layerParams = (d: number, ff: number): number => 4 * (d * d + d) + 2 * 2 * d + (d * ff + ff) + (ff * d + d);
const COUNTS: Record<string, { count: (c: Record<string, number>) => number; expected: number }> = {
  'linear-transformer': { count: (c) => (c.vocab! + c.ctx!) * c.d! + c.layers! * layerParams(c.d!, c.ff!) + (c.d! * c.vocab! + c.vocab!), expected: 6_650_112 },
  // BertModel (bert-base-uncased) 109,482,240 less token types (2 x 768) and pooler (768 x 768 + 768).
  performer: { count: (c) => (c.vocab! + c.ctx!) * c.d! + 2 * c.d! + c.layers! * layerParams(c.d!, c.ff!), expected: 109_482_240 - 1_536 - 590_592 },
  linformer: { count: (c) => (c.vocab! + c.n!) * c.d! + 2 * c.d! + c.layers! * (layerParams(c.d!, c.ff!) + 2 * c.k! * c.n!), expected: 127_198_464 },
};
const NAMES = Object.keys(TINY);
const source = (name: string): string => readFileSync(`models/${name}.ptm`, 'utf8');
const configOf = (config: ReadonlyMap<string, { value: number }>) => Object.fromEntries([...config].map(([k, v]) => [k, v.value]));

describe('published sizes', () => {
  for (const name of NAMES) {
    test(`${name}: checks, and its parameter count is the closed form`, () => {
      const { graph, config } = compileGraph(source(name), { file: `models/${name}.ptm` });
      const trained = graph.params.filter((p) => p.init.kind !== 'random_features');
      const count = trained.reduce((n, p) => n + size(p.value.type.shape as number[]), 0);
      expect(count).toBe(COUNTS[name]!.count(configOf(config)));
      expect(count).toBe(COUNTS[name]!.expected);
      if (name === 'performer') {
        const constants = graph.params.filter((p) => p.init.kind === 'random_features');
        expect(constants.map((p) => p.value.type.shape)).toEqual(Array(12).fill([128, 256]));
      }
    });
  }
});

test('ptm check and ptm run (tiny, cpu) take each model', async () => {
  for (const name of NAMES) {
    let out = '';
    const sink = { out: (s: string) => void (out += `${s}\n`), err: (s: string) => void (out += `${s}\n`) };
    expect(await main(['check', `models/${name}.ptm`], sink), out).toBe(0);
    // `check` counts every parameter, Performer's favor_features constants (12 x 128 x 256) included.
    const all = COUNTS[name]!.expected + (name === 'performer' ? 12 * 128 * 256 : 0);
    expect(out).toContain(`parameters: ${all.toLocaleString('en-US')}`);
    const set = Object.entries(TINY[name]!).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
    out = '';
    expect(await main(['run', `models/${name}.ptm`, ...set, '--backend', 'cpu', '--random'], sink), out).toBe(0);
  }
});

test("a weights file may leave out FAVOR+'s constant projection: it is drawn from the source's seed", () => {
  const { graph } = compileGraph(source('performer'), { file: 'models/performer.ptm', set: TINY.performer! });
  const all = initParams(graph, 4);
  const dir = mkdtempSync(join(tmpdir(), 'ptm-favor-'));
  try {
    const file = join(dir, 'w.safetensors');
    writeSafetensors(file, new Map([...all].filter(([name]) => !name.endsWith('favor_features'))));
    const loaded = loadParams(graph, file);
    for (const [name, t] of all) expect(Array.from(loaded.get(name)!.data), name).toEqual(Array.from(t.data));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

interface Built {
  compiled: Compiled;
  params: Weights;
  inputs: Record<string, Tensor>;
  f32: Map<string, Tensor>;
}
const built = new Map<string, Built>();
function tiny(name: string): Built {
  let b = built.get(name);
  if (!b) {
    const compiled = compile(source(name), { file: `models/${name}.ptm`, set: TINY[name]!, maxBindingBytes: 128 * 2 ** 20 });
    const params = weights(compiled.graph, 17);
    const stream = new RandomStream(9, 'ids');
    const T = SEQ[name]!;
    const inputs = { ids: tensor('i32', [2, T], Int32Array.from({ length: 2 * T }, (_, i) => stream.below(i, VOCAB))) };
    const f32 = runGraph(compiled.graph, { inputs, params, precision: 'f32' }).outputs;
    b = { compiled, params, inputs, f32 };
    built.set(name, b);
  }
  return b;
}

describe('tiny models on WebGPU, onnxruntime, WGSL and CUDA', () => {
  let device: WebGpuDevice;
  const nvcc = nvccWorkspace('linear', 'linear_attention_kernels', () => NAMES.map((name) => tiny(name).compiled.program));
  beforeAll(async () => {
    device = await WebGpuDevice.create();
  });

  for (const name of NAMES) {
    test(`${name}: the kernels are the linear ones`, () => {
      const kernels = tiny(name).compiled.program.launches.map((l) => l.instance.kernel.name);
      if (name === 'linformer') expect(kernels.some((k) => k.startsWith('attention_full'))).toBe(true);
      else expect(kernels.filter((k) => k.startsWith('linear_attention_')).length).toBe(2);
      expect(kernels.some((k) => /^attention_/.test(k)) && name !== 'linformer').toBe(false);
    });

    test(`${name}: WebGPU matches the CPU reference`, async () => {
      await expectWebGpuMatchesCpu(tiny(name), device, 1e-4, note, (out) => `${name}.${out} WebGPU vs CPU`);
    });

    test(`${name}: onnxruntime agrees on the exported ONNX`, async () => {
      await expectOnnxMaxAbsAgreement(tiny(name), 1e-4, note, (out) => `${name}.${out} onnxruntime vs CPU (max abs)`);
    });

    test(`${name}: renders WGSL, and nvcc compiles every CUDA kernel without a warning`, async () => {
      await expectWgslAndNvcc(tiny(name).compiled.program, nvcc);
    }, 300_000);
  }
});
