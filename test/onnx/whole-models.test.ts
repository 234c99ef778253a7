// Whole models written in the DSL with T5's relative bias, rotary and sinusoidal positions (small
// specs here and models/t5.ptm at a tiny size), and their decode steps over a key/value cache (masks
// k <= q + dim(past), positions iota(seq, start past)): exportOnnx -> onnxruntime-node agrees with
// ptm's cpu runtime on the same weights, and decoding token chunks through the exported step graph
// reproduces the full-sequence model.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { compileGraph } from '../../src/api.js';
import { exportOnnx } from '../../src/codegen/onnx/index.js';
import type { Graph } from '../../src/ir/index.js';
import type { CacheSlot } from '../../src/passes/derive-decode-step.js';
import { decodeStep } from '../../src/passes/derive-decode-step.js';
import type { Tensor } from '../../src/runtime/index.js';
import { initParams, runGraph, tensor } from '../../src/runtime/index.js';
import { normalTensor, random } from '../passes/attention-cases.js';

// Both sides compute in f32 (ptm's cpu kernels accumulate in f64, onnxruntime's MLAS in f32 with FMA).
// Scores here reach |s| ~ 10 and outputs |y| ~ 3 after two residual layers; a score's f32
// rounding (|s| 2^-24 ~ 6e-7) moves a softmax weight by as much relatively, so outputs agree to a few
// 1e-6 (measured at most 6.1e-6, T5 decoder at 150 tokens). 5e-5 still catches a wrong bucket or
// position, which moves them by >= 1e-2.
const TOLERANCE = 5e-5;

const VOCAB = 50;

/** A two-layer pre-RMSNorm model: `attention` is the Attention call's extra arguments, `embed` the input embedding. */
const spec = (name: string, embed: string, attention: string, declarations = ''): string => `
model ${name} {
  config {
    vocab = ${VOCAB}
    d = 16
    heads = 2
    layers = 2
  }

  input ids: i32[batch, seq]

  tok = Embedding(vocab, d)
  ${declarations}

  block Layer(x) {
    x = x + Attention(RMSNorm(x), heads: heads, ${attention})
    x = x + FFN(RMSNorm(x), hidden: 32, act: relu, bias: false)
    return x
  }

  h = repeat(layers) Layer(${embed})
  output hidden = RMSNorm(h)
}
`;

interface Model {
  name: string;
  graph: () => Graph;
  /** The token input (its axis 1 is time), the output compared, and any other inputs a run needs. */
  tokens: string;
  output: string;
  others?: (batch: number) => Record<string, Tensor>;
  /** Decodable with a key/value cache (causal self-attention). */
  causal: boolean;
}

const fromSpec = (name: string, source: string): (() => Graph) => () => compileGraph(source, { file: `${name}.ptm` }).graph;
const small = { tokens: 'ids', output: 'hidden' };

const MODELS: Model[] = [
  // T5: unscaled scores, one relative-bias table shared by every layer (bucketed both ways in the encoder)
  { name: 't5 encoder', graph: fromSpec('t5-encoder', spec('T5Encoder', 'tok(ids)', 'mask: full, position: rel, bias: false, scale: 1', 'rel = t5_bias(heads: heads, buckets: 32, max_distance: 128, bidirectional: true)')), ...small, causal: false },
  { name: 't5 decoder', graph: fromSpec('t5-decoder', spec('T5Decoder', 'tok(ids)', 'mask: causal, position: rel, bias: false, scale: 1', 'rel = t5_bias(heads: heads, buckets: 32, max_distance: 128, bidirectional: false)')), ...small, causal: true },
  { name: 'rotary decoder', graph: fromSpec('rotary', spec('RotaryDecoder', 'tok(ids)', 'mask: causal, position: rotary(base: 10000)')), ...small, causal: true },
  { name: 'sinusoidal positions', graph: fromSpec('sinusoidal', spec('Sinusoidal', 'tok(ids) + sinusoidal(arange(seq), d)', 'mask: causal')), ...small, causal: true },
  {
    // the real spec at a tiny size: encoder over 7 source tokens (batch 1 padded after 4), decoded target
    name: 'models/t5.ptm (tiny)',
    graph: () => compileGraph(readFileSync('models/t5.ptm', 'utf8'), { file: 'models/t5.ptm', set: { layers: 2, d: 16, heads: 2, vocab: VOCAB, ff: 32 } }).graph,
    tokens: 'tgt',
    output: 'logits',
    others: (batch) => ({ src: tokens(batch, 7, 3), src_valid: tensor('bool', [batch, 7], Array.from({ length: batch * 7 }, (_, i) => +(i < 7 || i % 7 < 4))) }),
    causal: true,
  },
];

/**
 * Weights large enough that positions matter: projections N(0, 0.3²) (scores of a few units) and
 * bias tables N(0, 2²) (a wrong bucket moves a score by ~2); norm weights stay 1.
 */
function weights(graph: Graph): Map<string, Tensor> {
  const params = initParams(graph, 7);
  let seed = 100;
  for (const p of graph.params) {
    if (p.init.kind !== 'normal') continue;
    const t = params.get(p.name)!;
    const std = /(^|_)rel\.weight$/.test(p.name) ? 2 : 0.3;
    const fresh = normalTensor(t.shape, seed++);
    params.set(p.name, tensor('f32', t.shape, Array.from(fresh.data, (v) => v * std)));
  }
  return params;
}

function tokens(batch: number, seq: number, seed: number): Tensor {
  const next = random(seed);
  return tensor('i32', [batch, seq], Array.from({ length: batch * seq }, () => Math.floor(next() * VOCAB)));
}

function toOrt(t: Tensor): ort.Tensor {
  if (t.dtype === 'i32') return new ort.Tensor('int32', Int32Array.from(t.data), t.shape);
  if (t.dtype === 'bool') return new ort.Tensor('bool', Uint8Array.from(t.data), t.shape);
  return new ort.Tensor('float32', Float32Array.from(t.data), t.shape);
}

const fromOrt = (t: ort.Tensor): Tensor => tensor('f32', [...t.dims], Array.from(t.data as Float32Array));

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(b.length).toBe(a.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Number.isNaN(a[i]! - b[i]!) ? Infinity : Math.abs(a[i]! - b[i]!));
  return worst;
}

/** Rows [from, to) of axis 1 of x [B, T, D]. */
function timeRows(x: Tensor, from: number, to: number): number[] {
  const [B, T, D] = x.shape as [number, number, number];
  const out: number[] = [];
  for (let b = 0; b < B; b++) out.push(...Array.from(x.data.subarray((b * T + from) * D, (b * T + to) * D)));
  return out;
}

describe.each(MODELS)('$name', (model) => {
  const { name, tokens: tokenInput, output, causal } = model;
  const graph = model.graph();
  const params = weights(graph);
  const others = (batch: number): Record<string, Tensor> => model.others?.(batch) ?? {};
  const feeds = (inputs: Record<string, Tensor>): Record<string, ort.Tensor> => Object.fromEntries(Object.entries(inputs).map(([n, t]) => [n, toOrt(t)]));

  it('exports, and onnxruntime agrees with the cpu reference at 1, 24 and 150 tokens', async () => {
    const session = await ort.InferenceSession.create(exportOnnx(graph, params).model);
    for (const [batch, seq] of [[2, 1], [2, 24], [1, 150]] as const) {
      const inputs = { [tokenInput]: tokens(batch, seq, seq), ...others(batch) };
      const want = runGraph(graph, { inputs, params }).outputs.get(output)!;
      const got = (await session.run(feeds(inputs)))[output]!;
      expect([...got.dims]).toEqual(want.shape);
      expect(maxAbsDiff(want.data, got.data as Float32Array), `${batch} x ${seq}`).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  const tables = graph.params.filter((p) => /(^|_)rel\.weight$/.test(p.name)).map((p) => p.name);
  if (tables.length > 0) {
    it('depends on the relative bias (the check above can see a wrong bucket)', () => {
      const inputs = { [tokenInput]: tokens(1, 40, 5), ...others(1) };
      const flat = new Map(params);
      for (const t of tables) flat.set(t, tensor('f32', params.get(t)!.shape, new Array(params.get(t)!.data.length).fill(0)));
      const a = runGraph(graph, { inputs, params }).outputs.get(output)!;
      const b = runGraph(graph, { inputs, params: flat }).outputs.get(output)!;
      expect(maxAbsDiff(a.data, b.data)).toBeGreaterThan(1e-2);
    });
  }

  if (!causal) return;
  it('decodes through the exported step graph: chunks of 5, 1, 140 and 3 tokens give the full-sequence rows', async () => {
    const step = decodeStep(graph, { tokens: tokenInput });
    const session = await ort.InferenceSession.create(exportOnnx(step.graph, params).model);
    // 149 tokens: the last chunk's oldest keys lie past T5's max_distance of 128
    const chunks = [5, 1, 140, 3];
    const total = chunks.reduce((a, c) => a + c, 0);
    const ids = tokens(2, total, 77);
    const full = runGraph(graph, { inputs: { [tokenInput]: ids, ...others(2) }, params }).outputs.get(output)!;
    // empty caches [batch, heads, 0, head_dim] to start
    const cacheShape = (c: CacheSlot, past: number): number[] => c.shape.map((d) => (d === step.past ? past : typeof d === 'number' ? d : 2));
    const cache = new Map<string, Tensor>(step.caches.flatMap((c) => [c.k, c.v].map((n) => [n, tensor('f32', cacheShape(c, 0), [])] as const)));
    let past = 0;
    for (const n of chunks) {
      const chunk = tensor('i32', [2, n], [0, 1].flatMap((b) => Array.from(ids.data.subarray(b * total + past, b * total + past + n))));
      const inputs = { [tokenInput]: chunk, ...others(2), ...Object.fromEntries(cache) };
      const out = await session.run(feeds(inputs));
      const got = out[output]!.data as Float32Array;
      // the step graph in onnxruntime, against the same step on the cpu reference and the full model
      const reference = runGraph(step.graph, { inputs, params }).outputs.get(output)!;
      expect(maxAbsDiff(reference.data, got), `past ${past}, cpu step`).toBeLessThanOrEqual(TOLERANCE);
      expect(maxAbsDiff(timeRows(full, past, past + n), got), `past ${past}, full model`).toBeLessThanOrEqual(TOLERANCE);
      for (const c of step.caches) {
        cache.set(c.k, fromOrt(out[c.presentK]!));
        cache.set(c.v, fromOrt(out[c.presentV]!));
      }
      past += n;
    }
    for (const c of step.caches) expect(cache.get(c.k)!.shape).toEqual(cacheShape(c, total));
  });
});
