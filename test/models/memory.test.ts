// Segment recurrence (Transformer-XL, Dai et al. 2019) and two-stream attention (XLNet, Yang et al.
// 2019): float64 references written here from the papers' equations, sessions carrying memory across
// calls, and each model on the CPU reference, WebGPU, onnxruntime, WGSL and CUDA (nvcc).
// Tolerances:
// - float64 vs float64: relative error norm <= 1e-9 (same f32 weights, sums in other orders; measured
//   4e-16 .. 7e-16). Dropping one of the four score terms moves the logits by 7e-2 .. 3e-1 (checked).
// - WebGPU vs CPU (both f32): relative error norm <= 1e-4, the bound (measured <= 4.3e-7).
// - onnxruntime vs CPU (both f32): max abs error <= 1e-4 x max(1, largest |output|) (f32 sums in
//   other orders over <= 32-wide dot products; measured <= 7.2e-7 on outputs up to 3.2).
// Measured values are printed at the end of a run.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, test } from 'vitest';
import { compile, compileGraph } from '../../src/api.js';
import type { Compiled } from '../../src/api.js';
import type { Graph } from '../../src/ir/types.js';
import { PtmError } from '../../src/diagnostics/diagnostic.js';
import { RandomStream, runGraph, size, tensor } from '../../src/runtime/index.js';
import type { Tensor } from '../../src/runtime/index.js';
import { WebGpuDevice } from '../../src/runtime/program/webgpu-device.js';
import { Session } from '../../src/runtime/session/index.js';
import { main } from '../../src/cli/main.js';
import { initParams, randomInputs, summarize } from '../../src/runtime/index.js';
import { errorLog, expectOnnxMaxAbsAgreement, expectWebGpuMatchesCpu, expectWgslAndNvcc, nvccWorkspace, relativeError } from './harness.js';
import type { Rows, Weights } from './family-reference.js';
import { add, embed, gelu, layerNorm, linear, map, tiedLogits, weight } from './family-reference.js';

type Config = Record<string, number>;
type Inputs = Record<string, Tensor>;

const WEBGPU_BINDING = 128 * 2 ** 20;
const TXL = 'models/transformer-xl.ptm';
const XLNET = 'models/xlnet.ptm';
const TINY: Config = { vocab: 29, d: 16, heads: 2, ff: 32, layers: 2, mlen: 5 };
const BATCH = 2;
const SEQ = 3;

const note = errorLog('memory errors');

// ---------------------------------------------------------------------------------------------------
// Weights and inputs

/** Random weights large enough that every score term matters (initParams' 0.02 would hide them). */
function weights(graph: Graph, seed: number): Map<string, Tensor> {
  return new Map(graph.params.map((p) => {
    const shape = p.value.type.shape as number[];
    const z = new RandomStream(seed, p.name).normals(size(shape));
    const data = Float32Array.from(z, (v) => (p.init.kind === 'ones' ? 1 + 0.1 * v : shape.length === 1 ? 0.3 * v : v / Math.sqrt(shape[0]!)));
    return [p.name, tensor('f32', shape, data)];
  }));
}

const source = (file: string): string => readFileSync(file, 'utf8');

function ids(seed: number, seq = SEQ): Tensor {
  const r = new RandomStream(seed, 'ids');
  return tensor('i32', [BATCH, seq], Int32Array.from({ length: BATCH * seq }, (_, i) => r.below(i, TINY.vocab!)));
}

/** A permutation of 0..seq-1 per batch row: the factorization order of XLNet. */
function ranks(seed: number): Tensor {
  const r = new RandomStream(seed, 'rank');
  const data = new Int32Array(BATCH * SEQ);
  for (let b = 0; b < BATCH; b++) {
    const order = Array.from({ length: SEQ }, (_, i) => i);
    for (let i = SEQ - 1; i > 0; i--) {
      const j = r.below(b * SEQ + i, i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    order.forEach((t, rank) => (data[b * SEQ + t] = rank));
  }
  return tensor('i32', [BATCH, SEQ], data);
}

/** Segment ids: row 0 all segment 0 but its last token (1), row 1 segments 0, 1, 1. */
function segmentIds(): Tensor {
  return tensor('i32', [BATCH, SEQ], Int32Array.from({ length: BATCH * SEQ }, (_, i) => (i % SEQ === SEQ - 1 || (i >= SEQ && i % SEQ >= 1) ? 1 : 0)));
}

function memories(seed: number, layers: number, mlen: number): Inputs {
  const shape = [BATCH, mlen, TINY.d!];
  return Object.fromEntries(Array.from({ length: layers }, (_, l) => [`mem.${l}`, tensor('f32', shape, Float32Array.from(new RandomStream(seed, `mem${l}`).normals(size(shape))))]));
}

/** Row b of a [batch, rows, d] tensor as float64 rows. */
function rowsOf(t: Tensor, b: number): Rows {
  const [, n, d] = t.shape as [number, number, number];
  return Array.from({ length: n }, (_, i) => Float64Array.from(t.data.subarray((b * n + i) * d, (b * n + i + 1) * d)));
}

const intRow = (t: Tensor, b: number): number[] => Array.from(t.data.subarray(b * t.shape[1]!, (b + 1) * t.shape[1]!));

const flatten = (perBatch: Rows[]): Float64Array => Float64Array.from(perBatch.flatMap((rows) => rows.flatMap((r) => Array.from(r))));

// ---------------------------------------------------------------------------------------------------
// Float64 references from the papers

/** Which of Transformer-XL's four score terms (§3.3: a content, b content-position, c global content, d global position) to keep. */
type Terms = { a: boolean; b: boolean; c: boolean; d: boolean };
const ALL: Terms = { a: true, b: true, c: true, d: true };

/** R_δ (Dai et al. 2019 §3.3, Vaswani et al.'s sinusoid over relative distance): [sin(δ f_m), cos(δ f_m)], f_m = 10000^(−2m/d). */
function sinusoid(delta: number, d: number): Float64Array {
  const r = new Float64Array(d);
  for (let m = 0; m < d / 2; m++) {
    const f = 10000 ** (-2 * m / d);
    r[m] = Math.sin(delta * f);
    r[m + d / 2] = Math.cos(delta * f);
  }
  return r;
}

/**
 * Relative multi-head attention of queries `queries` (T rows) over keys and values from
 * concat(mem, x) (M + T rows), as Dai et al. 2019 eq. in §3.3 with the memory of §3.2:
 *   A_ij = q_iᵀk_j (a) + q_iᵀ W_r R_{i−j} (b) + uᵀk_j (c) + vᵀ W_r R_{i−j} (d),
 * with i the query's position M + t in the concatenation; scores scaled by 1/sqrt(d_head).
 * Projections have no bias (the authors' code).
 */
function relativeAttention(
  w: Weights, prefix: string, uv: string, x: Rows, mem: Rows, queries: Rows, heads: number, visible: (t: number, j: number) => boolean, terms: Terms = ALL,
  segment?: { prefix: string; same: (t: number, j: number) => boolean },
): Rows {
  const cat = [...mem, ...x];
  const M = mem.length, d = x[0]!.length, dh = d / heads;
  const q = linear(w, `${prefix}.q`, queries, false), k = linear(w, `${prefix}.k`, cat, false), v = linear(w, `${prefix}.v`, cat, false);
  const u = weight(w, `${uv}.u`).data, vb = weight(w, `${uv}.v`).data;
  const wr = (delta: number): Float64Array => linear(w, `${prefix}.r`, [sinusoid(delta, d)], false)[0]!;
  const out = queries.map(() => new Float64Array(d));
  for (let t = 0; t < queries.length; t++) {
    for (let n = 0; n < heads; n++) {
      const scores: number[] = [], keys: number[] = [];
      for (let j = 0; j < cat.length; j++) {
        if (!visible(t, j)) continue;
        const r = wr(M + t - j);
        let s = 0;
        for (let c = 0; c < dh; c++) {
          const at = n * dh + c;
          if (terms.a) s += q[t]![at]! * k[j]![at]!;
          if (terms.b) s += q[t]![at]! * r[at]!;
          if (terms.c) s += u[at]! * k[j]![at]!;
          if (terms.d) s += vb[at]! * r[at]!;
          if (segment) {
            // XLNet's (q_i + b)ᵀ s_ij, s_ij = seg.weight[0] for the same segment, seg.weight[1] otherwise.
            const which = segment.same(t, j) ? 0 : 1;
            s += (q[t]![at]! + weight(w, `${segment.prefix}.bias`).data[at]!) * weight(w, `${segment.prefix}.weight`).data[which * d + at]!;
          }
        }
        scores.push(s / Math.sqrt(dh));
        keys.push(j);
      }
      if (keys.length === 0) continue;
      const max = Math.max(...scores);
      const e = scores.map((s) => Math.exp(s - max));
      const z = e.reduce((a, b) => a + b, 0);
      keys.forEach((j, i) => {
        for (let c = 0; c < dh; c++) out[t]![n * dh + c]! += (e[i]! / z) * v[j]![n * dh + c]!;
      });
    }
  }
  return linear(w, `${prefix}.o`, out, false);
}

/** The memory after a segment: the last M rows of concat(mem, x) (§3.2, SG(h^{n-1}_τ) ∘ h^{n-1}_{τ+1}). */
const nextMemory = (mem: Rows, x: Rows): Rows => [...mem, ...x].slice(-mem.length);

/** Transformer-XL (post-LN, ReLU, embedding × sqrt(d), tied output) on one sequence with per-layer memory. */
function transformerXl(w: Weights, c: Config, tokens: number[], mems: Rows[], terms: Terms = ALL): { logits: Rows; next: Rows[] } {
  let h = map(embed(w, 'tok.weight', tokens), (v) => v * Math.sqrt(c.d!));
  const next: Rows[] = [];
  for (let l = 0; l < c.layers!; l++) {
    const p = `layers.${l}`, M = mems[l]!.length;
    next.push(nextMemory(mems[l]!, h));
    const a = relativeAttention(w, `${p}.attn`, 'rel', h, mems[l]!, h, c.heads!, (t, j) => j <= t + M, terms);
    h = layerNorm(w, `${p}.ln`, add(h, a), c.eps!);
    const f = linear(w, `${p}.ffn.down`, map(linear(w, `${p}.ffn.up`, h), (v) => Math.max(0, v)));
    h = layerNorm(w, `${p}.ln_1`, add(h, f), c.eps!);
  }
  return { logits: tiedLogits(w, 'tok.weight', h), next };
}

/**
 * XLNet's two streams (Yang et al. 2019 §2.3): content h^(m)_z_t attends to h_z_{<=t} (itself
 * included), query g^(m)_z_t to h_z_{<t} (not itself), both over content keys/values and the memory
 * (visible to all), sharing every weight; g starts from the mask embedding w.
 */
function xlnet(w: Weights, c: Config, tokens: number[], rank: number[], seg: number[], mems: Rows[]): { logits: Rows; hidden: Rows; next: Rows[] } {
  let h = embed(w, 'tok.weight', tokens);
  const maskEmb = Float64Array.from(weight(w, 'mask_emb').data);
  let g: Rows = tokens.map(() => Float64Array.from(maskEmb));
  const next: Rows[] = [];
  for (let l = 0; l < c.layers!; l++) {
    const p = `layers.${l}`, M = mems[l]!.length;
    next.push(nextMemory(mems[l]!, h));
    const sees = (t: number, j: number): boolean => j < M || rank[j - M]! <= rank[t]!;
    const before = (t: number, j: number): boolean => j < M || rank[j - M]! < rank[t]!;
    // Relative segment encoding (§2.5): s_ij = seg_embed[same ? 0 : 1], memory rows in segment 0.
    const segment = { prefix: `${p}.attn.seg`, same: (t: number, j: number): boolean => seg[t]! === (j < M ? 0 : seg[j - M]!) };
    const ah = relativeAttention(w, `${p}.attn`, `${p}.attn.rel`, h, mems[l]!, h, c.heads!, sees, ALL, segment);
    const ag = relativeAttention(w, `${p}.attn`, `${p}.attn.rel`, h, mems[l]!, g, c.heads!, before, ALL, segment);
    const ffn = (x: Rows): Rows => layerNorm(w, `${p}.ln_ffn`, add(x, linear(w, `${p}.down`, map(linear(w, `${p}.up`, x), gelu))), c.eps!);
    h = ffn(layerNorm(w, `${p}.ln_attn`, add(h, ah), c.eps!));
    g = ffn(layerNorm(w, `${p}.ln_attn`, add(g, ag), c.eps!));
  }
  return { logits: tiedLogits(w, 'tok.weight', g), hidden: h, next };
}

// ---------------------------------------------------------------------------------------------------
// The tiny models

interface Built {
  compiled: Compiled;
  config: Config;
  params: Map<string, Tensor>;
  inputs: Inputs;
  f32: Map<string, Tensor>;
  f64: Map<string, Tensor>;
}
const built = new Map<string, Built>();
const configOf = (config: ReadonlyMap<string, { value: number }>): Config => Object.fromEntries([...config].map(([k, v]) => [k, v.value]));

function tiny(file: string, set: Config = TINY): Built {
  const key = file + JSON.stringify(set);
  let b = built.get(key);
  if (!b) {
    const compiled = compile(source(file), { file, set, maxBindingBytes: WEBGPU_BINDING });
    const config = configOf(compiled.config);
    const params = weights(compiled.graph, 11);
    const inputs: Inputs = { ids: ids(3), ...memories(5, config.layers!, config.mlen!), ...(file === XLNET ? { rank: ranks(7), seg: segmentIds() } : {}) };
    const f32 = runGraph(compiled.graph, { inputs, params, precision: 'f32' }).outputs;
    const f64 = runGraph(compiled.graph, { inputs, params, precision: 'f64' }).outputs;
    b = { compiled, config, params, inputs, f32, f64 };
    built.set(key, b);
  }
  return b;
}

function txlReference(b: Built, terms: Terms = ALL): Record<string, Float64Array> {
  const runs = Array.from({ length: BATCH }, (_, r) => transformerXl(b.params, b.config, intRow(b.inputs.ids!, r), Array.from({ length: b.config.layers! }, (_, l) => rowsOf(b.inputs[`mem.${l}`]!, r)), terms));
  return {
    logits: flatten(runs.map((x) => x.logits)),
    ...Object.fromEntries(Array.from({ length: b.config.layers! }, (_, l) => [`mem.${l}.next`, flatten(runs.map((x) => x.next[l]!))])),
  };
}

function xlnetReference(b: Built, inputs: Inputs = b.inputs): Record<string, Float64Array> {
  const runs = Array.from({ length: BATCH }, (_, r) => xlnet(b.params, b.config, intRow(inputs.ids!, r), intRow(inputs.rank!, r), intRow(inputs.seg!, r), Array.from({ length: b.config.layers! }, (_, l) => rowsOf(inputs[`mem.${l}`]!, r))));
  return {
    logits: flatten(runs.map((x) => x.logits)),
    hidden: flatten(runs.map((x) => x.hidden)),
    ...Object.fromEntries(Array.from({ length: b.config.layers! }, (_, l) => [`mem.${l}.next`, flatten(runs.map((x) => x.next[l]!))])),
  };
}

function worst(ours: ReadonlyMap<string, Tensor>, ref: Record<string, Float64Array>): number {
  expect([...ours.keys()].sort()).toEqual(Object.keys(ref).sort());
  return Math.max(...Object.entries(ref).map(([name, r]) => relativeError(ours.get(name)!.data, r)));
}

// ---------------------------------------------------------------------------------------------------

describe('Transformer-XL: relative positions and memory against the paper', () => {
  test('the published size: 150,838,570 parameters built (Table 1: 151M)', () => {
    const { graph, config } = compileGraph(source(TXL), { file: TXL });
    const c = configOf(config);
    const count = graph.params.reduce((n, p) => n + size(p.value.type.shape as number[]), 0);
    const layer = 5 * c.d! * c.d! + 4 * c.d! + (c.d! * c.ff! + c.ff!) + (c.ff! * c.d! + c.d!); // q k v o r; two LNs; FFN
    expect(count).toBe(c.layers! * layer + 2 * c.d! + c.vocab! * c.d!);
    expect(count).toBe(150_838_570);
    expect(Math.abs(count - 151e6)).toBeLessThanOrEqual(0.5e6);
  });

  test('one layer: the CPU reference in float64 equals the four-term reference', () => {
    const b = tiny(TXL, { ...TINY, layers: 1 });
    const err = worst(b.f64, txlReference(b));
    note('transformer-xl 1 layer f64 vs reference', err);
    expect(err).toBeLessThanOrEqual(1e-9);
  });

  test('each of the four score terms is in the model: dropping one from the reference moves the logits', () => {
    const b = tiny(TXL, { ...TINY, layers: 1 });
    for (const term of ['a', 'b', 'c', 'd'] as const) {
      const err = relativeError(b.f64.get('logits')!.data, txlReference(b, { ...ALL, [term]: false }).logits!);
      note(`transformer-xl without term (${term}) vs the model`, err);
      expect(err, term).toBeGreaterThan(1e-3);
    }
  });

  test('a segment longer than the memory (3 tokens, 2 rows): the next memory is the segment\'s last rows', () => {
    const b = tiny(TXL, { ...TINY, mlen: 2 });
    const err = worst(b.f64, txlReference(b));
    note('transformer-xl mlen 2 < seq 3 f64 vs reference', err);
    expect(err).toBeLessThanOrEqual(1e-9);
  });

  test('two layers: each layer keeps its own input as memory', () => {
    const b = tiny(TXL);
    const err = worst(b.f64, txlReference(b));
    note('transformer-xl 2 layers f64 vs reference', err);
    expect(err).toBeLessThanOrEqual(1e-9);
  });

  test('memory rows are visible keys, future segment keys are not', () => {
    const b = tiny(TXL, { ...TINY, layers: 1 });
    // Changing the memory changes every query's output; changing the last token changes only the last position.
    const mem = b.inputs['mem.0']!;
    const moved = runGraph(b.compiled.graph, { inputs: { ...b.inputs, 'mem.0': tensor('f32', mem.shape, Float32Array.from(mem.data, (v) => v + 0.5)) }, params: b.params, precision: 'f64' }).outputs.get('logits')!;
    const vocab = b.config.vocab!;
    const logits = b.f64.get('logits')!;
    const rowDiff = (x: Tensor, t: number): number => Math.max(...Array.from({ length: vocab }, (_, i) => Math.abs(x.data[t * vocab + i]! - logits.data[t * vocab + i]!)));
    for (let t = 0; t < SEQ; t++) expect(rowDiff(moved, t), `position ${t} sees the memory`).toBeGreaterThan(1e-6);
    const tokens = Int32Array.from(b.inputs.ids!.data);
    tokens[SEQ - 1] = (tokens[SEQ - 1]! + 1) % vocab;
    const later = runGraph(b.compiled.graph, { inputs: { ...b.inputs, ids: tensor('i32', [BATCH, SEQ], tokens) }, params: b.params, precision: 'f64' }).outputs.get('logits')!;
    for (let t = 0; t < SEQ - 1; t++) expect(rowDiff(later, t), `position ${t} does not see a later token`).toBe(0);
    expect(rowDiff(later, SEQ - 1)).toBeGreaterThan(1e-6);
  });
});

describe('XLNet: two-stream attention against the paper', () => {
  test('the published size: 116,718,336 parameters built (XLNet-base, as BERT-Base ~110M plus the relative-position and segment weights)', () => {
    const { graph, config } = compileGraph(source(XLNET), { file: XLNET });
    const c = configOf(config);
    const count = graph.params.reduce((n, p) => n + size(p.value.type.shape as number[]), 0);
    const layer = 5 * c.d! * c.d! + 2 * c.d! + 3 * c.d! + 4 * c.d! + (c.d! * c.ff! + c.ff!) + (c.ff! * c.d! + c.d!); // q k v o r; u v; s± and b; two LNs; FFN
    expect(count).toBe(c.layers! * layer + c.vocab! * c.d! + c.d!);
    expect(count).toBe(116_718_336);
  });

  test('both streams and the memory: the CPU reference in float64 equals the reference', () => {
    const b = tiny(XLNET);
    const err = worst(b.f64, xlnetReference(b));
    note('xlnet 2 layers f64 vs reference', err);
    expect(err).toBeLessThanOrEqual(1e-9);
  });

  test('which tokens each stream sees (one layer): content sees rank <= its own, query stream only rank < its own', () => {
    const b = tiny(XLNET, { ...TINY, layers: 1 });
    const d = b.config.d!;
    const run = (tokens: Int32Array): Map<string, Tensor> => runGraph(b.compiled.graph, { inputs: { ...b.inputs, ids: tensor('i32', [BATCH, SEQ], tokens) }, params: b.params, precision: 'f64' }).outputs;
    const rank = b.inputs.rank!.data;
    const vocab = b.config.vocab!;
    for (let row = 0; row < BATCH; row++) {
      for (let p = 0; p < SEQ; p++) {
        const tokens = Int32Array.from(b.inputs.ids!.data);
        tokens[row * SEQ + p] = (tokens[row * SEQ + p]! + 1) % vocab;
        const out = run(tokens);
        for (let t = 0; t < SEQ; t++) {
          const changed = (name: string, width: number): boolean => {
            const x = out.get(name)!.data, y = b.f64.get(name)!.data;
            for (let i = 0; i < width; i++) if (Math.abs(x[(row * SEQ + t) * width + i]! - y[(row * SEQ + t) * width + i]!) > 1e-9) return true;
            return false;
          };
          const rp = rank[row * SEQ + p]!, rt = rank[row * SEQ + t]!;
          expect(changed('hidden', d), `row ${row}: content at ${t} (rank ${rt}) vs token ${p} (rank ${rp})`).toBe(rp <= rt);
          expect(changed('logits', vocab), `row ${row}: query stream at ${t} (rank ${rt}) vs token ${p} (rank ${rp})`).toBe(rp < rt);
        }
      }
    }
  });
});

describe('sessions carry memory from segment to segment', () => {
  const segments = [ids(21), ids(22), ids(23)];
  /** The reference fed segment by segment, each next memory passed by hand; zero memory first. */
  function byHand(b: Built): Float64Array[] {
    const { layers, mlen, d } = b.config;
    let mems: Rows[][] = Array.from({ length: BATCH }, () => Array.from({ length: layers! }, () => Array.from({ length: mlen! }, () => new Float64Array(d!))));
    return segments.map((seg) => {
      const runs = mems.map((m, r) => transformerXl(b.params, b.config, intRow(seg, r), m));
      mems = runs.map((x) => x.next);
      return flatten(runs.map((x) => x.logits));
    });
  }

  test('CPU reference (float64): three segments equal the reference with the memory concatenated by hand', async () => {
    const b = tiny(TXL);
    const session = Session.create(b.compiled.graph, b.params, { kind: 'cpu', precision: 'f64' });
    expect(session.memories.map((m) => m.input)).toEqual(['mem.0', 'mem.1']);
    const expected = byHand(b);
    for (let s = 0; s < segments.length; s++) {
      const out = await session.run({ ids: segments[s]! });
      expect([...out.keys()]).toEqual(['logits']);
      const err = relativeError(out.get('logits')!.data, expected[s]!);
      note(`session segment ${s} f64 vs by hand`, err);
      expect(err).toBeLessThanOrEqual(1e-9);
    }
    // The memory (5 rows) outlives a segment (3 rows): after three segments it holds rows of two.
    session.reset();
    const again = await session.run({ ids: segments[0]! });
    expect(relativeError(again.get('logits')!.data, expected[0]!)).toBeLessThanOrEqual(1e-9);
  });

  test('the memory is not a passenger: a session differs from independent runs after the first segment', async () => {
    const b = tiny(TXL);
    const session = Session.create(b.compiled.graph, b.params, { kind: 'cpu', precision: 'f64' });
    await session.run({ ids: segments[0]! });
    const second = (await session.run({ ids: segments[1]! })).get('logits')!;
    const fresh = (await Session.create(b.compiled.graph, b.params, { kind: 'cpu', precision: 'f64' }).run({ ids: segments[1]! })).get('logits')!;
    expect(relativeError(second.data, fresh.data)).toBeGreaterThan(1e-3);
  });

  test('the session owns the memory inputs: passing one is unknown_input', async () => {
    const b = tiny(TXL);
    const session = Session.create(b.compiled.graph, b.params, { kind: 'cpu' });
    await expect(session.run({ ids: segments[0]!, 'mem.0': b.inputs['mem.0']! })).rejects.toSatisfy((e: unknown) => e instanceof PtmError && e.diagnostics[0]!.code === 'unknown_input');
  });

  test('WebGPU: the same three segments match the CPU reference', async () => {
    const b = tiny(TXL);
    const device = await WebGpuDevice.create();
    const session = Session.create(b.compiled.graph, b.params, { kind: 'kernels', device, lower: { maxBindingBytes: WEBGPU_BINDING } });
    const expected = byHand(b);
    for (let s = 0; s < segments.length; s++) {
      const out = await session.run({ ids: segments[s]! });
      const err = relativeError(out.get('logits')!.data, expected[s]!);
      note(`session segment ${s} WebGPU vs by hand`, err);
      expect(err).toBeLessThanOrEqual(1e-4);
    }
  });
});

describe('ptm run --segments', () => {
  const set = ['--set', 'vocab=29', 'd=16', 'heads=2', 'ff=32', 'layers=2', 'mlen=5'];
  const cli = async (args: string[]): Promise<{ code: number; out: string; err: string }> => {
    let out = '', err = '';
    const code = await main(args, { out: (t) => void (out += t + '\n'), err: (t) => void (err += t + '\n') });
    return { code, out, err };
  };

  test('feeds the input in segments through one session; each segment equals a session run on that piece', async () => {
    const r = await cli(['run', TXL, '--random', '--seed', '4', '--dim', 'seq=7', '--segments', '3', '--backend', 'cpu', '--json', ...set]);
    expect(r.code, r.err).toBe(0);
    const report = JSON.parse(r.out) as { memories: string[]; segments: Array<{ start: number; end: number; outputs: Array<{ name: string; checksum: string; shape: number[] }> }> };
    expect(report.memories).toEqual(['mem.0', 'mem.1']);
    expect(report.segments.map((s) => [s.start, s.end])).toEqual([[0, 2], [2, 4], [4, 7]]);
    // The same inputs and weights by hand: the CLI's seeded random ids (memory inputs left out) and init.
    const { graph } = compileGraph(source(TXL), { file: TXL, set: { vocab: 29, d: 16, heads: 2, ff: 32, layers: 2, mlen: 5 } });
    const fed = { ...graph, inputs: graph.inputs.filter((i) => i.name === 'ids') };
    const whole = randomInputs(fed, 4, new Map([['batch', 1], ['seq', 7]])).ids!;
    const session = Session.create(graph, initParams(graph, 4), { kind: 'cpu' });
    for (const s of report.segments) {
      const piece = tensor('i32', [1, s.end - s.start], whole.data.subarray(s.start, s.end));
      const logits = (await session.run({ ids: piece })).get('logits')!;
      expect(s.outputs.map((o) => o.name)).toEqual(['logits']);
      expect(s.outputs[0]!.shape).toEqual([1, s.end - s.start, 29]);
      expect(s.outputs[0]!.checksum).toBe(summarize(logits).checksum);
    }
  });

  test('a model without memory, and a bad count, are diagnostics', async () => {
    const none = await cli(['run', 'models/gpt2.ptm', '--random', '--segments', '2', '--backend', 'cpu', '--set', 'layers=1', 'd=16', 'heads=2', 'vocab=11', 'ctx=8']);
    expect(none.code).not.toBe(0);
    expect(none.err).toMatch(/declares no memory/);
    const bad = await cli(['run', TXL, '--random', '--segments', '0', '--backend', 'cpu', ...set]);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/--segments 0/);
  });
});

describe('diagnostics', () => {
  const errorOf = (text: string): { code: string; line: number; message: string } => {
    try {
      compileGraph(text, { file: 't.ptm' });
    } catch (e) {
      if (!(e instanceof PtmError)) throw e;
      const d = e.diagnostics[0]!;
      return { code: d.code, line: d.span.line, message: d.message };
    }
    throw new Error('no error');
  };
  const model = (body: string): string => `model M {\n  config { d = 8  heads = 2 }\n  input x: f32[batch, seq, d]\n  memory mem[2]: f32[batch, 4, d]\n${body}\n}`;

  test('a memory never given to an attention', () => {
    expect(errorOf(model('  output y = x + Attention(x, heads: heads, memory: mem[0])'))).toMatchObject({ code: 'memory_unused', line: 4 });
  });
  test('one memory given to two attentions', () => {
    const e = errorOf(model('  a = Attention(x, heads: heads, memory: mem[0])\n  b = Attention(a, heads: heads, memory: mem[0])\n  c = Attention(b, heads: heads, memory: mem[1])\n  output y = c'));
    expect(e).toMatchObject({ code: 'conflicting_arguments', line: 6 });
  });
  test('memory: with rotary positions or kv:', () => {
    expect(errorOf(model('  a = Attention(x, heads: heads, memory: mem[0], position: rotary())\n  output y = Attention(a, heads: heads, memory: mem[1])'))).toMatchObject({ code: 'conflicting_arguments', line: 5 });
    expect(errorOf(model('  a = Attention(x, heads: heads, memory: mem[0], kv: x)\n  output y = Attention(a, heads: heads, memory: mem[1])'))).toMatchObject({ code: 'conflicting_arguments', line: 5 });
  });
  test('memory: given something that is not a declared memory', () => {
    expect(errorOf(model('  a = Attention(x, heads: heads, memory: x)\n  output y = a'))).toMatchObject({ code: 'kind_mismatch', line: 5 });
  });
  test('a memory of the wrong width, and xl_relative of the wrong head count', () => {
    const wide = 'model M {\n  config { d = 8  heads = 2 }\n  input x: f32[batch, seq, d]\n  memory m: f32[batch, 4, 16]\n  output y = Attention(x, heads: heads, memory: m)\n}';
    expect(errorOf(wide)).toMatchObject({ code: 'shape_mismatch', line: 5 });
    const rel = 'model M {\n  config { d = 8  heads = 2 }\n  input x: f32[batch, seq, d]\n  rel = xl_relative(heads: 4, head_dim: 2)\n  output y = Attention(x, heads: heads, position: rel)\n}';
    expect(errorOf(rel)).toMatchObject({ code: 'shape_mismatch', line: 5 });
  });
  test('the example of REFERENCE.md §7.6 elaborates: two memories carried, two streams returned', () => {
    const reference = readFileSync('dsl/REFERENCE.md', 'utf8');
    const at = reference.indexOf('### 7.6 Segment memory');
    const example = /```ptm\n([\s\S]*?)```/.exec(reference.slice(at))![1]!;
    const { graph } = compileGraph(example, { file: 'REFERENCE.md' });
    expect(graph.inputs.map((i) => i.name)).toEqual(['ids', 'rank', 'mem.0', 'mem.1']);
    expect(graph.outputs.map((o) => o.name).sort()).toEqual(['mem.0.next', 'mem.1.next', 'y']);
  });
  test('segments: without xl_relative, and of the wrong shape', () => {
    const base = (arg: string, seg = 'i32[batch, seq]'): string => `model M {\n  config { d = 8  heads = 2 }\n  input x: f32[batch, seq, d]\n  input seg: ${seg}\n  output y = Attention(x, heads: heads, segments: seg${arg})\n}`;
    expect(errorOf(base(''))).toMatchObject({ code: 'conflicting_arguments', line: 5 });
    expect(errorOf(base(', position: xl_relative()', 'i32[batch, 4]'))).toMatchObject({ code: 'shape_mismatch', line: 5 });
    expect(errorOf(base(', position: xl_relative()', 'f32[batch, seq]'))).toMatchObject({ code: 'kind_mismatch', line: 5 });
  });
  test('query_mask: without query:', () => {
    expect(errorOf(model('  a = Attention(x, heads: heads, memory: mem[0], query_mask: causal)\n  output y = Attention(a, heads: heads, memory: mem[1])'))).toMatchObject({ code: 'conflicting_arguments', line: 5 });
  });
});

describe('the tiny models on WebGPU, onnxruntime, WGSL and CUDA', () => {
  const FILES = [TXL, XLNET];
  let device: WebGpuDevice;
  const nvcc = nvccWorkspace('memory', 'memory_kernels', () => FILES.map((f) => tiny(f).compiled.program));
  beforeAll(async () => {
    device = await WebGpuDevice.create();
  });

  for (const file of FILES) {
    test(`${file}: WebGPU matches the CPU reference`, async () => {
      await expectWebGpuMatchesCpu(tiny(file), device, 1e-4, note, (out) => `${file} ${out} WebGPU vs CPU`, true);
    });

    test(`${file}: onnxruntime agrees on the exported ONNX`, async () => {
      await expectOnnxMaxAbsAgreement(tiny(file), 1e-4, note, (out, scale) => `${file} ${out} onnxruntime vs CPU (max abs, outputs up to ${scale.toFixed(1)})`);
    });

    test(`${file}: renders WGSL, and nvcc compiles every CUDA kernel without a warning`, async () => {
      await expectWgslAndNvcc(tiny(file).compiled.program, nvcc);
    }, 300_000);
  }
});
