// Seeded parameter init: reproducible, independent of parameter order, different across seeds, and
// distributed as asked (normal std, zeros, ones).
import { expect, test } from 'vitest';
import type { Graph, InitSpec } from '../../src/ir/index.js';
import { GraphBuilder } from '../../src/ir/index.js';
import { initParams, lazyInitParams } from '../../src/runtime/index.js';
import { values } from './helpers.js';

function graphWith(params: [string, number[], InitSpec][]): Graph {
  const b = new GraphBuilder('init');
  const x = b.input('x', { dtype: 'f32', shape: [1] });
  for (const [name, shape, init] of params) b.param(name, { dtype: 'f32', shape }, init);
  b.output('y', x);
  return b.finish();
}

const SPECS: [string, number[], InitSpec][] = [
  ['a.weight', [64, 33], { kind: 'normal', std: 0.02 }],
  ['b.weight', [101], { kind: 'normal', std: 1 }],
  ['norm.bias', [7], { kind: 'zeros' }],
  ['norm.weight', [7], { kind: 'ones' }],
];

test('same seed, same values', () => {
  const one = initParams(graphWith(SPECS), 5), two = initParams(graphWith(SPECS), 5);
  for (const [name] of SPECS) expect(values(one.get(name)!)).toEqual(values(two.get(name)!));
});

test('a parameter depends on its name, not on the order or presence of others', () => {
  const forward = initParams(graphWith(SPECS), 5);
  const reversed = initParams(graphWith([...SPECS].reverse()), 5);
  const alone = initParams(graphWith([SPECS[1]!]), 5);
  for (const [name] of SPECS) expect(values(reversed.get(name)!)).toEqual(values(forward.get(name)!));
  expect(values(alone.get('b.weight')!)).toEqual(values(forward.get('b.weight')!));
});

test('different seeds and different names give different values', () => {
  const a = initParams(graphWith(SPECS), 1), b = initParams(graphWith(SPECS), 2);
  expect(values(a.get('a.weight')!)).not.toEqual(values(b.get('a.weight')!));
  const renamed = initParams(graphWith([['c.weight', [64, 33], { kind: 'normal', std: 0.02 }]]), 1);
  expect(values(renamed.get('c.weight')!)).not.toEqual(values(a.get('a.weight')!));
});

test('normal(std) has mean ~0 and std ~std; zeros and ones are exact', () => {
  const big = initParams(graphWith([['w', [200, 500], { kind: 'normal', std: 0.02 }]]), 9).get('w')!;
  const v = values(big);
  const mean = v.reduce((s, x) => s + x, 0) / v.length;
  const std = Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / v.length);
  // 100k samples: the standard error of the mean is 0.02/316 ≈ 6e-5, of the std ≈ 4.5e-5.
  expect(Math.abs(mean)).toBeLessThan(4e-4);
  expect(Math.abs(std - 0.02)).toBeLessThan(4e-4);
  // Tails like a normal: about 4.55% beyond 2 std.
  const beyond = v.filter((x) => Math.abs(x) > 0.04).length / v.length;
  expect(Math.abs(beyond - 0.0455)).toBeLessThan(0.004);
  const p = initParams(graphWith(SPECS), 0);
  expect(values(p.get('norm.bias')!)).toEqual(new Array(7).fill(0));
  expect(values(p.get('norm.weight')!)).toEqual(new Array(7).fill(1));
  expect(p.get('a.weight')!.data).toBeInstanceOf(Float32Array);
});

test('the lazy source gives the same tensors on demand', () => {
  const g = graphWith(SPECS);
  const lazy = lazyInitParams(g, 4);
  expect(values(lazy.get('a.weight')!)).toEqual(values(initParams(g, 4).get('a.weight')!));
  expect(lazy.get('nope')).toBeUndefined();
  expect([...lazy.keys!()]).toEqual(SPECS.map(([n]) => n));
});
