// Attention graphs with every mask form the decomposition and the ONNX export must handle, and seeded
// inputs that exercise them (a batch with no valid key, negative operands of `%` and `/`, ...).
import type { Graph, MaskExpr } from '../../src/ir/index.js';
import { GraphBuilder, maskBin, maskConst, maskNot, maskRead, maskTrue, maskVar } from '../../src/ir/index.js';
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

/** x [batch, seq, 8] -> q, k, v projections -> 2 heads -> attention(mask) -> [batch, seq, 8]. */
export function attentionGraph(mask: MaskExpr): Graph {
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
  const att = g.op('attention', [...heads, ...masks], { scale: 0.5, mask });
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
