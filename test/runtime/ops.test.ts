// Every op of the registry on small hand-computed cases: broadcasting, negative axes, slice steps,
// concat, gather, reductions with keepdims, batched matmul, where, cast, constant and iota.
import { FUSED_OPS } from '../../src/passes/expand-fused.js';
import { describe, expect, test } from 'vitest';
import { GraphBuilder, OPS, maskBin, maskVar } from '../../src/ir/index.js';
import { KERNELS } from '../../src/runtime/cpu/kernels.js';
import { runGraph, tensor } from '../../src/runtime/index.js';
import { maxAbsDiff, runOp, seeded, t, uniform, values } from './helpers.js';

test('every registry op has a cpu kernel', () => {
  expect([...OPS.keys()].filter((op) => !KERNELS.has(op) && !FUSED_OPS.has(op))).toEqual([]); // fused ops run expanded (src/passes/expand-fused.ts)
});

describe('elementwise unary', () => {
  const x = t('f64', [-2, -0.5, 0, 0.5, 2]);
  const cases: [string, (v: number) => number][] = [
    ['exp', Math.exp], ['tanh', Math.tanh], ['neg', (v) => -v], ['abs', Math.abs], ['relu', (v) => Math.max(v, 0)],
    ['sigmoid', (v) => 1 / (1 + Math.exp(-v))], ['silu', (v) => v / (1 + Math.exp(-v))],
  ];
  test.each(cases)('%s', (op, f) => {
    expect(maxAbsDiff(runOp(op, [x], {}, 'f64').data, values(x).map(f))).toBeLessThan(1e-15);
  });

  test('log, sqrt, rsqrt on positives; NaN outside the domain', () => {
    const p = t('f64', [0.25, 1, 4, -1]);
    expect(values(runOp('log', [p], {}, 'f64')).slice(0, 3)).toEqual([Math.log(0.25), 0, Math.log(4)]);
    expect(values(runOp('sqrt', [p], {}, 'f64'))).toEqual([0.5, 1, 2, NaN]);
    expect(values(runOp('rsqrt', [p], {}, 'f64'))).toEqual([2, 1, 0.5, NaN]);
  });

  test('erf, gelu and gelu_tanh at known points', () => {
    const y = values(runOp('erf', [t('f64', [0, 1, -2])], {}, 'f64'));
    expect(y[0]).toBe(0);
    expect(y[1]).toBeCloseTo(0.8427007929497149, 15);
    expect(y[2]).toBeCloseTo(-0.9953222650189527, 15);
    // gelu(1) = Φ(1) = 0.8413447460685429; gelu_tanh(1) = 0.5·(1 + tanh(√(2/π)·1.044715)).
    expect(values(runOp('gelu', [t('f64', [1])], {}, 'f64'))[0]).toBeCloseTo(0.8413447460685429, 15);
    expect(values(runOp('gelu_tanh', [t('f64', [1])], {}, 'f64'))[0]).toBeCloseTo(0.5 * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * 1.044715)), 15);
    // gelu(-10) = -10·Φ(-10): the erfc form stays accurate where 1 + erf(x/√2) would cancel to 0.
    expect(values(runOp('gelu', [t('f64', [-10])], {}, 'f64'))[0]).toBeCloseTo(-7.619853024160527e-23, 35);
  });

  test('not', () => {
    expect(values(runOp('not', [t('bool', [true, false])]))).toEqual([0, 1]);
  });
});

describe('elementwise binary with broadcasting', () => {
  test('[2,3] + [3] (row), [2,1] + [1,3] (outer), scalar and [2,3] - []', () => {
    const a = t('f32', [[1, 2, 3], [4, 5, 6]]);
    expect(values(runOp('add', [a, t('f32', [10, 20, 30])]))).toEqual([11, 22, 33, 14, 25, 36]);
    const outer = runOp('mul', [t('f32', [[1], [2]]), t('f32', [[1, 10, 100]])]);
    expect(outer.shape).toEqual([2, 3]);
    expect(values(outer)).toEqual([1, 10, 100, 2, 20, 200]);
    expect(values(runOp('sub', [a, tensor('f32', [], [1])]))).toEqual([0, 1, 2, 3, 4, 5]);
    expect(values(runOp('sub', [tensor('f32', [], [1]), a]))).toEqual([0, -1, -2, -3, -4, -5]);
  });

  test('a middle broadcast axis: [2,1,2] with [3,1]', () => {
    const y = runOp('add', [t('i32', [[[0, 1]], [[2, 3]]]), t('i32', [[10], [20], [30]])]);
    expect(y.shape).toEqual([2, 3, 2]);
    expect(values(y)).toEqual([10, 11, 20, 21, 30, 31, 12, 13, 22, 23, 32, 33]);
  });

  test('div, pow, max, min on floats', () => {
    const a = t('f32', [1, -4, 9]), b = t('f32', [2, 2, 0.5]);
    expect(values(runOp('div', [a, b]))).toEqual([0.5, -2, 18]);
    expect(values(runOp('pow', [a, b]))).toEqual([1, 16, 3]);
    expect(values(runOp('max', [a, b]))).toEqual([2, 2, 9]);
    expect(values(runOp('min', [a, b]))).toEqual([1, -4, 0.5]);
  });

  test('integers: div truncates toward zero (x/0 = 0), i32 mul and add wrap', () => {
    expect(values(runOp('div', [t('i32', [7, -7, 7, 5]), t('i32', [2, 2, -2, 0])]))).toEqual([3, -3, -3, 0]);
    expect(values(runOp('mul', [t('i32', [65536]), t('i32', [65537])]))).toEqual([65536]);
    expect(values(runOp('add', [t('i32', [2147483647]), t('i32', [1])]))).toEqual([-2147483648]);
    expect(values(runOp('div', [t('i64', [-9]), t('i64', [4])]))).toEqual([-2]);
    expect(values(runOp('pow', [t('i32', [3]), t('i32', [4])]))).toEqual([81]);
  });

  test('comparisons and logic give bool', () => {
    const a = t('f32', [1, 2, 3]), b = t('f32', [2, 2, 2]);
    const cmp = (op: string) => values(runOp(op, [a, b]));
    expect([cmp('eq'), cmp('ne'), cmp('lt'), cmp('le'), cmp('gt'), cmp('ge')]).toEqual([[0, 1, 0], [1, 0, 1], [1, 0, 0], [1, 1, 0], [0, 0, 1], [0, 1, 1]]);
    expect(runOp('lt', [a, b]).dtype).toBe('bool');
    const p = t('bool', [true, true, false, false]), q = t('bool', [true, false, true, false]);
    expect(values(runOp('and', [p, q]))).toEqual([1, 0, 0, 0]);
    expect(values(runOp('or', [p, q]))).toEqual([1, 1, 1, 0]);
    expect(values(runOp('eq', [p, q]))).toEqual([1, 0, 0, 1]);
  });
});

describe('where, cast, constant, iota', () => {
  test('where broadcasts all three operands', () => {
    const y = runOp('where', [t('bool', [[true], [false]]), t('f32', [1, 2, 3]), tensor('f32', [], [-1])]);
    expect(y.shape).toEqual([2, 3]);
    expect(values(y)).toEqual([1, 2, 3, -1, -1, -1]);
  });

  test('cast: float → int truncates and saturates (NaN → 0), int → int wraps, → bool is != 0', () => {
    const f = t('f32', [2.7, -2.7, 1e10, -1e10, NaN]);
    expect(values(runOp('cast', [f], { to: 'i32' }))).toEqual([2, -2, 2147483647, -2147483648, 0]);
    expect(values(runOp('cast', [t('i64', [2 ** 32 + 5, -1])], { to: 'i32' }))).toEqual([5, -1]);
    expect(values(runOp('cast', [t('f32', [0, -0.5, 3])], { to: 'bool' }))).toEqual([0, 1, 1]);
    expect(values(runOp('cast', [t('bool', [true, false])], { to: 'f32' }))).toEqual([1, 0]);
    expect(values(runOp('cast', [t('f64', [1 / 3])], { to: 'f32' }))).toEqual([Math.fround(1 / 3)]);
  });

  test('f16 and bf16 results are rounded to their format (computed in f32)', () => {
    expect(values(runOp('cast', [t('f32', [1 / 3, 65520, 1e-8])], { to: 'f16' }))).toEqual([0.333251953125, Infinity, 0]);
    expect(values(runOp('cast', [t('f32', [1 / 3])], { to: 'bf16' }))).toEqual([0.333984375]);
    // 1 + 2^-11 is a tie between f16 neighbours 1 and 1 + 2^-10: ties go to even (1).
    expect(values(runOp('add', [t('f16', [1]), t('f16', [2 ** -11])]))).toEqual([1]);
  });

  test('constant (rank 0, infinities allowed) and iota with a symbolic length', () => {
    const b = new GraphBuilder('c');
    b.symbol('seq');
    const ids = b.input('ids', { dtype: 'i32', shape: ['seq'] });
    b.output('inf', b.op('constant', [], { value: -Infinity, dtype: 'f32' }));
    b.output('seven', b.op('constant', [], { value: 7, dtype: 'i32' }));
    b.output('pos', b.op('add', [b.op('iota', [], { length: 'seq', dtype: 'i32' }), ids]));
    const { outputs, symbols } = runGraph(b.finish(), { inputs: { ids: t('i32', [10, 10, 10, 10]) }, params: new Map() });
    expect(symbols.get('seq')).toBe(4);
    expect(outputs.get('inf')!.shape).toEqual([]);
    expect(values(outputs.get('inf')!)).toEqual([-Infinity]);
    expect(values(outputs.get('seven')!)).toEqual([7]);
    expect(values(outputs.get('pos')!)).toEqual([10, 11, 12, 13]);
  });
});

describe('shape ops', () => {
  const x = tensor('i32', [2, 3, 4], Array.from({ length: 24 }, (_, i) => i));

  test('reshape with symbolic dims shares the values', () => {
    const b = new GraphBuilder('r');
    const v = b.input('x', { dtype: 'i32', shape: ['batch', 'seq', 4] });
    b.output('y', b.op('reshape', [v], { shape: ['batch*seq', 2, 2] }));
    const y = runGraph(b.finish(), { inputs: { x }, params: new Map() }).outputs.get('y')!;
    expect(y.shape).toEqual([6, 2, 2]);
    expect(values(y)).toEqual(values(x));
  });

  test('transpose: a 3-axis permutation and a last-two swap', () => {
    const y = runOp('transpose', [x], { perm: [2, 0, 1] });
    expect(y.shape).toEqual([4, 2, 3]);
    // y[c][a][b] = x[a][b][c] = 12a + 4b + c
    expect(values(y).slice(0, 7)).toEqual([0, 4, 8, 12, 16, 20, 1]);
    const z = runOp('transpose', [x], { perm: [0, 2, 1] });
    expect(values(z).slice(0, 6)).toEqual([0, 4, 8, 1, 5, 9]);
  });

  test('slice with a step and a negative axis', () => {
    const y = runOp('slice', [x], { axis: -1, start: 1, end: 4, step: 2 });
    expect(y.shape).toEqual([2, 3, 2]);
    expect(values(y)).toEqual([1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23]);
    expect(values(runOp('slice', [x], { axis: 1, start: 2, end: 3, step: 1 }))).toEqual([8, 9, 10, 11, 20, 21, 22, 23]);
  });

  test('concat of three tensors along a middle axis', () => {
    const a = t('f32', [[[1, 2]], [[3, 4]]]), b = t('f32', [[[5, 6], [7, 8]], [[9, 10], [11, 12]]]);
    const y = runOp('concat', [a, b, a], { axis: 1 });
    expect(y.shape).toEqual([2, 4, 2]);
    expect(values(y)).toEqual([1, 2, 5, 6, 7, 8, 1, 2, 3, 4, 9, 10, 11, 12, 3, 4]);
  });

  test('gather: embedding rows (axis 0) and columns (axis 1, 2-d indices)', () => {
    const table = t('f32', [[0, 1], [10, 11], [20, 21]]);
    const rows = runOp('gather', [table, t('i32', [[2, 0], [1, 1]])], { axis: 0 });
    expect(rows.shape).toEqual([2, 2, 2]);
    expect(values(rows)).toEqual([20, 21, 0, 1, 10, 11, 10, 11]);
    const cols = runOp('gather', [table, t('i64', [1, 1, 0])], { axis: -1 });
    expect(cols.shape).toEqual([3, 3]);
    expect(values(cols)).toEqual([1, 1, 0, 11, 11, 10, 21, 21, 20]);
  });

  test('gather rejects an index out of range', () => {
    expect(() => runOp('gather', [t('f32', [[1], [2]]), t('i32', [0, 2])], { axis: 0 })).toThrow(/index 2 .*out of range \[0, 2\)/);
  });
});

describe('reductions', () => {
  const x = t('f32', [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]);
  test('sum over two axes, keepdims or not; negative axes', () => {
    const kept = runOp('reduce_sum', [x], { axes: [0, -1], keepdims: true });
    expect(kept.shape).toEqual([1, 2, 1]);
    expect(values(kept)).toEqual([14, 22]);
    const flat = runOp('reduce_sum', [x], { axes: [1], keepdims: false });
    expect(flat.shape).toEqual([2, 2]);
    expect(values(flat)).toEqual([4, 6, 12, 14]);
    expect(runOp('reduce_sum', [x], { axes: [0, 1, 2], keepdims: false }).shape).toEqual([]);
  });

  test('mean (ints truncate) and max (NaN propagates)', () => {
    expect(values(runOp('reduce_mean', [x], { axes: [2], keepdims: false }))).toEqual([1.5, 3.5, 5.5, 7.5]);
    expect(values(runOp('reduce_mean', [t('i32', [[1, 2], [-3, -4]])], { axes: [1], keepdims: false }))).toEqual([1, -3]);
    expect(values(runOp('reduce_max', [x], { axes: [0], keepdims: false }))).toEqual([5, 6, 7, 8]);
    expect(values(runOp('reduce_max', [t('f32', [[1, NaN, 3], [-1, -2, -3]])], { axes: [-1], keepdims: true }))).toEqual([NaN, -1]);
  });
});

describe('matmul', () => {
  test('2-d by hand', () => {
    const y = runOp('matmul', [t('f32', [[1, 2], [3, 4], [5, 6]]), t('f32', [[1, 0, 2], [0, 1, 3]])]);
    expect(y.shape).toEqual([3, 3]);
    expect(values(y)).toEqual([1, 2, 8, 3, 4, 18, 5, 6, 28]);
  });

  test('batch broadcast [2,1,M,K] @ [3,K,N] against naive loops', () => {
    const rand = seeded(3);
    const [M, K, N] = [5, 7, 3];
    const a = tensor('f64', [2, 1, M, K], uniform(rand, 2 * M * K));
    const b = tensor('f64', [3, K, N], uniform(rand, 3 * K * N));
    const y = runOp('matmul', [a, b], {}, 'f64');
    expect(y.shape).toEqual([2, 3, M, N]);
    const expected: number[] = [];
    for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a.data[(i * M + m) * K + k]! * b.data[(j * K + k) * N + n]!;
      expected.push(s);
    }
    expect(maxAbsDiff(y.data, expected)).toBeLessThan(1e-14);
  });

  test('x @ transpose(w) (run without materializing the transpose) equals x @ wᵀ', () => {
    const rand = seeded(4);
    const [M, K, N] = [6, 9, 11];
    const b = new GraphBuilder('tied');
    const x = b.input('x', { dtype: 'f32', shape: [1, M, K] });
    const w = b.param('w', { dtype: 'f32', shape: [N, K] }, { kind: 'normal', std: 1 });
    b.output('y', b.op('matmul', [x, b.op('transpose', [w], { perm: [1, 0] })]));
    const xs = tensor('f32', [1, M, K], uniform(rand, M * K)), ws = tensor('f32', [N, K], uniform(rand, N * K));
    const y = runGraph(b.finish(), { inputs: { x: xs }, params: new Map([['w', ws]]) }).outputs.get('y')!;
    const wt = runOp('transpose', [ws], { perm: [1, 0] });
    expect(maxAbsDiff(y.data, runOp('matmul', [xs, wt]).data)).toBeLessThan(1e-6);
  });
});

describe('high-level ops by hand', () => {
  test('softmax, layer_norm, rms_norm', () => {
    const e = [Math.exp(-2), Math.exp(-1), 1];
    const s = e[0]! + e[1]! + e[2]!;
    expect(maxAbsDiff(runOp('softmax', [t('f64', [1, 2, 3])], { axis: -1 }, 'f64').data, e.map((v) => v / s))).toBeLessThan(1e-16);
    const ln = runOp('layer_norm', [t('f64', [[1, 2, 3]]), t('f64', [1, 1, 2]), t('f64', [0, 1, 0])], { eps: 0 }, 'f64');
    expect(maxAbsDiff(ln.data, [-Math.sqrt(1.5), 1, 2 * Math.sqrt(1.5)])).toBeLessThan(1e-15);
    const rms = runOp('rms_norm', [t('f64', [[3, 4]]), t('f64', [1, 2])], { eps: 0 }, 'f64');
    expect(maxAbsDiff(rms.data, [3 / Math.sqrt(12.5), 8 / Math.sqrt(12.5)])).toBeLessThan(1e-15);
  });

  test('attention: one query over two keys, and a causal row with a single key', () => {
    const q = t('f64', [[[[1, 0], [0, 0]]]]), k = t('f64', [[[[1, 0], [0, 1]]]]), v = t('f64', [[[[1, 2], [3, 4]]]]);
    const y = runOp('attention', [q, k, v], { scale: 1, mask: maskBin('<=', maskVar('k'), maskVar('q')) }, 'f64');
    const p0 = Math.E / (Math.E + 1);
    // Row 0 sees key 0 only; row 1 sees both with equal scores (q = 0).
    expect(maxAbsDiff(y.data, [1, 2, 2, 3])).toBeLessThan(1e-15);
    const full = runOp('attention', [q, k, v], { scale: 1, mask: { kind: 'const', value: 1, bool: true } }, 'f64');
    expect(maxAbsDiff(full.data.slice(0, 2), [p0 + 3 * (1 - p0), 2 * p0 + 4 * (1 - p0)])).toBeLessThan(1e-15);
  });
});
