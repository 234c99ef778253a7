// split-static on an encoder-decoder's step graph: the encoder and the cross-attention key/value
// projections move to the prologue, and generation runs them once, not once per token.
import { describe, expect, test } from 'vitest';
import { dimSymbols } from '../../src/ir/dim.js';
import { verifyGraph } from '../../src/ir/verify.js';
import { decodeStep } from '../../src/passes/derive-decode-step.js';
import { splitStaticGraph } from '../../src/passes/split-static.js';
import { Generator } from '../../src/runtime/generate/index.js';
import { tensor } from '../../src/runtime/index.js';
import { counting, encDec, params, tinyGpt2 } from './helpers.js';

const mentions = (shape: readonly (number | string)[], symbol: string) => shape.some((d) => dimSymbols(d).includes(symbol));

describe('an encoder-decoder step', () => {
  const step = decodeStep(encDec(), { tokens: 'tgt' });
  const split = splitStaticGraph(step.graph, { dynamic: ['tgt', ...step.caches.flatMap((c) => [c.k, c.v])] });
  const prologue = split.prologue!;

  test('both graphs are valid', () => {
    expect(verifyGraph(prologue)).toEqual([]);
    expect(verifyGraph(split.step)).toEqual([]);
  });

  test('the prologue is the encoder and the cross-attention keys and values', () => {
    expect(prologue.inputs.map((i) => i.name)).toEqual(['src', 'src_valid']);
    expect(prologue.symbols).toEqual(['batch', 'src_len']);
    // Two decoder layers, keys and values each: [batch, heads, src_len, head_dim].
    expect(split.carried).toHaveLength(4);
    for (const o of prologue.outputs) expect(o.value.type.shape).toEqual(['batch', 4, 'src_len', 8]);
    // Every encoder layer's attention and FFN run there, and no decoder parameter but the cross-attention k/v.
    const params = prologue.params.map((p) => p.name);
    expect(params).toEqual(expect.arrayContaining(['layers.0.attn.q.weight', 'layers.1.ffn.down.weight', 'ln.weight', 'layers_1.0.attn_1.k.weight', 'layers_1.1.attn_1.v.bias']));
    expect(params.filter((p) => p.startsWith('layers_1.') && !/attn_1\.[kv]\./.test(p))).toEqual([]);
  });

  test('the step graph has no encoder op: nothing it computes runs over src_len', () => {
    expect(split.step.inputs.map((i) => i.name)).toEqual(['src_valid', 'tgt', 'cache.0.k', 'cache.0.v', 'cache.1.k', 'cache.1.v', ...split.carried]);
    expect(split.step.ops.length).toBeGreaterThan(0);
    for (const op of split.step.ops) expect(mentions(op.result.type.shape, 'src_len'), `${op.op} ${op.result.id}`).toBe(false);
    expect(split.step.params.map((p) => p.name).filter((p) => /^layers\./.test(p))).toEqual([]);
  });

  test('a decoder-only model has no prologue', () => {
    const gpt2 = decodeStep(tinyGpt2(), { tokens: 'ids' });
    const s = splitStaticGraph(gpt2.graph, { dynamic: ['ids', ...gpt2.caches.flatMap((c) => [c.k, c.v])] });
    expect(s.prologue).toBeUndefined();
    expect(s.step).toBe(gpt2.graph);
  });
});

test('generation runs the encoder once, the decoder once per token', async () => {
  const graph = encDec();
  const source = counting(params(graph));
  const generator = new Generator(graph, source);
  const inputs = { src: tensor('i32', [1, 5], [3, 4, 5, 6, 7]), src_valid: tensor('bool', [1, 5], [1, 1, 1, 1, 0]) };
  const result = await generator.generate({ prompt: [1, 2], maxNewTokens: 9, inputs });
  expect(result.tokens).toHaveLength(9);
  // The CPU reference reads each parameter once per run of a graph that uses it.
  expect(source.reads.get('layers.0.attn.q.weight')).toBe(1); // encoder
  expect(source.reads.get('layers_1.0.attn_1.k.weight')).toBe(1); // cross-attention keys
  expect(source.reads.get('layers_1.0.attn_1.q.weight')).toBe(9); // decoder, once per token
  expect(source.reads.get('layers_1.1.attn.k.weight')).toBe(9);
});
