// Generation on the CPU reference: with the key/value cache it must choose exactly the tokens that
// recomputing the whole sequence per token (the original model, untouched by any pass) chooses,
// greedy and sampled, for GPT-2 and an encoder-decoder; each step's logits agree with recompute's.
// Tolerance: the f32 reference computes a cached row with the same per-row arithmetic as the full
// sequence (attention sums in float64), so logits agree to float32 rounding: max |diff| <= 1e-5 x max |logit|.
import { describe, expect, test } from 'vitest';
import { compileGraph } from '../../src/api.js';
import { isPtmError } from '../../src/diagnostics/diagnostic.js';
import type { Graph } from '../../src/ir/types.js';
import { Generator } from '../../src/runtime/generate/index.js';
import type { GenerateRequest, GenerateResult } from '../../src/runtime/generate/index.js';
import { runGraph, tensor } from '../../src/runtime/index.js';
import type { Tensor } from '../../src/runtime/index.js';
import { encDec, params, sourceInputs, tinyGpt2, tinyT5, maxRelativeDiff } from './helpers.js';

const NEW_TOKENS = 20;

async function both(graph: Graph, p: Map<string, Tensor>, request: GenerateRequest): Promise<[GenerateResult, GenerateResult]> {
  const cached = await new Generator(graph, p).generate({ ...request, keepLogits: true });
  const recomputed = await new Generator(graph, p, { cache: false }).generate({ ...request, keepLogits: true });
  return [cached, recomputed];
}

describe.each([
  ['GPT-2 (layers 2, d 64)', tinyGpt2, {}, 10, true],
  ['an encoder-decoder with learned positions', encDec, sourceInputs(), 10, true],
  // With random weights T5's greedy choice settles on one token; its logits still differ every step.
  ['T5 (layers 2, d 64): relative position bias', tinyT5, sourceInputs(), 3, false],
] as const)('%s: the cache chooses the tokens recompute chooses', (_name, model, inputs, scale, varied) => {
  const graph = model();
  const p = params(graph, 2, scale);
  const prompt = [5, 17, 3, 42];

  test('greedy', async () => {
    const [cached, recomputed] = await both(graph, p, { prompt, maxNewTokens: NEW_TOKENS, inputs });
    expect(cached.tokens).toHaveLength(NEW_TOKENS);
    expect(cached.tokens).toEqual(recomputed.tokens);
    expect(maxRelativeDiff(cached.logits!, recomputed.logits!)).toBeLessThanOrEqual(1e-5);
    if (varied) expect(new Set(cached.tokens).size).toBeGreaterThan(3); // not one token repeated: the test has something to compare
  });

  test('seeded top-k with temperature', async () => {
    const sampling = { topK: 12, temperature: 1.5, seed: 7 };
    const [cached, recomputed] = await both(graph, p, { prompt, maxNewTokens: NEW_TOKENS, inputs, sampling });
    expect(cached.tokens).toEqual(recomputed.tokens);
    expect(maxRelativeDiff(cached.logits!, recomputed.logits!)).toBeLessThanOrEqual(1e-5);
    expect(new Set(cached.tokens).size).toBeGreaterThan(3);
    // Another seed draws other tokens; the same seed the same ones.
    const other = await new Generator(graph, p).generate({ prompt, maxNewTokens: NEW_TOKENS, inputs, sampling: { ...sampling, seed: 8 } });
    expect(other.tokens).not.toEqual(cached.tokens);
    const again = await new Generator(graph, p).generate({ prompt, maxNewTokens: NEW_TOKENS, inputs, sampling });
    expect(again.tokens).toEqual(cached.tokens);
  });
});

test('each step’s logits are the full model’s logits at that position (run independently of generate)', async () => {
  const graph = tinyGpt2();
  const p = params(graph);
  const prompt = [1, 2, 3];
  const { tokens, logits } = await new Generator(graph, p).generate({ prompt, maxNewTokens: 6, keepLogits: true });
  const sequence = [...prompt, ...tokens];
  const full = runGraph(graph, { inputs: { ids: tensor('i32', [1, sequence.length], sequence) }, params: p, precision: 'f64' }).outputs.get('logits')!;
  const V = 97;
  const rows = logits!.map((_, i) => Float64Array.from(full.data.subarray((prompt.length - 1 + i) * V, (prompt.length + i) * V)));
  expect(maxRelativeDiff(logits!, rows)).toBeLessThanOrEqual(1e-5);
});

test('the comparison would catch a cache that forgets the position offset', async () => {
  // Mutation check: the same step graph with the iota start removed gives other logits.
  const graph = tinyGpt2();
  const p = params(graph);
  const generator = new Generator(graph, p);
  const good = await generator.generate({ prompt: [1, 2, 3], maxNewTokens: 4, keepLogits: true });
  const step = generator.split!.step;
  const broken = { ...step, ops: step.ops.map((op) => (op.op === 'iota' ? { ...op, attrs: { length: op.attrs.length!, dtype: op.attrs.dtype! } } : op)) };
  (generator as unknown as { runners: { step: unknown } }).runners.step = { graph: broken, run: async (inputs: Record<string, Tensor>) => runGraph(broken, { inputs, params: p }).outputs };
  const bad = await generator.generate({ prompt: [1, 2, 3], maxNewTokens: 4, keepLogits: true });
  expect(maxRelativeDiff(bad.logits!.slice(0, 1), good.logits!.slice(0, 1))).toBe(0); // the prompt starts at 0 anyway
  expect(maxRelativeDiff(bad.logits!.slice(1), good.logits!.slice(1))).toBeGreaterThan(1e-3);
});

describe('streaming and stopping', () => {
  const graph = tinyGpt2();
  const p = params(graph);

  test('the callback sees every token in order, as it is chosen', async () => {
    const seen: [number, number][] = [];
    const r = await new Generator(graph, p).generate({ prompt: [4], maxNewTokens: 5, onToken: (t, i) => { seen.push([t, i]); } });
    expect(seen).toEqual(r.tokens.map((t, i) => [t, i]));
    expect(r.stop).toBe('max_tokens');
  });

  test('generation stops after the eos id', async () => {
    const free = await new Generator(graph, p).generate({ prompt: [4], maxNewTokens: 12 });
    const eos = free.tokens[5]!;
    const first = free.tokens.indexOf(eos);
    const r = await new Generator(graph, p).generate({ prompt: [4], maxNewTokens: 12, eos });
    expect(r.tokens).toEqual(free.tokens.slice(0, first + 1));
    expect(r.stop).toBe('eos');
  });

  test('running past the position table is a diagnostic', async () => {
    // ctx is 64: a 60-token prompt and 10 new tokens do not fit.
    const e = await new Generator(graph, p).generate({ prompt: Array(60).fill(1), maxNewTokens: 10 }).catch((x) => x);
    expect(isPtmError(e)).toBe(true);
    expect(e.diagnostics[0].code).toBe('input_mismatch');
  });
});

describe('bad requests and models are diagnostics', () => {
  const graph = tinyGpt2();
  const p = params(graph);
  const code = async (f: () => Promise<unknown> | unknown): Promise<string> => {
    try {
      await f();
    } catch (e) {
      if (isPtmError(e)) return `${e.diagnostics[0]!.code}: ${e.diagnostics[0]!.message}${e.diagnostics[0]!.notes.map((n) => ` (${n.message})`).join('')}`;
      throw e;
    }
    return 'ok';
  };
  const generator = new Generator(graph, p);
  const cases: [string, Partial<GenerateRequest>, RegExp][] = [
    ['an empty prompt', { prompt: [] }, /invalid_generation: the prompt is empty/],
    ['a token outside the vocabulary', { prompt: [1, 97] }, /prompt token 97 is not an id of the vocabulary \[0, 97\)/],
    ['no new tokens', { maxNewTokens: 0 }, /--max-tokens 0: expected a positive integer/],
    ['top-k 0', { sampling: { topK: 0 } }, /--top-k 0/],
    ['temperature 0', { sampling: { temperature: 0 } }, /--temperature 0: expected a positive number/],
    ['an eos outside the vocabulary', { eos: 200 }, /--eos 200/],
    ['the tokens as an input', { inputs: { ids: tensor('i32', [1, 1], [1]) } }, /give them as the prompt/],
  ];
  for (const [name, request, message] of cases) {
    test(name, async () => {
      expect(await code(() => generator.generate({ prompt: [1], maxNewTokens: 3, ...request }))).toMatch(message);
    });
  }

  test('a missing input of an encoder-decoder', async () => {
    expect(await code(() => new Generator(encDec(), params(encDec())).generate({ prompt: [1], maxNewTokens: 2, inputs: { src: tensor('i32', [1, 2], [1, 2]) } }))).toMatch(/missing_input: no value given for input 'src_valid'/);
  });

  const model = (body: string) => compileGraph(`model M {
  config { d = 16  heads = 2  vocab = 11 }
${body}
}
`, { file: 'm.ptm' }).graph;

  test('no input feeds a causal self-attention', async () => {
    const g = model('  input ids: i32[batch, seq]\n  tok = Embedding(vocab, d)\n  h = tok(ids)\n  output logits = (h + Attention(h, heads: heads)) @ tok.weight^T');
    expect(await code(() => new Generator(g, params(g)))).toMatch(/no integer \[batch, seq\] input feeds a causal self-attention .*'ids' i32\[batch, seq\]; name one with --tokens-input/);
  });

  test('two inputs feed one: ambiguous, with the candidates', async () => {
    const g = model('  input a: i32[batch, seq]\n  input b: i32[batch, seq]\n  tok = Embedding(vocab, d)\n  h = tok(a) + tok(b)\n  output logits = (h + Attention(h, heads: heads, mask: causal)) @ tok.weight^T');
    expect(await code(() => new Generator(g, params(g)))).toMatch(/which input holds the tokens\? 'a' i32\[batch, seq\], 'b' i32\[batch, seq\]/);
    expect((await new Generator(g, params(g), { tokens: 'b', cache: false }).generate({ prompt: [1], maxNewTokens: 1, inputs: { a: tensor('i32', [1, 1], [0]) } }).catch((e) => e)).diagnostics[0].message).toMatch(/'a' \[batch, seq\] runs over 'seq'/);
  });

  test('logits: none, ambiguous, or a name that is not an output', async () => {
    const none = model('  input ids: i32[batch, seq]\n  tok = Embedding(vocab, d)\n  h = tok(ids)\n  output y = sum(h + Attention(h, heads: heads, mask: causal), axis: -1)');
    expect(await code(() => new Generator(none, params(none)))).toMatch(/no output is logits \[batch, seq, vocab\]; outputs: 'y' f32\[batch, seq\]/);
    const two = model('  input ids: i32[batch, seq]\n  tok = Embedding(vocab, d)\n  h = tok(ids) + Attention(tok(ids), heads: heads, mask: causal)\n  output a = h @ tok.weight^T\n  output b = h');
    expect(await code(() => new Generator(two, params(two)))).toMatch(/which output holds the logits\? 'a' f32\[batch, seq, 11\], 'b' f32\[batch, seq, 16\]/);
    expect(await code(() => new Generator(two, params(two), { logits: 'c' }))).toMatch(/the model has no output 'c'/);
  });
});
