// The encoder-decoder models (models/bart.ptm, mass.ptm, t5.ptm): parameter counts at the published
// sizes against closed-form formulas; tiny sizes on the CPU reference, WebGPU and onnxruntime-node, to
// WGSL and through nvcc; and the mechanisms against float64 references written from the papers
// (./encoder-decoder-reference.ts): cross-attention with source padding, MASS's fragment positions and
// its decoder's blindness to [MASK] tokens, T5's relative position buckets across the log range.
//
// Tolerances, each stated where used:
// - WebGPU vs CPU reference: relative error norm ||a - b|| / ||b|| <= 1e-4 (as test/program): f32 with
//   other summation orders, measured 7e-7 to 1.7e-6 on the tiny models, 1.3e-5 for T5 at 150 tokens
//   against float64 (T5's unscaled scores and the larger weights used there amplify f32 rounding).
// - onnxruntime vs CPU reference: the same bound: both f32, ORT's MLAS sums in f32 with FMA where ours
//   accumulates matmuls in f64; measured 5e-7 to 2.3e-6.
// - ptm's CPU reference in float64 vs the float64 references: relative error norm <= 1e-12, i.e. only
//   summation order and erf's last digits (measured 5e-16 to 1.7e-14); a deliberately wrong reference (CONTROL)
//   must differ by > 1e-3.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compile, compileGraph } from '../../src/api.js';
import type { Compiled } from '../../src/api.js';
import { LIBRARY_NAME } from '../../src/codegen/cuda/emit.js';
import { renderWgsl } from '../../src/codegen/render/wgsl.js';
import type { Graph } from '../../src/ir/types.js';
import { initParams, randomInputs, runGraph, tensor } from '../../src/runtime/index.js';
import type { Tensor } from '../../src/runtime/index.js';
import { ProgramSession } from '../../src/runtime/program/session.js';
import { WebGpuDevice } from '../../src/runtime/program/webgpu-device.js';
import { make, writeEmitted } from '../cuda/programs.js';
import type { Mat, PostLnModel, PostLnSentence, T5Model } from './encoder-decoder-reference.js';
import { postLnEncoderDecoder, t5, t5Bucket } from './encoder-decoder-reference.js';
import { relativeError, runOnnx } from './harness.js';

type Name = 'bart' | 'mass' | 't5';
const NAMES: Name[] = ['bart', 'mass', 't5'];
const file = (name: Name) => `models/${name}.ptm`;
const source = (name: Name) => readFileSync(file(name), 'utf8');

// ---- parameter counts ---------------------------------------------------------------------------

const linear = (i: number, o: number, bias = true) => i * o + (bias ? o : 0);

/**
 * BART (Lewis et al. 2020, §2.1: "the same architecture as BERT" per stack, plus cross-attention in each
 * decoder layer) with Hugging Face's layout: shared token table, two position tables, a LayerNorm on
 * each stack's embeddings, post-LN layers, the tied head and final_logits_bias.
 */
function bartCount(c: { vocab: number; ctx: number; d: number; ff: number; layers: number; decLayers: number }): number {
  const attn = 4 * linear(c.d, c.d), ln = 2 * c.d, ffn = linear(c.d, c.ff) + linear(c.ff, c.d);
  const encoderLayer = attn + ln + ffn + ln;
  const decoderLayer = attn + ln + attn + ln + ffn + ln;
  return c.vocab * c.d + 2 * c.ctx * c.d + 2 * ln + c.layers * encoderLayer + c.decLayers * decoderLayer + c.vocab;
}

/** MASS as released (XLM code): per stack token, position and language tables and an embedding LayerNorm; post-LN layers; output bias. */
function massCount(c: { vocab: number; ctx: number; langs: number; d: number; ff: number; layers: number; decLayers: number }): number {
  const attn = 4 * linear(c.d, c.d), ln = 2 * c.d, ffn = linear(c.d, c.ff) + linear(c.ff, c.d);
  const embeddings = (c.vocab + c.ctx + c.langs) * c.d + ln;
  return 2 * embeddings + c.layers * (attn + ln + ffn + ln) + c.decLayers * (2 * attn + 3 * ln + ffn) + c.vocab;
}

/**
 * T5 (Raffel et al. 2020, §2.1, §3.1.1): no biases, scale-only norms before each sublayer and after
 * each stack, one [buckets, heads] relative bias table per stack, shared token table and head.
 */
function t5Count(c: { vocab: number; d: number; ff: number; heads: number; layers: number; decLayers: number; buckets: number }): number {
  const attn = 4 * linear(c.d, c.d, false), norm = c.d, ffn = linear(c.d, c.ff, false) + linear(c.ff, c.d, false);
  return c.vocab * c.d + 2 * c.buckets * c.heads + c.layers * (norm + attn + norm + ffn) + c.decLayers * (3 * norm + 2 * attn + ffn) + 2 * norm;
}

/** The published configurations, from the sources named in each model's header. */
const PUBLISHED: Record<Name, { count: number; figure: number; why: string }> = {
  // facebook/bart-base config.json: vocab_size 50265, max_position_embeddings 1024, d_model 768,
  // encoder/decoder_ffn_dim 3072, 6 + 6 layers. Hugging Face counts 139,420,416 with 1026-row position
  // tables and without the final_logits_bias buffer.
  bart: {
    count: bartCount({ vocab: 50265, ctx: 1024, d: 768, ff: 3072, layers: 6, decLayers: 6 }),
    figure: 139_420_416 - 2 * 2 * 768 + 50_265,
    why: 'Hugging Face facebook/bart-base, less the 2 unread position rows per stack, plus final_logits_bias',
  },
  // The paper's NMT model (6 + 6 layers, 1024 hidden, 4096 FF) with XLM's en-fr vocabulary (64,139),
  // 512 positions and 2 languages. The paper gives no count: the figure is ours, stated in the header.
  mass: {
    count: massCount({ vocab: 64139, ctx: 512, langs: 2, d: 1024, ff: 4096, layers: 6, decLayers: 6 }),
    figure: 308_834_955,
    why: 'no published count; ours',
  },
  // t5-base config.json: vocab_size 32128, d_model 768, d_ff 3072, num_heads 12, num_layers 12,
  // relative_attention_num_buckets 32; Hugging Face counts T5ForConditionalGeneration at 222,903,552.
  t5: {
    count: t5Count({ vocab: 32128, d: 768, ff: 3072, heads: 12, layers: 12, decLayers: 12, buckets: 32 }),
    figure: 222_903_552,
    why: 'Hugging Face t5-base',
  },
};

function parameterCount(graph: Graph): number {
  return graph.params.reduce((n, p) => n + p.value.type.shape.reduce<number>((a, d) => a * (d as number), 1), 0);
}

/** The count a model's header states: "N parameters" or "N parameters = ...". */
function headerCount(text: string): number {
  const m = /^\/\/.*?([\d,]{7,}) parameters/m.exec(text);
  if (!m) throw new Error('the header states no parameter count');
  return Number(m[1]!.replaceAll(',', ''));
}

describe('published sizes', () => {
  for (const name of NAMES) {
    test(`${name}: the parameter count is the closed form, the published figure and the header's`, () => {
      const { graph } = compileGraph(source(name), { file: file(name) });
      const expected = PUBLISHED[name];
      expect(parameterCount(graph)).toBe(expected.count);
      expect(expected.count, expected.why).toBe(expected.figure);
      expect(headerCount(source(name))).toBe(expected.count);
    });
  }
});

// ---- weights ------------------------------------------------------------------------------------

/** f(), computed on first use (so that collecting the tests, or running others, does not pay for it). */
function once<T>(f: () => T): () => T {
  let value: { v: T } | undefined;
  return () => (value ??= { v: f() }).v;
}

/** A small deterministic generator (mulberry32), independent of ptm's. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * ptm's seeded weights, the normal ones scaled from std 0.02 to 0.2 (so that attention is far from
 * uniform and masks and positions change the logits visibly), and every ones/zeros-initialized tensor
 * (norm gains and biases, projection and logit biases) replaced by random values, so that each matters.
 */
function weights(graph: Graph, seed: number): Map<string, Tensor> {
  const params = initParams(graph, seed);
  const next = random(seed);
  for (const p of graph.params) {
    const t = params.get(p.name)!;
    const base = p.init.kind === 'ones' ? 1 : 0;
    const value = p.init.kind === 'normal' ? (v: number) => v * 10 : () => base + (next() - 0.5) * 0.6;
    params.set(p.name, tensor(t.dtype, t.shape, Float32Array.from(t.data, value)));
  }
  return params;
}

// ---- tiny models on every backend ----------------------------------------------------------------

const TINY: Record<Name, Record<string, number>> = {
  bart: { layers: 2, d: 64, heads: 4, vocab: 97, ctx: 32 },
  mass: { layers: 2, d: 64, heads: 4, vocab: 97, ctx: 32 },
  t5: { layers: 2, d: 64, heads: 4, vocab: 97, ff: 128 },
};
const SIZES = new Map([['batch', 2], ['src_len', 7], ['tgt_len', 5]]);
const WEBGPU_BINDING = 128 * 2 ** 20;

const compiled = new Map<Name, Compiled>();
function tiny(name: Name): Compiled {
  let c = compiled.get(name);
  if (!c) compiled.set(name, (c = compile(source(name), { file: file(name), set: TINY[name], maxBindingBytes: WEBGPU_BINDING })));
  return c;
}

let device: Promise<WebGpuDevice> | undefined;
const webgpu = () => (device ??= WebGpuDevice.create());

const cudaDir = mkdtempSync(join(tmpdir(), 'ptm-encoder-decoder-'));
afterAll(() => rmSync(cudaDir, { recursive: true, force: true }));
const nvcc: Partial<Record<Name, Promise<string>>> = {};

beforeAll(() => {
  // nvcc takes seconds per model: start every build now, in parallel; the tests await theirs.
  for (const name of NAMES) {
    writeEmitted(join(cudaDir, name), tiny(name).program);
    nvcc[name] = make(join(cudaDir, name));
    nvcc[name]!.catch(() => {}); // reported by the test that awaits it
  }
});

describe('tiny models (layers 2, d 64) on every backend, batch 2, 7 source and 5 target tokens', () => {
  for (const name of NAMES) {
    describe(name, () => {
      const run = () => {
        const c = tiny(name);
        const params = weights(c.graph, 3);
        const inputs = randomInputs(c.graph, 4, SIZES);
        const reference = runGraph(c.graph, { inputs, params, precision: 'f32' }).outputs.get('logits')!;
        return { c, params, inputs, reference };
      };

      test('WebGPU matches the CPU reference (relative error norm <= 1e-4)', async () => {
        const { c, params, inputs, reference } = run();
        expect(reference.shape).toEqual([2, 5, 97]);
        const outputs = await ProgramSession.create(c.program, params, await webgpu()).run(inputs);
        expect(relativeError(outputs.get('logits')!.data, reference.data)).toBeLessThanOrEqual(1e-4);
      });

      test('onnxruntime-node agrees on the exported ONNX (relative error norm <= 1e-4)', async () => {
        const { c, params, inputs, reference } = run();
        const theirs = (await runOnnx(c.graph, params, inputs)).logits!;
        expect(Math.max(...theirs.map(Math.abs))).toBeGreaterThan(1e-2); // not trivially zero
        expect(relativeError(theirs, reference.data)).toBeLessThanOrEqual(1e-4);
      });

      test('every kernel renders to WGSL, and the CUDA build passes nvcc -Werror all-warnings', async () => {
        for (const launch of tiny(name).program.launches) expect(renderWgsl(launch.instance.kernel)).toMatch(/@compute/);
        const output = await nvcc[name]!;
        expect(output.trim(), 'nvcc printed something').toBe('');
        expect(readFileSync(join(cudaDir, name, LIBRARY_NAME)).subarray(1, 4).toString()).toBe('ELF');
      }, 300_000);
    });
  }
});

// ---- mechanisms against float64 references ---------------------------------------------------------

/** Our model in float64 on the CPU reference, one [batch, tgt_len, vocab] output. */
function runF64(graph: Graph, params: Map<string, Tensor>, inputs: Record<string, Tensor>): Tensor {
  return runGraph(graph, { inputs, params, precision: 'f64' }).outputs.get('logits')!;
}

/** Rows of the batch-major [batch, rows, cols] tensor for sentence b. */
function sentence(t: Tensor, b: number): Float64Array {
  const per = t.shape[1]! * t.shape[2]!;
  return Float64Array.from(t.data.subarray(b * per, (b + 1) * per));
}

const relative = (ours: Float64Array, ref: Mat) => relativeError(ours, ref.data);

/**
 * How far a deliberately wrong reference (a mask, a position or a bias left out) must be from our
 * logits: 1e-3 relative, a billion times the 1e-12 agreement bound, so the comparisons can fail.
 */
const CONTROL = 1e-3;

describe('cross-attention: one-layer BART against a float64 encoder-decoder', () => {
  const { graph } = compileGraph(source('bart'), { file: file('bart'), set: { layers: 1, d: 32, heads: 4, vocab: 41, ctx: 16 } });
  const params = weights(graph, 21);
  // Two sentences; the second has its last three source tokens padded.
  const src = [[5, 17, 3, 30, 8, 12, 40], [9, 2, 33, 21, 0, 0, 0]];
  const valid = [[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0, 0]];
  const tgt = [[1, 7, 19, 4, 25], [1, 38, 6, 6, 11]];
  const inputs = {
    src: tensor('i32', [2, 7], src.flat()),
    src_valid: tensor('bool', [2, 7], valid.flat()),
    tgt: tensor('i32', [2, 5], tgt.flat()),
  };
  const model: PostLnModel = { heads: 4, layers: 1, eps: 1e-5, encTok: 'tok.weight', decTok: 'tok.weight', logitsBias: 'final_logits_bias' };
  const at = (b: number, extra: Partial<PostLnSentence> = {}): PostLnSentence => ({
    src: src[b]!, srcValid: valid[b]!.map(Boolean), tgt: tgt[b]!, srcPos: [...src[b]!.keys()], tgtPos: [...tgt[b]!.keys()], ...extra,
  });
  const ours = once(() => runF64(graph, params, inputs));

  test('logits match for both sentences (relative error norm <= 1e-12)', () => {
    for (const b of [0, 1]) expect(relative(sentence(ours(), b), postLnEncoderDecoder(params, model, at(b)))).toBeLessThanOrEqual(1e-12);
  });

  test('the source padding mask matters: attending to the padded keys gives other logits', () => {
    const unmasked = postLnEncoderDecoder(params, model, at(1, { srcValid: Array(7).fill(true) }));
    expect(relative(sentence(ours(), 1), unmasked)).toBeGreaterThan(CONTROL);
  });
});

describe("MASS: the decoder reads the fragment at its original positions and never sees [MASK]", () => {
  const { graph } = compileGraph(source('mass'), { file: file('mass'), set: { layers: 1, d: 32, heads: 4, vocab: 41, ctx: 16 } });
  const params = weights(graph, 22);
  const MASK = 5; // the model's mask_id
  // Sentence x of length 9; fragment x[4..6] masked in the encoder. The decoder reads x[3..5] (the
  // fragment shifted right) at positions 3, 4, 5 and would predict x[4..6].
  const x = [[1, 14, 22, 9, 31, 17, 26, 8, 2], [1, 30, 11, 19, 24, 35, 12, 2, 0]];
  const fragment = [4, 5, 6];
  const src = x.map((s) => s.map((t, i) => (fragment.includes(i) ? MASK : t)));
  const valid = [[1, 1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1, 0]];
  const positions = fragment.map((i) => i - 1);
  const tgt = x.map((s) => positions.map((i) => s[i]!));
  const lang = [0, 1];
  const inputs = {
    src: tensor('i32', [2, 9], src.flat()),
    src_valid: tensor('bool', [2, 9], valid.flat()),
    tgt: tensor('i32', [2, 3], tgt.flat()),
    tgt_pos: tensor('i32', [2, 3], [...positions, ...positions]),
    lang: tensor('i32', [2], lang),
  };
  const model: PostLnModel = {
    heads: 4, layers: 1, eps: 1e-12, encTok: 'enc_tok.weight', decTok: 'dec_tok.weight',
    langTables: ['enc_lang.weight', 'dec_lang.weight'], logitsBias: 'out_bias',
  };
  const at = (b: number, extra: Partial<PostLnSentence> = {}): PostLnSentence => ({
    src: src[b]!, srcValid: valid[b]!.map(Boolean), tgt: tgt[b]!, srcPos: [...src[b]!.keys()], tgtPos: positions, lang: lang[b]!,
    crossVisible: (j) => valid[b]![j] === 1 && src[b]![j] !== MASK, ...extra,
  });
  const ours = once(() => runF64(graph, params, inputs));

  test('logits match the float64 MASS for both sentences (relative error norm <= 1e-12)', () => {
    for (const b of [0, 1]) expect(relative(sentence(ours(), b), postLnEncoderDecoder(params, model, at(b)))).toBeLessThanOrEqual(1e-12);
  });

  test('the positions are the fragment\'s: reading it at 0, 1, 2 instead gives other logits', () => {
    expect(relative(sentence(ours(), 0), postLnEncoderDecoder(params, model, at(0, { tgtPos: [0, 1, 2] })))).toBeGreaterThan(CONTROL);
  });

  test('cross-attention skips the [MASK] tokens: letting the decoder see them gives other logits', () => {
    const seesMasks = postLnEncoderDecoder(params, model, at(0, { crossVisible: () => true }));
    expect(relative(sentence(ours(), 0), seesMasks)).toBeGreaterThan(CONTROL);
  });
});

describe("T5's relative position bias: the tiny T5 at 150 source and 140 target tokens against float64", () => {
  // Long enough that query-key distances run through the exact buckets, the logarithmic ones and past
  // max_distance (128) in both directions, in the encoder and in the decoder. The tiny model of the
  // backend tests (layers 2, d 64, 4 heads), so that WebGPU reuses its compiled kernels.
  const { graph } = tiny('t5');
  const params = weights(graph, 23);
  const S = 150, T = 140;
  const next = random(24);
  const ids = (n: number) => Array.from({ length: n }, () => Math.floor(next() * TINY.t5!.vocab!));
  const src = [ids(S), ids(S)], tgt = [ids(T), ids(T)];
  const valid = [Array(S).fill(true), Array.from({ length: S }, (_, j) => j < 117)];
  const inputs = {
    src: tensor('i32', [2, S], src.flat()),
    src_valid: tensor('bool', [2, S], valid.flat()),
    tgt: tensor('i32', [2, T], tgt.flat()),
  };
  const model: T5Model = { heads: 4, layers: 2, eps: 1e-6, buckets: 32, maxDistance: 128, encBias: 'enc_rel.weight', decBias: 'dec_rel.weight' };
  const at = (b: number) => ({ src: src[b]!, srcValid: valid[b]!, tgt: tgt[b]! });
  const reference = once(() => [at(0), at(1)].map((sentenceAt) => t5(params, model, sentenceAt)));
  const ours = once(() => runF64(graph, params, inputs));

  test('the lengths reach every bucket the formula can give: 31 in the encoder, 32 in the decoder', () => {
    // Bidirectional: buckets 0-15 for keys at or before the query, 16-31 after it; bucket 16 would be
    // "distance 0 after the query", which no key is, so 31 of the 32 rows are ever read.
    const enc = new Set<number>(), dec = new Set<number>();
    for (let i = 0; i < S; i++) for (let j = 0; j < S; j++) enc.add(t5Bucket(j - i, true, 32, 128));
    for (let i = 0; i < T; i++) for (let j = 0; j <= i; j++) dec.add(t5Bucket(j - i, false, 32, 128));
    expect([enc.size, enc.has(16), dec.size]).toEqual([31, false, 32]);
  });

  test('logits match on the CPU reference in float64 (relative error norm <= 1e-12)', () => {
    for (const b of [0, 1]) expect(relative(sentence(ours(), b), reference()[b]!)).toBeLessThanOrEqual(1e-12);
  });

  test('logits match on WebGPU (f32; relative error norm <= 1e-4)', async () => {
    const outputs = await ProgramSession.create(tiny('t5').program, params, await webgpu()).run(inputs);
    const logits = outputs.get('logits')!;
    for (const b of [0, 1]) expect(relative(sentence(logits, b), reference()[b]!)).toBeLessThanOrEqual(1e-4);
  });

  test('the bias matters: zeroing either table, or bucketing the encoder causally, gives other logits', () => {
    for (const table of ['enc_rel.weight', 'dec_rel.weight']) {
      const zeroed = new Map(params);
      const t = params.get(table)!;
      zeroed.set(table, tensor(t.dtype, t.shape, new Float32Array(t.data.length)));
      expect(relative(sentence(ours(), 0), t5(zeroed, model, at(0)))).toBeGreaterThan(CONTROL);
    }
    // The encoder's table read with causal buckets: keys after the query fall into bucket 0.
    expect(relative(sentence(ours(), 0), t5(params, { ...model, encBidirectional: false }, at(0)))).toBeGreaterThan(CONTROL);
  });
});
