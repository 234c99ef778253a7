// Flash attention template with what decoding and T5 add: a T5 relative-position score bias
// W[t5_bucket(k - q, 32, 128, bidirectional), h] and causal masks offset by the cached keys,
// k <= q + dim(past). The reference is float64 attention written here from the formulas, with T5's
// buckets computed as HF's `_relative_position_bucket` does (Math.log; nothing from src/ir/mask.ts),
// and a custom bias mixing a float table with integer arithmetic.
// Tolerance 2e-5 absolute: the kernel's online softmax in f32 against a two-pass f64 softmax (scores
// of order 10 with T5's scale 1, outputs of order 1: a few f32 ulps per exp and sum); the largest
// measured error over these cases is 2.9e-6, on the interpreter and on lavapipe alike.
import { describe, expect, it } from 'vitest';
import type { Dim, MaskExpr } from '../../src/ir/index.js';
import { maskBin, maskConst, maskDim, maskRead, maskTrue, maskVar } from '../../src/ir/index.js';
import type { AttentionSpec } from '../../src/codegen/templates/attention.js';
import { attentionKernel, ATTENTION_VARIANTS, DEFAULT_ATTENTION_VARIANT } from '../../src/codegen/templates/attention.js';
import { contiguousStrides } from '../../src/codegen/templates/indexing.js';
import type { KernelInstance } from '../../src/codegen/templates/instance.js';
import { assertValidKernel } from '../../src/codegen/kernel-ir/validate.js';
import { evalDim } from '../../src/ir/index.js';
import { noSpan } from '../../src/diagnostics/span.js';
import type { InstanceRun } from './helpers.js';
import { randomArray, runInterpreted, runWebGpu, seeded } from './helpers.js';
import { gpu } from '../webgpu/helpers.js';
import { hfBucket } from './t5-reference.js';

const TOL = 2e-5;
const BUCKETS = 32, MAX_DISTANCE = 128;
const [b, h, q, k] = (['b', 'h', 'q', 'k'] as const).map(maskVar) as [MaskExpr, MaskExpr, MaskExpr, MaskExpr];
const past = maskDim('past');

export interface BiasCase {
  name: string;
  batch: number;
  heads: number;
  tq: Dim;
  tk: Dim;
  d: number;
  mask: MaskExpr;
  /** The mask, written independently: key j visible to query i (batch bi). */
  visible: (i: number, j: number, bi: number) => boolean;
  /** A score bias reading operand 3 = W[32, heads] (f32), and its value written independently. */
  bias?: { expr: MaskExpr; value: (i: number, j: number, hi: number, w: Float32Array, heads: number) => number };
  /** Operand 4: valid[batch, tk] (u32). */
  padding?: boolean;
  symbols?: Record<string, number>;
  scale?: number;
}

/** T5's bias W[t5_bucket(rel, 32, 128, bidirectional), h]; `rel(i, j)` is the relative position the expression computes. */
const t5 = (bidirectional: boolean, rel = maskBin('-', k, q), relOf = (i: number, j: number) => j - i): BiasCase['bias'] => ({
  expr: maskRead(3, [{ kind: 't5_bucket', rel, buckets: BUCKETS, maxDistance: MAX_DISTANCE, bidirectional }, h]),
  value: (i, j, hi, w, heads) => w[hfBucket(relOf(i, j), bidirectional, BUCKETS, MAX_DISTANCE) * heads + hi]!,
});
const int = maskConst;

const causal = maskBin('<=', k, q);
const causalPast = maskBin('<=', k, maskBin('+', q, past));

export const BIAS_CASES: BiasCase[] = [
  // Encoder self-attention: every key, bidirectional buckets; 1..200 tokens cross every log bucket and the cap at 128.
  ...[1, 5, 17, 64, 200].map((n): BiasCase => ({ name: `T5 encoder, bidirectional, ${n} tokens`, batch: 1, heads: 2, tq: n, tk: n, d: 8, mask: maskTrue, visible: () => true, bias: t5(true), scale: 1 })),
  // Decoder self-attention: causal, one-sided buckets (keys after the query never count).
  ...[3, 40, 200].map((n): BiasCase => ({ name: `T5 decoder, causal, unidirectional, ${n} tokens`, batch: 1, heads: 2, tq: n, tk: n, d: 8, mask: causal, visible: (i, j) => j <= i, bias: t5(false), scale: 1 })),
  {
    name: 'T5 bidirectional with padding valid[b, k], tq = 33 < tk = 150', batch: 2, heads: 3, tq: 33, tk: 150, d: 16,
    mask: maskRead(4, [b, k]), visible: (_i, j, bi) => validAt(bi, j), bias: t5(true), padding: true, scale: 1,
  },
  {
    // float and integer arithmetic mixed: f32 * int is f32; integer `/` truncates toward zero (evalMask's semantics)
    name: 'custom bias: W[(k + q) % 7, h] * 2 - (k - q) / 4, causal', batch: 1, heads: 2, tq: 37, tk: 37, d: 8, mask: causal, visible: (i, j) => j <= i,
    bias: {
      expr: maskBin('-', maskBin('*', maskRead(3, [maskBin('%', maskBin('+', k, q), int(7)), h]), int(2)), maskBin('/', maskBin('-', k, q), int(4))),
      value: (i, j, hi, w, heads) => w[((i + j) % 7) * heads + hi]! * 2 - Math.trunc((j - i) / 4),
    },
  },
  // Decoding with a cache: query i is position i + past; keys are the past ones plus the new ones.
  ...[0, 5, 16, 37].map((p): BiasCase => ({
    name: `decode: k <= q + dim(past), past = ${p}, 20 new tokens`, batch: 1, heads: 2, tq: 'seq', tk: 'past+seq', d: 8,
    mask: causalPast, visible: (i, j) => j <= i + p, symbols: { seq: 20, past: p },
  })),
  {
    name: 'decode one token: past = 130, T5 bias of k - (q + dim(past))', batch: 1, heads: 2, tq: 'seq', tk: 'past+seq', d: 8,
    mask: causalPast, visible: (i, j) => j <= i + 130, symbols: { seq: 1, past: 130 },
    bias: t5(false, maskBin('-', k, maskBin('+', q, past)), (i, j) => j - (i + 130)), scale: 1,
  },
  {
    name: 'decode 24 tokens: past = 45, T5 bias, tiles crossing the shifted diagonal', batch: 2, heads: 1, tq: 'seq', tk: 'past+seq', d: 16,
    mask: causalPast, visible: (i, j) => j <= i + 45, symbols: { seq: 24, past: 45 },
    bias: t5(false, maskBin('-', k, maskBin('+', q, past)), (i, j) => j - (i + 45)), scale: 1,
  },
];

/** valid[b, j]: batch 1 keeps only its first 9 keys; batch 0 about 80% of them. */
function validAt(bi: number, j: number): boolean {
  return bi === 1 ? j < 9 : (j * 7919) % 5 !== 0;
}

const dense = (shape: Dim[]) => ({ offset: 0, strides: contiguousStrides(shape) });

export function biasSpec(c: BiasCase): Omit<AttentionSpec, 'variant' | 'locs'> {
  const inputs: AttentionSpec['inputs'] = [
    { storage: 'f32', shape: [c.batch, c.heads, c.tq, c.d] }, { storage: 'f32', shape: [c.batch, c.heads, c.tk, c.d] }, { storage: 'f32', shape: [c.batch, c.heads, c.tk, c.d] },
    { storage: 'f32', shape: [BUCKETS, c.heads] }, { storage: 'u32', shape: [c.batch, c.tk] },
  ];
  const reads = [...(c.bias ? [3] : []), ...(c.padding ? [4] : [])];
  return {
    batch: c.batch, heads: c.heads, tq: c.tq, tk: c.tk, d: c.d, dv: c.d, scale: c.scale ?? 1 / Math.sqrt(c.d), inputs,
    q: { input: 0, layout: dense(inputs[0]!.shape) }, k: { input: 1, layout: dense(inputs[1]!.shape) }, v: { input: 2, layout: dense(inputs[2]!.shape) },
    out: dense([c.batch, c.heads, c.tq, c.d]), mask: c.mask, ...(c.bias ? { bias: c.bias.expr } : {}),
    maskInputs: Object.fromEntries(reads.map((i) => [i, { input: i, layout: dense(inputs[i]!.shape) }])),
  };
}

export function biasRun(c: BiasCase): InstanceRun & { tq: number; tk: number } {
  let seed = 0;
  for (const ch of c.name) seed = (seed * 31 + ch.charCodeAt(0)) >>> 0;
  const rand = seeded(seed);
  const symbols = new Map(Object.entries(c.symbols ?? {}));
  const tq = evalDim(c.tq, symbols), tk = evalDim(c.tk, symbols);
  const inputs = [
    randomArray('f32', c.batch * c.heads * tq * c.d, rand), randomArray('f32', c.batch * c.heads * tk * c.d, rand), randomArray('f32', c.batch * c.heads * tk * c.d, rand),
    randomArray('f32', BUCKETS * c.heads, rand, -3, 3), Uint32Array.from({ length: c.batch * tk }, (_, n) => +validAt(Math.floor(n / tk), n % tk)),
  ];
  return { inputs, outputs: [c.batch * c.heads * tq * c.d], symbols, tq, tk };
}

/** softmax(scale q·k + bias) v over visible keys, in float64; rows with no visible key are 0. */
export function referenceAttention(c: BiasCase, run: ReturnType<typeof biasRun>): Float64Array {
  const { tq, tk } = run, d = c.d, scale = c.scale ?? 1 / Math.sqrt(d);
  const [qd, kd, vd, w] = run.inputs as Float32Array[];
  const out = new Float64Array(c.batch * c.heads * tq * d);
  for (let bi = 0; bi < c.batch; bi++) {
    for (let hi = 0; hi < c.heads; hi++) {
      const bh = bi * c.heads + hi;
      for (let i = 0; i < tq; i++) {
        const scores: [number, number][] = [];
        for (let j = 0; j < tk; j++) {
          if (!c.visible(i, j, bi)) continue;
          let dot = 0;
          for (let x = 0; x < d; x++) dot += qd![(bh * tq + i) * d + x]! * kd![(bh * tk + j) * d + x]!;
          const bias = c.bias ? c.bias.value(i, j, hi, w!, c.heads) : 0;
          scores.push([j, scale * dot + bias]);
        }
        if (scores.length === 0) continue;
        const max = Math.max(...scores.map(([, s]) => s));
        const sum = scores.reduce((acc, [, s]) => acc + Math.exp(s - max), 0);
        for (const [j, s] of scores) {
          const p = Math.exp(s - max) / sum;
          for (let x = 0; x < d; x++) out[(bh * tq + i) * d + x]! += p * vd![(bh * tk + j) * d + x]!;
        }
      }
    }
  }
  return out;
}

/** Largest |got - want| over the elements `rows` selects (default all); NaN counts as infinite. */
export function worstError(got: ArrayLike<number>, want: ArrayLike<number>, d: number, rows = (_row: number) => true): number {
  let worst = 0;
  for (let n = 0; n < want.length; n++) {
    if (!rows(Math.floor(n / d))) continue;
    const e = Math.abs(got[n]! - want[n]!);
    worst = Math.max(worst, Number.isNaN(e) ? Infinity : e);
  }
  return worst;
}

const instanceOf = (c: BiasCase, variant = DEFAULT_ATTENTION_VARIANT): KernelInstance => attentionKernel({ ...biasSpec(c), variant, locs: [noSpan(c.name)] });

describe('attention with a T5 bias and dim(past) offsets on the kernel IR interpreter', () => {
  for (const c of BIAS_CASES) {
    it(c.name, () => {
      const instance = instanceOf(c);
      assertValidKernel(instance.kernel);
      const run = biasRun(c);
      expect(worstError(runInterpreted(instance, run)[0]!, referenceAttention(c, run), c.d)).toBeLessThanOrEqual(TOL);
    });
  }

  it('runs every variant on a case with both bias and offset', () => {
    const c = BIAS_CASES.find((x) => x.name.startsWith('decode 24 tokens'))!;
    for (const variant of Object.values(ATTENTION_VARIANTS)) {
      const run = biasRun(c);
      expect(worstError(runInterpreted(attentionKernel({ ...biasSpec(c), variant, locs: [] }), run)[0]!, referenceAttention(c, run), c.d)).toBeLessThanOrEqual(TOL);
    }
  });

  it('names kernels by their bias: none, T5 bidirectional, T5 one-sided; the offset mask by its shape', () => {
    const names = ['T5 encoder, bidirectional, 5 tokens', 'T5 decoder, causal, unidirectional, 3 tokens', 'custom bias', 'decode: k <= q + dim(past), past = 5', 'decode one token']
      .map((prefix) => instanceOf(BIAS_CASES.find((x) => x.name.startsWith(prefix))!).kernel.name.replace(/_q\d+.*/, ''));
    expect(names).toEqual(['attention_full_t5bias', 'attention_causal_t5bias_causal', 'attention_causal_bias', 'attention_causal_offset', 'attention_causal_offset_t5bias_causal']);
  });

  it('binds dim(past) as a launch parameter, not a constant: one kernel serves every past', () => {
    const cases = BIAS_CASES.filter((x) => x.name.startsWith('decode: '));
    const kernels = new Set(cases.map((c) => JSON.stringify({ ...instanceOf(c).kernel, locs: [] })));
    expect(kernels.size).toBe(1);
    expect(instanceOf(cases[0]!).params).toMatchObject({ dim0: 'past', tk: 'past+seq' });
  });
});

/**
 * Tile skipping under an offset causal mask: query tile 0 (rows 0..15, grid x = 1) with past = 5 sees
 * keys <= 20, so key tiles [32, 48) and [48, 64) are fully masked. Their keys and values are NaN: any
 * read of such a tile (even as a partial tile, where 0 · NaN = NaN) would make the rows NaN.
 */
describe('a fully masked key tile under k <= q + dim(past) is skipped', () => {
  const c: BiasCase = {
    name: 'skip', batch: 1, heads: 1, tq: 'seq', tk: 'past+seq', d: 8, mask: causalPast, visible: (i, j) => j <= i + 5,
    symbols: { seq: 50, past: 5 }, bias: t5(false, maskBin('-', k, maskBin('+', q, past)), (i, j) => j - (i + 5)), scale: 1,
  };
  const poisoned = () => {
    const run = biasRun(c);
    for (const x of [1, 2]) for (let j = 32; j < run.tk; j++) for (let e = 0; e < c.d; e++) (run.inputs[x] as Float32Array)[j * c.d + e] = NaN;
    return { ...run, grid: [1, 1, 1] as [number, number, number] };
  };
  const check = (got: ArrayLike<number>) => {
    const run = biasRun(c); // the same data without NaNs: keys >= 32 are masked for rows 0..15
    expect(worstError(got, referenceAttention(c, run), c.d, (row) => row < 16)).toBeLessThanOrEqual(TOL);
  };
  const variant = ATTENTION_VARIANTS.q16k16t16!;

  it('on the kernel IR interpreter', () => {
    check(runInterpreted(attentionKernel({ ...biasSpec(c), variant, locs: [] }), poisoned())[0]!);
  });
  it('on WebGPU', async () => {
    check((await runWebGpu(await gpu(), attentionKernel({ ...biasSpec(c), variant, locs: [] }), poisoned()))[0]!);
  });
});

describe('attention with a T5 bias and dim(past) offsets on WebGPU', () => {
  for (const c of BIAS_CASES) {
    it(c.name, async () => {
      const run = biasRun(c);
      expect(worstError((await runWebGpu(await gpu(), instanceOf(c), run))[0]!, referenceAttention(c, run), c.d)).toBeLessThanOrEqual(TOL);
    });
  }
  it('two more variants (32 threads per row; 4 keys per thread), T5 decoder with an offset', async () => {
    // Every variant runs on the interpreter; lavapipe compiles each kernel for seconds on a busy CPU.
    const c = BIAS_CASES.find((x) => x.name.startsWith('decode 24 tokens'))!;
    for (const variant of [ATTENTION_VARIANTS.q8k32t32!, ATTENTION_VARIANTS.q32k16t4!]) {
      const run = biasRun(c);
      const got = (await runWebGpu(await gpu(), attentionKernel({ ...biasSpec(c), variant, locs: [] }), run))[0]!;
      expect(worstError(got, referenceAttention(c, run), c.d)).toBeLessThanOrEqual(TOL);
    }
  });
});
