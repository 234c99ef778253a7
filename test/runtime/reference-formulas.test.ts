// The cpu interpreter against float64 references written here from the textbook formulas, as plain
// loops over number[][] (no runtime code): attention with masks, LayerNorm, RMSNorm, GELU, softmax.
// f64 mode, tolerance 1e-12 absolute: both sides evaluate the same formula in double precision on the
//   same double inputs and differ only in summation order, i.e. a few ulps of sums of <100 terms of
//   size <10 (~1e-14); any formula error (eps outside the sqrt, unbiased variance) is far above 1e-12.
// f32 mode, tolerance 1e-5 relative (absolute below 1): inputs are f32-rounded on both sides and the
//   runtime rounds each result to f32 (half an ulp, 6e-8 relative); 1e-5 is that plus a wide margin.
import { describe, expect, test } from 'vitest';
import type { MaskExpr } from '../../src/ir/index.js';
import { GraphBuilder, maskBin, maskRead, maskVar } from '../../src/ir/index.js';
import type { Precision, Tensor } from '../../src/runtime/index.js';
import { runGraph, tensor } from '../../src/runtime/index.js';
import { maxAbsDiff, maxRelDiff, runOp, seeded, uniform } from './helpers.js';

type Vis = (b: number, h: number, i: number, j: number) => boolean;

function check(actual: ArrayLike<number>, expected: number[], precision: Precision): void {
  if (precision === 'f64') expect(maxAbsDiff(actual, expected)).toBeLessThanOrEqual(1e-12);
  else expect(maxRelDiff(actual, expected)).toBeLessThanOrEqual(1e-5);
}

// ---- references ------------------------------------------------------------------------------

/**
 * erf by two formulas unlike the runtime's rational approximation: for |x| < 3 the all-positive
 * series erf(x) = 2/√π·e^(−x²)·Σ 2ⁿx^(2n+1)/(1·3·…·(2n+1)) (A&S 7.1.6, no cancellation); beyond, the
 * continued fraction erfc(x) = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))) (A&S 7.1.14).
 */
function refErf(x: number): number {
  const ax = Math.abs(x);
  let r: number;
  if (ax < 3) {
    let term = ax, sum = ax;
    for (let n = 1; term > 1e-18 * sum; n++) {
      term *= (2 * ax * ax) / (2 * n + 1);
      sum += term;
    }
    r = (2 / Math.sqrt(Math.PI)) * Math.exp(-ax * ax) * sum;
  } else {
    let f = ax;
    for (let n = 80; n >= 1; n--) f = ax + n / 2 / f;
    r = 1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  }
  return x < 0 ? -r : r;
}

function refSoftmax(xs: number[]): number[] {
  const m = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/** out[b][h][i] = Σ_j softmax_j(scale·q·k over visible j)·v[j]; zeros when no key is visible. */
function refAttention(q: number[][][][], k: number[][][][], v: number[][][][], scale: number, visible: Vis): number[] {
  const out: number[] = [];
  q.forEach((qb, b) => qb.forEach((qh, h) => qh.forEach((qi, i) => {
    const keys = k[b]![h]!.map((_, j) => j).filter((j) => visible(b, h, i, j));
    const dv = v[b]![h]![0]?.length ?? 0;
    if (keys.length === 0) { out.push(...new Array<number>(dv).fill(0)); return; }
    const scores = keys.map((j) => scale * qi.reduce((s, x, c) => s + x * k[b]![h]![j]![c]!, 0));
    const p = refSoftmax(scores);
    for (let c = 0; c < dv; c++) out.push(keys.reduce((s, j, n) => s + p[n]! * v[b]![h]![j]![c]!, 0));
  })));
  return out;
}

function refLayerNorm(rows: number[][], w: number[], bias: number[], eps: number): number[] {
  return rows.flatMap((x) => {
    const mean = x.reduce((a, b) => a + b, 0) / x.length;
    const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length; // biased
    return x.map((xi, i) => ((xi - mean) / Math.sqrt(variance + eps)) * w[i]! + bias[i]!);
  });
}

function refRmsNorm(rows: number[][], w: number[], eps: number): number[] {
  return rows.flatMap((x) => {
    const ms = x.reduce((a, b) => a + b * b, 0) / x.length;
    return x.map((xi, i) => (xi / Math.sqrt(ms + eps)) * w[i]!);
  });
}

// ---- data ------------------------------------------------------------------------------------

/** A tensor of random values and the same values (after storage rounding) as nested arrays. */
function randomTensor(rand: () => number, shape: number[], precision: Precision, scale = 1): { t: Tensor; flat: number[] } {
  const t = tensor('f32', shape, uniform(rand, shape.reduce((a, b) => a * b, 1), -scale, scale), precision);
  return { t, flat: Array.from(t.data) };
}

function nest4(flat: number[], [a, b, c, d]: number[]): number[][][][] {
  return Array.from({ length: a! }, (_, i) => Array.from({ length: b! }, (_, j) => Array.from({ length: c! }, (_, k) =>
    flat.slice(((i * b! + j) * c! + k) * d!, ((i * b! + j) * c! + k + 1) * d!))));
}

const rows = (flat: number[], d: number): number[][] => Array.from({ length: flat.length / d }, (_, i) => flat.slice(i * d, (i + 1) * d));

// ---- tests -----------------------------------------------------------------------------------

const [bv, qv, kv] = (['b', 'q', 'k'] as const).map(maskVar) as [MaskExpr, MaskExpr, MaskExpr];

interface MaskCase {
  name: string;
  mask: MaskExpr;
  /** Mask operands (graph inputs after q, k, v) and the reference predicate over them. */
  extra: (rand: () => number, B: number, Tk: number) => { tensors: Tensor[]; visible: Vis };
  selfAttention: boolean;
}

const MASK_CASES: MaskCase[] = [
  { name: 'causal', mask: maskBin('<=', kv, qv), selfAttention: true, extra: () => ({ tensors: [], visible: (_b, _h, i, j) => j <= i }) },
  {
    name: 'padding (last batch row all masked)', mask: maskRead(3, [bv, kv]), selfAttention: false,
    extra: (rand, B, Tk) => {
      const valid = Array.from({ length: B }, (_, b) => Array.from({ length: Tk }, () => b < B - 1 && rand() < 0.7));
      return { tensors: [tensor('bool', [B, Tk], valid.flat())], visible: (b, _h, _i, j) => valid[b]![j]! };
    },
  },
  {
    name: 'prefix LM', mask: maskBin('|', maskBin('<', kv, maskRead(3, [bv])), maskBin('<=', kv, qv)), selfAttention: true,
    extra: (rand, B, Tk) => {
      const plen = Array.from({ length: B }, () => Math.floor(rand() * (Tk + 1)));
      return { tensors: [tensor('i32', [B], plen)], visible: (b, _h, i, j) => j < plen[b]! || j <= i };
    },
  },
  { name: 'strictly causal (row 0 sees nothing)', mask: maskBin('<', kv, qv), selfAttention: true, extra: () => ({ tensors: [], visible: (_b, _h, i, j) => j < i }) },
];

describe.each(['f64', 'f32'] as const)('%s precision', (precision) => {
  test.each(MASK_CASES)('attention: $name', ({ mask, extra, selfAttention }) => {
    const rand = seeded(7);
    for (let trial = 0; trial < 6; trial++) {
      const B = 1 + Math.floor(rand() * 3), H = 1 + Math.floor(rand() * 3);
      const Tq = 1 + Math.floor(rand() * 9), Tk = selfAttention ? Tq : 1 + Math.floor(rand() * 9);
      const Dk = 1 + Math.floor(rand() * 7), Dv = 1 + Math.floor(rand() * 7);
      const q = randomTensor(rand, [B, H, Tq, Dk], precision, 2);
      const k = randomTensor(rand, [B, H, Tk, Dk], precision, 2);
      const v = randomTensor(rand, [B, H, Tk, Dv], precision);
      const { tensors, visible } = extra(rand, B, Tk);
      const scale = 1 / Math.sqrt(Dk);
      const g = new GraphBuilder('attention');
      const ins = [q.t, k.t, v.t, ...tensors].map((x, i) => g.input(`x${i}`, { dtype: x.dtype, shape: x.shape }));
      g.output('y', g.op('attention', ins, { scale, mask }));
      const inputs = Object.fromEntries([q.t, k.t, v.t, ...tensors].map((x, i) => [`x${i}`, x]));
      const y = runGraph(g.finish(), { inputs, params: new Map(), precision }).outputs.get('y')!;
      expect(y.shape).toEqual([B, H, Tq, Dv]);
      const expected = refAttention(nest4(q.flat, q.t.shape), nest4(k.flat, k.t.shape), nest4(v.flat, v.t.shape), scale, visible);
      check(y.data, expected, precision);
    }
  });

  test('layer_norm: biased variance, eps inside the sqrt, odd widths', () => {
    const rand = seeded(11);
    for (const [n, d, eps] of [[1, 1, 1e-5], [3, 7, 1e-5], [5, 33, 0.5], [2, 768, 1e-12]] as const) {
      const x = randomTensor(rand, [n, d], precision, 3), w = randomTensor(rand, [d], precision), b = randomTensor(rand, [d], precision);
      const y = runOp('layer_norm', [x.t, w.t, b.t], { eps }, precision);
      check(y.data, refLayerNorm(rows(x.flat, d), w.flat, b.flat, eps), precision);
    }
  });

  test('rms_norm, odd widths', () => {
    const rand = seeded(12);
    for (const [n, d, eps] of [[1, 1, 1e-6], [4, 9, 1e-6], [3, 65, 0.25]] as const) {
      const x = randomTensor(rand, [n, d], precision, 3), w = randomTensor(rand, [d], precision);
      check(runOp('rms_norm', [x.t, w.t], { eps }, precision).data, refRmsNorm(rows(x.flat, d), w.flat, eps), precision);
    }
  });

  test('gelu (exact erf), erf and gelu_tanh over [-9, 9]', () => {
    const xs = [...uniform(seeded(13), 301, -9, 9), 0, -0.3, 0.46875, -0.46875, 4, -4, 6.5, -6.5, 1e-9];
    const x = tensor('f32', [xs.length], xs, precision);
    const flat = Array.from(x.data);
    check(runOp('gelu', [x], {}, precision).data, flat.map((v) => (v / 2) * (1 + refErf(v / Math.SQRT2))), precision);
    check(runOp('erf', [x], {}, precision).data, flat.map(refErf), precision);
    const c = Math.sqrt(2 / Math.PI);
    check(runOp('gelu_tanh', [x], {}, precision).data, flat.map((v) => 0.5 * v * (1 + Math.tanh(c * (v + 0.044715 * v ** 3)))), precision);
  });

  test('softmax over every axis, negative axes too', () => {
    const rand = seeded(14);
    const shape = [3, 5, 4];
    const x = randomTensor(rand, shape, precision, 4);
    for (const axis of [0, 1, 2, -1, -3]) {
      const a = (axis + 3) % 3;
      const strides = [20, 4, 1];
      const expected = [...x.flat];
      // Every line along axis `a`: its start is an index with coordinate 0 on that axis.
      for (let start = 0; start < 60; start++) {
        if (Math.floor(start / strides[a]!) % shape[a]! !== 0) continue;
        const idx = Array.from({ length: shape[a]! }, (_, i) => start + i * strides[a]!);
        refSoftmax(idx.map((i) => x.flat[i]!)).forEach((p, i) => { expected[idx[i]!] = p; });
      }
      check(runOp('softmax', [x.t], { axis }, precision).data, expected, precision);
    }
  });
});

test('erf matches tabulated values and the reference erf to 1e-15', () => {
  const table: [number, number][] = [
    [0.1, 0.1124629160182849], [0.5, 0.5204998778130465], [1, 0.8427007929497149], [1.5, 0.9661051464753108],
    [2, 0.9953222650189527], [3, 0.9999779095030014], [-1, -0.8427007929497149],
  ];
  const xs = tensor('f64', [table.length], table.map(([x]) => x));
  const y = runOp('erf', [xs], {}, 'f64');
  expect(maxAbsDiff(y.data, table.map(([, v]) => v))).toBeLessThanOrEqual(1e-15);
  const grid = tensor('f64', [801], Array.from({ length: 801 }, (_, i) => -8 + i * 0.02));
  const got = runOp('erf', [grid], {}, 'f64').data;
  expect(maxRelDiff(got, Array.from(grid.data, refErf))).toBeLessThanOrEqual(1e-15);
});
