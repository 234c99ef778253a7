// derive-decode-step: the step graph's structure (positions from `past`, caches concatenated before
// each causal self-attention, the mask shifted to absolute query positions), its IR round trip, and
// the refusals: every model it cannot decode with a cache is a diagnostic at the op that prevents it.
import { describe, expect, test } from 'vitest';
import { compileGraph } from '../../src/api.js';
import { isPtmError } from '../../src/diagnostics/diagnostic.js';
import type { Diagnostic } from '../../src/diagnostics/diagnostic.js';
import { printGraph } from '../../src/ir/print.js';
import { readGraph } from '../../src/ir/read.js';
import { verifyGraph } from '../../src/ir/verify.js';
import { decodeStep, deriveDecodeStep, impliesCausal } from '../../src/passes/derive-decode-step.js';
import type { MaskExpr } from '../../src/ir/mask.js';
import { maskBin, maskConst, maskVar } from '../../src/ir/mask.js';
import { tinyGpt2 } from './helpers.js';

describe('the GPT-2 step graph', () => {
  const step = decodeStep(tinyGpt2(), { tokens: 'ids' });
  const text = printGraph(step.graph);

  test('is valid and reads back from its text form', () => {
    expect(verifyGraph(step.graph)).toEqual([]);
    expect(printGraph(readGraph(text, 'step.ir'))).toBe(text);
  });

  test('numbers positions from past, concatenates a cache before each self-attention, shifts the mask', () => {
    expect(step.time).toBe('seq');
    expect(step.past).toBe('past');
    expect(step.graph.symbols).toEqual(['batch', 'seq', 'past']);
    expect(text).toMatch(/= iota\(\) \{dtype = i32, length = seq, start = past\}/);
    expect(step.caches.map((c) => [c.k, c.v, c.presentK, c.presentV])).toEqual([
      ['cache.0.k', 'cache.0.v', 'present.0.k', 'present.0.v'],
      ['cache.1.k', 'cache.1.v', 'present.1.k', 'present.1.v'],
    ]);
    expect(text).toContain('input %cache.1.v: f32[batch, 4, past, 16]');
    expect(text.match(/f32\[batch, 4, past\+seq, 16\] = concat\(%cache\.\d\.[kv], %\d+\) \{axis = 2\}/g)).toHaveLength(4);
    expect(text.match(/attention\(%\d+, %\d+, %\d+\) \{mask = k <= q \+ dim\(past\), scale = 0.25\}/g)).toHaveLength(2);
    expect(step.graph.outputs.map((o) => o.name)).toEqual(['logits', 'present.0.k', 'present.0.v', 'present.1.k', 'present.1.v']);
    // The pass form returns the same graph.
    expect(printGraph(deriveDecodeStep.run(tinyGpt2(), {}, { tokens: 'ids' }))).toBe(text);
  });
});

describe('causality is structural', () => {
  const q = maskVar('q'), k = maskVar('k');
  const cases: [string, MaskExpr, boolean][] = [
    ['k <= q', maskBin('<=', k, q), true],
    ['q >= k', maskBin('>=', q, k), true],
    ['(k <= q) & other', maskBin('&', maskBin('<=', k, q), maskBin('<', k, maskConst(5))), true],
    ['k < q', maskBin('<', k, q), false],
    ['k <= q | other (prefix)', maskBin('|', maskBin('<', k, maskConst(5)), maskBin('<=', k, q)), false],
    ['q <= k (anti-causal)', maskBin('<=', q, k), false],
  ];
  for (const [name, mask, causal] of cases) test(name, () => expect(impliesCausal(mask)).toBe(causal));
});

/** The diagnostics a model's step derivation throws. */
function refusal(body: string, tokens = 'ids'): Diagnostic {
  const source = `model M {
  config { d = 16  heads = 2  vocab = 11  ctx = 16 }
  input ids: i32[batch, seq]
  input valid: bool[batch, seq]
  tok = Embedding(vocab, d)
  h = tok(ids)
${body}
  output logits = h @ tok.weight^T
}
`;
  const { graph } = compileGraph(source, { file: 'm.ptm' });
  try {
    decodeStep(graph, { tokens });
  } catch (e) {
    if (isPtmError(e)) return e.diagnostics[0]!;
    throw e;
  }
  throw new Error('the step was derived; expected a refusal');
}

describe('models that cannot be decoded with a cache are refused at the op', () => {
  const cases: [string, string, number, number, RegExp][] = [
    ['a bidirectional self-attention', '  h = h + Attention(h, heads: heads)', 7, 11, /self-attention over 'seq' whose mask does not imply `k <= q`/],
    ['a prefix-LM mask', '  h = h + Attention(h, heads: heads, mask: prefix(2))', 7, 11, /does not imply `k <= q`/],
    ['a mean over seq', '  h = h + Attention(h, heads: heads, mask: causal)\n  h = h - mean(h, axis: 1, keepdims: true)', 8, 11, /reduce_mean reduces over 'seq'/],
    ['a softmax over seq', '  h = softmax(h, axis: 1)', 7, 7, /softmax normalizes over 'seq'/],
    ['a causal mask that also reads a tensor over seq', '  h = h + Attention(h, heads: heads, mask: causal & padding(valid))', 7, 11, /reading %valid bool\[batch, seq\], a tensor over 'seq'/],
    ['the last position picked by a slice', '  h = h[:, 1:]', 7, 12, /slice slices along 'seq'/],
    ['a matmul contracting seq', '  h = h^T @ h', 7, 7, /matmul sums over 'seq'/],
  ];
  for (const [name, body, line, col, message] of cases) {
    test(name, () => {
      const d = refusal(body);
      expect(d.code).toBe('not_incremental');
      expect(d.message).toMatch(message);
      expect(d.message).toContain('cannot be decoded with a key/value cache');
      expect([d.span.file, d.span.line, d.span.col]).toEqual(['m.ptm', line, col]);
      expect(d.notes.map((n) => n.message).join()).toContain('--no-cache');
    });
  }

  test('a token input that is not integer [batch, seq]', () => {
    const d = refusal('  h = h + Attention(h, heads: heads, mask: causal)', 'valid');
    expect(d.code).toBe('invalid_generation');
    expect(d.message).toContain("input 'valid' is bool[batch, seq]");
    expect(d.span.line).toBe(4);
  });

  test('an unknown token input names the nearest input', () => {
    const d = refusal('  h = h + Attention(h, heads: heads, mask: causal)', 'idz');
    expect(d.code).toBe('unknown_input');
  });
});
