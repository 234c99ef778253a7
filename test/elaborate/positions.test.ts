// Position encodings (REFERENCE.md §7.4, §8.6) against float64 references written from the papers:
// the sinusoidal table of Vaswani et al. 2017 §3.5, rotary attention of RoFormer (Su et al. 2021) in
// the rotate-half pairing of GPT-NeoX/LLaMA, and T5's relative bias (Raffel et al. 2020) with the
// bucket formula of Hugging Face's `_relative_position_bucket` evaluated with Math.log.
import { describe, expect, test } from 'vitest';
import { compileGraph } from '../../src/api.js';
import type { Graph } from '../../src/ir/types.js';
import { verifyGraph } from '../../src/ir/verify.js';
import { runGraph, tensor } from '../../src/runtime/index.js';
import { seeded, uniform } from '../runtime/helpers.js';
import { maxAbsDiff, referenceAttention, runModel } from './reference.js';

const graphOf = (source: string): Graph => compileGraph(source, { file: 't.ptm' }).graph;

describe('sinusoidal(pos, d) (§8.6)', () => {
  /** PE[p, 2i] = sin(p / base^(2i/d)), PE[p, 2i+1] = cos(p / base^(2i/d)). */
  const table = (positions: number[], d: number, base = 10000): number[] =>
    positions.flatMap((p) => Array.from({ length: d }, (_, j) => {
      const i = Math.floor(j / 2);
      const angle = p / Math.pow(base, (2 * i) / d);
      return j % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
    }));

  // Tolerance 1e-12 in f64: angles reach 1023, where one ulp is 1.1e-13, and the frequency is computed
  // as base^(-2i/d) here but divided by base^(2i/d) in the formula: a few ulps apart.
  test('arange(seq) positions match the formula in f64 (d = 16, positions 0..1023)', () => {
    const g = graphOf(`model M {\n  input ids: i32[batch, seq]\n  output pe = sinusoidal(arange(seq), 16)\n}`);
    const ids = tensor('i32', [1, 1024]);
    const pe = runGraph(g, { inputs: { ids }, params: new Map(), precision: 'f64' }).outputs.get('pe')!;
    expect(pe.shape).toEqual([1024, 16]);
    expect(maxAbsDiff(pe.data, table([...Array(1024).keys()], 16))).toBeLessThan(1e-12);
  });

  test('positions of any shape, another base and d; f32 within the rounding of its angles', () => {
    const g = graphOf(`model M {\n  input pos: i32[batch, n]\n  output pe = sinusoidal(pos, 6, base: 500)\n}`);
    const positions = [3, 0, 999, 17, 1000, 250];
    const pos = tensor('i32', [2, 3], positions);
    const f64 = runGraph(g, { inputs: { pos }, params: new Map(), precision: 'f64' }).outputs.get('pe')!;
    expect(f64.shape).toEqual([2, 3, 6]);
    expect(maxAbsDiff(f64.data, table(positions, 6, 500))).toBeLessThan(1e-12);
    // f32: the angle p·ω (p <= 1000) is rounded to f32, 6e-8 relative, so sin/cos move by <= 1e-4.
    const f32 = runGraph(g, { inputs: { pos }, params: new Map() }).outputs.get('pe')!;
    expect(maxAbsDiff(f32.data, table(positions, 6, 500))).toBeLessThan(1e-4);
  });

  test('built from iota/sin/cos ops: no constant tensor, nothing of size seq but the positions', () => {
    const g = graphOf(`model M {\n  config { d = 64 }\n  input ids: i32[batch, seq]\n  tok = Embedding(100, d)\n  output h = tok(ids) + sinusoidal(arange(seq), d)\n}`);
    expect(verifyGraph(g)).toEqual([]);
    expect(g.outputs[0]!.value.type.shape).toEqual(['batch', 'seq', 64]);
    expect(g.ops.filter((o) => o.op === 'constant').every((o) => o.result.type.shape.length === 0)).toBe(true);
    expect(g.ops.map((o) => o.op)).toEqual(expect.arrayContaining(['iota', 'sin', 'cos']));
    expect(g.params.map((p) => p.name)).toEqual(['tok.weight']);
  });
});

describe('rotary positions in attention (§7.4)', () => {
  const B = 2, T = 12, d = 16, heads = 2, dh = d / heads;
  const x = uniform(seeded(3), B * T * d, -1, 1);
  const inputs = { x: tensor('f32', [B, T, d], x, 'f64') };
  const model = (position: string, mask = 'causal') =>
    `model M {\n  input x: f32[batch, seq, ${d}]\n  output y = Attention(x, heads: ${heads}, mask: ${mask}, position: ${position})\n}`;

  /** RoFormer rotate-half: pairs (i, i + dims/2) for i < dims/2 turn by p·base^(-2i/dims). */
  const rotation = (dims: number, base: number) => (v: number[], p: number): void => {
    for (let i = 0; i < dims / 2; i++) {
      const theta = p * Math.pow(base, (-2 * i) / dims);
      const a = v[i]!, b = v[i + dims / 2]!;
      v[i] = a * Math.cos(theta) - b * Math.sin(theta);
      v[i + dims / 2] = b * Math.cos(theta) + a * Math.sin(theta);
    }
  };

  // Tolerance 1e-12: float64 on both sides, angles below 12 rad; the sums differ only in order.
  test.each([
    ['rotary(base: 100)', 'causal', dh, 100],
    ['rotary(dims: 4)', 'full', 4, 10000],
    ['rotary(base: 10000, dims: 2)', 'causal & window(4)', 2, 10000],
  ] as const)('position: %s, mask %s', (position, mask, dims, base) => {
    const run = runModel(model(position, mask), inputs);
    const visible = mask === 'causal' ? (_b: number, q: number, k: number) => k <= q : mask === 'full' ? undefined : (_b: number, q: number, k: number) => k <= q && q - k <= 4;
    const common = { x, B, T, d, heads, params: run.params, prefix: 'attn', projectionBias: true, ...(visible ? { visible } : {}) };
    const got = run.outputs.get('y')!.data;
    expect(maxAbsDiff(got, referenceAttention({ ...common, rotate: rotation(dims, base) }))).toBeLessThan(1e-12);
    // The rotation matters: without it the outputs differ clearly.
    expect(maxAbsDiff(got, referenceAttention(common))).toBeGreaterThan(1e-3);
  });

  test('positions are one iota over the sequence (a decode pass can start it at past); no parameters are added', () => {
    const g = graphOf(model('rotary(base: 10000)'));
    expect(verifyGraph(g)).toEqual([]);
    const iotas = g.ops.filter((o) => o.op === 'iota');
    expect(iotas.filter((o) => o.attrs.length === 'seq')).toHaveLength(1);
    expect(g.params.map((p) => p.name)).toEqual(['attn.q.weight', 'attn.q.bias', 'attn.k.weight', 'attn.k.bias', 'attn.v.weight', 'attn.v.bias', 'attn.o.weight', 'attn.o.bias']);
  });

  test('a head size with no even default is an error at rotary(...); so are dims above it', () => {
    const codes = (src: string) => {
      try {
        compileGraph(src, { file: 't.ptm' });
      } catch (e) {
        return (e as { diagnostics: { code: string; message: string }[] }).diagnostics.map((x) => `${x.code}: ${x.message}`);
      }
      return [];
    };
    expect(codes(`model M {\n  input x: f32[batch, seq, 6]\n  output y = Attention(x, heads: 2, position: rotary())\n}`)[0]).toMatch(/^invalid_dimension: .*head size is 3/);
    expect(codes(`model M {\n  input x: f32[batch, seq, 6]\n  output y = Attention(x, heads: 2, position: rotary(dims: 2))\n}`)).toEqual([]);
  });
});

describe("T5's relative position bias (§7.4)", () => {
  /** Hugging Face T5 `_relative_position_bucket(relative_position = k - q, ...)`, in float64. */
  function bucket(rel: number, numBuckets: number, maxDistance: number, bidirectional: boolean): number {
    let ret = 0, n: number;
    if (bidirectional) {
      numBuckets = Math.floor(numBuckets / 2);
      if (rel > 0) ret += numBuckets;
      n = Math.abs(rel);
    } else {
      n = Math.max(-rel, 0);
    }
    const maxExact = Math.floor(numBuckets / 2);
    if (n < maxExact) return ret + n;
    const large = maxExact + Math.trunc((Math.log(n / maxExact) / Math.log(maxDistance / maxExact)) * (numBuckets - maxExact));
    return ret + Math.min(large, numBuckets - 1);
  }

  const d = 8, heads = 2;
  const run = (T: number, attention: string, preamble = '') => {
    const x = uniform(seeded(T), T * d, -1, 1);
    const src = `model M {\n  config { d = ${d}  heads = ${heads} }\n  input x: f32[batch, seq, d]\n${preamble}  output y = ${attention}\n}`;
    // Bias tables of order one, so that every bucket moves the scores visibly.
    return { x, result: runModel(src, { x: tensor('f32', [1, T, d], x, 'f64') }, { spread: 0.5 }) };
  };

  // T = 160 crosses every logarithmic bucket and passes max_distance (128), where buckets saturate.
  // Tolerance 1e-12: float64 on both sides; a bucket off by one moves a score by ~0.5 (checked below).
  test.each([
    [160, 32, 128, true, 'full'],
    [160, 32, 128, false, 'causal'],
    [160, 32, 128, false, 'full'],
    [60, 8, 20, true, 'full'],
    [60, 10, 30, false, 'causal'],
  ] as const)('T = %i, buckets %i, max_distance %i, bidirectional %s, mask %s', (T, buckets, maxDistance, bidirectional, mask) => {
    const attn = `Attention(x, heads: heads, mask: ${mask}, bias: false, scale: 1, position: rel)`;
    const { x, result } = run(T, attn, `  rel = t5_bias(heads: heads, buckets: ${buckets}, max_distance: ${maxDistance}, bidirectional: ${bidirectional})\n`);
    const table = result.params.get('rel.weight')!; // [buckets, heads], Hugging Face's layout
    expect(result.graph.params.find((p) => p.name === 'rel.weight')!.value.type.shape).toEqual([buckets, heads]);
    const common = { x, B: 1, T, d, heads, params: result.params, prefix: 'attn', projectionBias: false, scale: 1, ...(mask === 'causal' ? { visible: (_b: number, q: number, k: number) => k <= q } : {}) };
    const biasOf = (bidi: boolean) => (h: number, q: number, k: number) => table[bucket(k - q, buckets, maxDistance, bidi) * heads + h]!;
    const got = result.outputs.get('y')!.data;
    expect(maxAbsDiff(got, referenceAttention({ ...common, bias: biasOf(bidirectional) }))).toBeLessThan(1e-12);
    // The test can tell: the other direction's buckets give clearly different outputs.
    expect(maxAbsDiff(got, referenceAttention({ ...common, bias: biasOf(!bidirectional) }))).toBeGreaterThan(1e-3);
  });

  test('T = 160 reaches every bucket (k - q in -159..159; bucket 16 would be k - q = +0, which is bucket 0)', () => {
    const seen = new Set(Array.from({ length: 319 }, (_, i) => bucket(i - 159, 32, 128, true)));
    expect([...seen].sort((a, b) => a - b)).toEqual([...Array(32).keys()].filter((b) => b !== 16));
    const oneWay = new Set(Array.from({ length: 160 }, (_, i) => bucket(-i, 32, 128, false)));
    expect(oneWay.size).toBe(32);
  });

  test('an inline t5_bias is made per attention, named under it; heads default to the attention\'s', () => {
    const T = 20;
    const { x, result } = run(T, 'Attention(x, heads: heads, position: t5_bias(buckets: 8, max_distance: 16, bidirectional: false))');
    const table = result.params.get('attn.rel_bias.weight')!;
    expect(result.graph.params.find((p) => p.name === 'attn.rel_bias.weight')!.value.type.shape).toEqual([8, heads]);
    const want = referenceAttention({ x, B: 1, T, d, heads, params: result.params, prefix: 'attn', projectionBias: true, bias: (h, q, k) => table[bucket(k - q, 8, 16, false) * heads + h]! });
    expect(maxAbsDiff(result.outputs.get('y')!.data, want)).toBeLessThan(1e-12);
  });

  test('a t5_bias bound to a name is one table shared by every attention that uses it', () => {
    const g = graphOf(`model M {
  config { d = 8  heads = 2  layers = 3 }
  input x: f32[batch, seq, d]
  rel = t5_bias(heads: heads, buckets: 32, max_distance: 128)
  block Layer(h) {
    return h + Attention(RMSNorm(h), heads: heads, bias: false, scale: 1, position: rel)
  }
  block Own(h) {
    return h + Attention(h, heads: heads, position: t5_bias(bidirectional: false, name: "relative_attention_bias"))
  }
  h = repeat(layers) Layer(x)
  h = repeat(2) Own(h)
  output y = h
  output table = rel.weight
}`);
    expect(verifyGraph(g)).toEqual([]);
    const names = g.params.map((p) => p.name);
    expect(names.filter((n) => n.includes('rel'))).toEqual(['rel.weight', 'repeat.0.attn.relative_attention_bias.weight', 'repeat.1.attn.relative_attention_bias.weight']);
    const tables = g.ops.filter((o) => o.op === 'attention').map((o) => o.operands[o.operands.length - 1]!.id);
    expect(tables).toEqual(['%rel.weight', '%rel.weight', '%rel.weight', '%repeat.0.attn.relative_attention_bias.weight', '%repeat.1.attn.relative_attention_bias.weight']);
    expect(g.outputs[1]!.value.type.shape).toEqual([32, 2]);
  });
});
