// Attention graphs with every mask form the decomposition and the ONNX export must handle (T5's
// relative bias and decoding with a key/value cache included), and seeded inputs that exercise them
// (a batch with no valid key, negative operands of `%` and `/`, ...).
import type { Graph, MaskExpr, Value } from '../../src/ir/index.js';
import { GraphBuilder, maskBin, maskConst, maskNot, maskRead, maskTrue, maskVar } from '../../src/ir/index.js';
import { noSpan } from '../../src/diagnostics/index.js';
import { MaskLowering } from '../../src/passes/decompose-high-level.js';
import { IdSource, OpEmitter } from '../../src/passes/op-emitter.js';
import type { Tensor } from '../../src/runtime/index.js';
import { tensor } from '../../src/runtime/index.js';

const [b, h, q, k] = (['b', 'h', 'q', 'k'] as const).map(maskVar) as [MaskExpr, MaskExpr, MaskExpr, MaskExpr];
const bin = maskBin;
const int = maskConst;
// Mask operands of every attention op below (operand index -> graph input).
const N = 3, VALID = 4, RANK = 5, VALID_INT = 6, VALID_T = 7, TABLE = 8, LONG = 9;

export const MASKS: { name: string; mask: MaskExpr }[] = [
  { name: 'full', mask: maskTrue },
  { name: 'causal', mask: bin('<=', k, q) },
  { name: 'padding', mask: maskRead(VALID, [b, k]) },
  { name: 'prefix', mask: bin('|', bin('<', k, maskRead(N, [b])), bin('<=', k, q)) },
  // C semantics: (-1) % 3 == -1 and (-3) / 2 == -1; divisors that are 0 for some k give 0.
  { name: 'custom % and /', mask: bin('|', bin('==', bin('%', bin('-', k, q), int(3)), int(-1)), bin('==', bin('/', bin('-', q, k), int(2)), int(-1))) },
  { name: 'divisor that can be zero', mask: bin('|', bin('==', bin('%', q, bin('-', k, int(2))), int(1)), bin('==', bin('/', k, bin('-', q, int(1))), int(1))) },
  { name: 'not, and an i32 read as bool', mask: bin('&', maskNot(bin('>', k, q)), maskRead(VALID_INT, [b, k])) },
  { name: 'fully masked rows', mask: bin('&', bin('<', k, q), bin('<', k, maskRead(N, [b]))) },
  { name: 'xlnet ranks', mask: bin('<=', maskRead(RANK, [b, k]), maskRead(RANK, [b, q])) },
  { name: 'heads and transposed read', mask: bin('|', bin('==', h, int(0)), maskRead(VALID_T, [k, b])) },
  { name: 'computed indices of an i64 table', mask: bin('>', maskRead(TABLE, [bin('%', h, int(4)), bin('%', bin('+', q, k), int(5))]), int(0)) },
  { name: 'read of a longer tensor', mask: maskRead(LONG, [b, k]) },
  { name: 'false', mask: { kind: 'const', value: 0, bool: true } },
];

export const D_MODEL = 8, HEADS = 2, LONG_LEN = 7;

/**
 * Score biases over the same operands: integer and bool ones (cast to the score dtype),
 * each with a mask that leaves some rows without a visible key (those rows must stay 0).
 */
export const BIASES: { name: string; mask: MaskExpr; bias: MaskExpr }[] = [
  { name: 'integer bias, fully masked rows', mask: MASKS.find((m) => m.name === 'fully masked rows')!.mask, bias: bin('-', maskRead(RANK, [b, k]), maskRead(RANK, [b, q])) },
  { name: 'bool bias, padding', mask: maskRead(VALID, [b, k]), bias: maskRead(VALID_T, [k, b]) },
  // ALiBi's form, a per-head slope times the distance (integer slopes: mask constants are integers)
  { name: 'slope times distance, causal', mask: bin('<=', k, q), bias: bin('*', bin('+', h, int(1)), bin('-', k, q)) },
];

/** x [batch, seq, 8] -> q, k, v projections -> 2 heads -> attention(mask, bias) -> [batch, seq, 8]. */
export function attentionGraph(mask: MaskExpr, bias?: MaskExpr): Graph {
  const g = new GraphBuilder('attention');
  g.symbol('batch');
  g.symbol('seq');
  const x = g.input('x', { dtype: 'f32', shape: ['batch', 'seq', D_MODEL] });
  const masks = [
    g.input('n', { dtype: 'i32', shape: ['batch'] }),
    g.input('valid', { dtype: 'bool', shape: ['batch', 'seq'] }),
    g.input('rank', { dtype: 'i32', shape: ['batch', 'seq'] }),
    g.input('valid_int', { dtype: 'i32', shape: ['batch', 'seq'] }),
    g.input('valid_t', { dtype: 'bool', shape: ['seq', 'batch'] }),
    g.input('table', { dtype: 'i64', shape: [4, 5] }),
    g.input('long', { dtype: 'bool', shape: ['batch', LONG_LEN] }),
  ];
  const heads = ['wq', 'wk', 'wv'].map((name) => {
    const w = g.param(name, { dtype: 'f32', shape: [D_MODEL, D_MODEL] }, { kind: 'normal', std: 0.5 });
    const split = g.op('reshape', [g.op('matmul', [x, w])], { shape: ['batch', 'seq', HEADS, D_MODEL / HEADS] });
    return g.op('transpose', [split], { perm: [0, 2, 1, 3] });
  });
  const att = g.op('attention', [...heads, ...masks], bias ? { scale: 0.5, mask, bias } : { scale: 0.5, mask });
  const merged = g.op('reshape', [g.op('transpose', [att], { perm: [0, 2, 1, 3] })], { shape: ['batch', 'seq', D_MODEL] });
  g.output('y', merged);
  return g.finish();
}

/** A small deterministic generator (mulberry32); tests need reproducible, not good, randomness. */
export function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

export function normalTensor(shape: number[], seed: number, dtype: 'f32' | 'f64' = 'f32'): Tensor {
  const next = random(seed);
  const n = shape.reduce((a, c) => a * c, 1);
  return tensor(dtype, shape, Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next())));
}

/** Inputs for attentionGraph; batch 1 (the second one) has n = 0 and no valid key when batch > 1. */
export function attentionInputs(batch: number, seq: number, seed: number): Record<string, Tensor> {
  const next = random(seed + 1);
  const ints = (n: number, f: (i: number) => number): number[] => Array.from({ length: n }, (_, i) => f(i));
  const validRow = (i: number): number => (Math.floor(i / seq) === 1 ? 0 : +(next() < 0.7 || i % seq === 0));
  const rank = ints(batch * seq, (i) => i % seq);
  for (let r = 0; r < batch; r++) {
    for (let i = seq - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [rank[r * seq + i], rank[r * seq + j]] = [rank[r * seq + j]!, rank[r * seq + i]!];
    }
  }
  return {
    x: normalTensor([batch, seq, D_MODEL], seed),
    n: tensor('i32', [batch], ints(batch, (i) => (i === 1 ? 0 : 1 + Math.floor(next() * seq)))),
    valid: tensor('bool', [batch, seq], ints(batch * seq, validRow)),
    rank: tensor('i32', [batch, seq], rank),
    valid_int: tensor('i32', [batch, seq], ints(batch * seq, (i) => validRow(i) * (1 + (i % 3)))),
    valid_t: tensor('bool', [seq, batch], ints(batch * seq, () => +(next() < 0.5))),
    table: tensor('i64', [4, 5], ints(20, () => Math.floor(next() * 3) - 1)),
    long: tensor('bool', [batch, LONG_LEN], ints(batch * LONG_LEN, (i) => (Math.floor(i / LONG_LEN) === 1 ? 0 : +(next() < 0.6)))),
  };
}

// ---- T5 relative bias, decoding with a key/value cache, iota start ----------------------------------

export const T5_BUCKETS = 32, T5_MAX_DISTANCE = 128;
/** Operand index of the bias table W [buckets, heads] in the attention ops below. */
const REL_TABLE = 3;

/** T5's bias W[t5_bucket(rel, 32, 128, bidirectional), h]. */
export const t5Bias = (rel: MaskExpr, bidirectional: boolean): MaskExpr =>
  maskRead(REL_TABLE, [{ kind: 't5_bucket', rel, buckets: T5_BUCKETS, maxDistance: T5_MAX_DISTANCE, bidirectional }, h]);

/** Splits x [batch, seq, 8] projected by `name` into heads: [batch, 2, seq, 4]. */
function projectHeads(g: GraphBuilder, x: Value, name: string): Value {
  const w = g.param(name, { dtype: 'f32', shape: [D_MODEL, D_MODEL] }, { kind: 'normal', std: 0.5 });
  const split = g.op('reshape', [g.op('matmul', [x, w])], { shape: ['batch', 'seq', HEADS, D_MODEL / HEADS] });
  return g.op('transpose', [split], { perm: [0, 2, 1, 3] });
}

function mergeHeads(g: GraphBuilder, att: Value): Value {
  return g.op('reshape', [g.op('transpose', [att], { perm: [0, 2, 1, 3] })], { shape: ['batch', 'seq', D_MODEL] });
}

/**
 * T5 self-attention: x [batch, seq, 8] -> 2 heads -> attention(scale 1, mask, bias W[bucket(k - q), h])
 * with W [32, 2] a parameter (T5's relative_attention_bias); an encoder is bidirectional and full, a
 * decoder causal with one-sided buckets.
 */
export function t5AttentionGraph(bidirectional: boolean): Graph {
  const g = new GraphBuilder(bidirectional ? 't5_encoder_attention' : 't5_decoder_attention');
  g.symbol('batch');
  g.symbol('seq');
  const x = g.input('x', { dtype: 'f32', shape: ['batch', 'seq', D_MODEL] });
  const [qh, kh, vh] = ['wq', 'wk', 'wv'].map((name) => projectHeads(g, x, name)) as [Value, Value, Value];
  // std 2: bias differences of a few units, so a wrong bucket changes the output visibly
  const table = g.param('relative_attention_bias', { dtype: 'f32', shape: [T5_BUCKETS, HEADS] }, { kind: 'normal', std: 2 });
  const mask = bidirectional ? maskTrue : bin('<=', k, q);
  const att = g.op('attention', [qh, kh, vh, table], { scale: 1, mask, bias: t5Bias(bin('-', k, q), bidirectional) });
  g.output('y', mergeHeads(g, att));
  return g.finish();
}

/** Positions the table below covers: past + seq must stay below this. */
export const MAX_POSITIONS = 200;

/**
 * One decoding step with a key/value cache: x [batch, seq, 8] holds the new tokens at positions
 * past .. past+seq-1 (iota with start `past`, a learned position table), past_k/past_v [batch, 2,
 * past, 4] the cached keys; keys are concat(past, new) and query i sees key j when j <= i + past.
 * With `t5` the scores also get the one-sided T5 bias of rel = j - (i + past).
 */
export function decodeGraph(t5: boolean): Graph {
  const g = new GraphBuilder(t5 ? 't5_decode' : 'decode');
  for (const s of ['batch', 'seq', 'past']) g.symbol(s);
  const x = g.input('x', { dtype: 'f32', shape: ['batch', 'seq', D_MODEL] });
  const cache = { dtype: 'f32' as const, shape: ['batch', HEADS, 'past', D_MODEL / HEADS] };
  const pastK = g.input('past_k', cache);
  const pastV = g.input('past_v', cache);
  const positions = g.op('iota', [], { length: 'seq', start: 'past', dtype: 'i32' });
  const posTable = g.param('position_embedding', { dtype: 'f32', shape: [MAX_POSITIONS, D_MODEL] }, { kind: 'normal', std: 1 });
  const xp = g.op('add', [x, g.op('gather', [posTable, positions], { axis: 0 })]);
  const [qh, kNew, vNew] = ['wq', 'wk', 'wv'].map((name) => projectHeads(g, xp, name)) as [Value, Value, Value];
  const keys = g.op('concat', [pastK, kNew], { axis: 2 });
  const values = g.op('concat', [pastV, vNew], { axis: 2 });
  const absoluteQ = bin('+', q, { kind: 'dim', dim: 'past' });
  const operands = [qh, keys, values];
  const attrs: Record<string, number | MaskExpr> = { scale: 0.5, mask: bin('<=', k, absoluteQ) };
  if (t5) {
    operands.push(g.param('relative_attention_bias', { dtype: 'f32', shape: [T5_BUCKETS, HEADS] }, { kind: 'normal', std: 2 }));
    attrs.bias = t5Bias(bin('-', k, absoluteQ), false);
  }
  g.output('y', mergeHeads(g, g.op('attention', operands, attrs)));
  g.output('present_k', keys);
  g.output('present_v', values);
  return g.finish();
}

export function decodeInputs(batch: number, seq: number, past: number, seed: number): Record<string, Tensor> {
  return {
    x: normalTensor([batch, seq, D_MODEL], seed),
    past_k: normalTensor([batch, HEADS, past, D_MODEL / HEADS], seed + 1),
    past_v: normalTensor([batch, HEADS, past, D_MODEL / HEADS], seed + 2),
  };
}

/**
 * HF transformers' T5Attention._relative_position_bucket written out in float64 with Math.log, as
 * the paper's reference code computes it: independent of the integer thresholds in src/ir/mask.ts.
 */
export function hfRelativePositionBucket(relativePosition: number, bidirectional: boolean, numBuckets: number, maxDistance: number): number {
  let buckets = 0;
  let rel = relativePosition;
  if (bidirectional) {
    numBuckets = Math.floor(numBuckets / 2);
    if (rel > 0) buckets += numBuckets;
    rel = Math.abs(rel);
  } else {
    rel = -Math.min(rel, 0);
  }
  const maxExact = Math.floor(numBuckets / 2);
  if (rel < maxExact) return buckets + rel;
  const large = maxExact + Math.trunc((Math.log(rel / maxExact) / Math.log(maxDistance / maxExact)) * (numBuckets - maxExact));
  return buckets + Math.min(large, numBuckets - 1);
}

/**
 * The decomposition's T5 bucket on its own: rel i32 [n] -> bucket i32 [1, 1, 1, n], lowered by the
 * same MaskLowering that decomposes attention biases, so the bucket indices can be read back.
 */
export function bucketGraph(buckets: number, maxDistance: number, bidirectional: boolean): Graph {
  const g = new GraphBuilder('t5_buckets');
  g.symbol('n');
  const rel = g.input('rel', { dtype: 'i32', shape: ['n'] });
  const graph = g.finish();
  const ops = [...graph.ops];
  const e = new OpEmitter(ops, new IdSource(graph), noSpan());
  const bucket = new MaskLowering(e, [rel], { b: 1, h: 1, q: 1, k: 'n' })
    .lower({ kind: 't5_bucket', rel: maskRead(0, [k]), buckets, maxDistance, bidirectional });
  return { ...graph, ops, outputs: [{ name: 'bucket', value: bucket, loc: noSpan() }] };
}

/** Bucket configurations to check: T5's (32, 128), wider and narrower ones, an odd count, the smallest. */
export const BUCKET_CONFIGS: [buckets: number, maxDistance: number][] = [[32, 128], [64, 256], [16, 40], [33, 100], [4, 3]];

/** Every relative position in -400..400 and a few far beyond max_distance. */
export const RELATIVE_POSITIONS: number[] = [
  ...Array.from({ length: 801 }, (_, i) => i - 400),
  -1_000_000, -4097, -1000, 1000, 4097, 1_000_000,
];
