// Free parameters (REFERENCE.md §8.7): `name = Parameter([d0, ...], init: ...)` is named by its
// assignment under the current scope (§5.5), shared in `repeat(n) shared`, and initialized as asked.
import { describe, expect, test } from 'vitest';
import { compileGraph } from '../../src/api.js';
import type { Graph, InitSpec } from '../../src/ir/types.js';
import { initParams, runGraph, tensor } from '../../src/runtime/index.js';

const graphOf = (body: string, config = 'vocab = 10  d = 4'): Graph =>
  compileGraph(`model M {\n  config { ${config} }\n${body}\n}`, { file: 't.ptm' }).graph;
const params = (g: Graph): [string, string, InitSpec][] => g.params.map((p) => [p.name, `[${p.value.type.shape.join(', ')}]`, p.init]);

describe('Parameter (§8.7)', () => {
  test('an LM head with an output bias: the parameter is named by its assignment', () => {
    const g = graphOf(`  input ids: i32[batch, seq]
  tok = Embedding(vocab, d)
  lm_bias = Parameter([vocab], init: zeros)
  output logits = tok(ids) @ tok.weight^T + lm_bias`);
    expect(params(g)).toEqual([['tok.weight', '[10, 4]', { kind: 'normal', std: 0.02 }], ['lm_bias', '[10]', { kind: 'zeros' }]]);
    expect(g.outputs[0]!.value.type.shape).toEqual(['batch', 'seq', 10]);
  });

  test('inits: zeros, ones, normal(std), and normal(0.02) by default', () => {
    const g = graphOf(`  input x: f32[2, d]
  a = Parameter([d], init: ones)
  b = Parameter([2, d], init: normal(0.5))
  c = Parameter([d])
  output y = x + a + b + c`);
    expect(params(g)).toEqual([
      ['a', '[4]', { kind: 'ones' }],
      ['b', '[2, 4]', { kind: 'normal', std: 0.5 }],
      ['c', '[4]', { kind: 'normal', std: 0.02 }],
    ]);
  });

  test('the init is what a seeded run starts from', () => {
    const g = graphOf(`  input x: f32[batch, d]
  one = Parameter([d], init: ones)
  zero = Parameter([d], init: zeros)
  wide = Parameter([1000], init: normal(2))
  output y = x * zero + one
  output w = wide`);
    const init = initParams(g, 0);
    const { outputs } = runGraph(g, { inputs: { x: tensor('f32', [2, 4], [1, 2, 3, 4, 5, 6, 7, 8]) }, params: init });
    expect(Array.from(outputs.get('y')!.data)).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    // normal(2) over 1000 draws: the sample std is 2 within 10% (its relative spread is about 2.2%).
    const w = Array.from(outputs.get('w')!.data);
    const std = Math.sqrt(w.reduce((a, v) => a + v * v, 0) / w.length);
    expect(Math.abs(std - 2)).toBeLessThan(0.2);
  });

  test('names follow §5.5 scopes: blocks, repeats, shared repeats, inline, name:', () => {
    const g = graphOf(`  input x: f32[batch, d]
  block Head(h) {
    b = Parameter([d], init: zeros)
    return h + b
  }
  h = Head(x)
  h = repeat(layers) Head(h)
  h = repeat(layers) shared Head(h)
  h = h + Parameter([d]) + Parameter([d], init: ones)
  output y = h + Parameter([d], name: "cls.predictions.bias", init: zeros)`, 'd = 4  layers = 2');
    expect(g.params.map((p) => p.name)).toEqual(['head.b', 'layers.0.b', 'layers.1.b', 'layers_1.b', 'param', 'param_1', 'cls.predictions.bias']);
  });

  test('the same name assigned twice gets _1, as for layers', () => {
    const g = graphOf(`  input x: f32[batch, d]
  p = Parameter([d])
  p = p + Parameter([d])
  q = Parameter([d])
  q = Parameter([d])
  output y = x + p + q`);
    expect(g.params.map((p) => p.name)).toEqual(['p', 'param', 'q', 'q_1']);
  });
});
