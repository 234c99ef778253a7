// The masks of REFERENCE.md §7.2 beyond full/causal/padding/prefix: window, global, strided and
// same_segment. Each runs through Attention on the cpu reference in float64 and is compared with a
// float64 attention (reference.ts) whose visibility is the predicate written here from DSL.md's table.
import { describe, expect, test } from 'vitest';
import { printMask } from '../../src/ir/mask.js';
import type { MaskExpr } from '../../src/ir/mask.js';
import { tensor } from '../../src/runtime/index.js';
import { seeded, uniform } from '../runtime/helpers.js';
import { maxAbsDiff, referenceAttention, runModel } from './reference.js';

const B = 2, T = 11, d = 8, heads = 2;
const rand = seeded(7);
const x = uniform(rand, B * T * d, -1, 1);
// Batch 0 has global tokens at 0 and 7; batch 1 has none, so under global(g) alone its rows see nothing.
const isGlobal = [[1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]];
// Packed sequences: segment ids per token.
const segments = [[0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 3], [5, 5, 5, 5, 5, 5, 7, 7, 7, 7, 7]];
const inputs = {
  x: tensor('f32', [B, T, d], x, 'f64'), // f64 storage: the reference reads the same doubles
  g: tensor('bool', [B, T], isGlobal.flat()),
  seg: tensor('i32', [B, T], segments.flat()),
};

const source = (mask: string) => `model M {
  config { d = ${d}  heads = ${heads} }
  input x: f32[batch, seq, d]
  input g: bool[batch, seq]
  input seg: i32[batch, seq]
  output y = Attention(x, heads: heads, mask: ${mask})
}`;

type Predicate = (b: number, q: number, k: number) => boolean;
const g = (b: number, t: number) => isGlobal[b]![t] === 1;

const cases: [string, Predicate][] = [
  ['window(2)', (_b, q, k) => Math.abs(q - k) <= 2],
  ['causal & window(3)', (_b, q, k) => k <= q && q - k <= 3],
  ['global(g)', (b, q, k) => g(b, q) || g(b, k)],
  ['window(1) | global(g)', (b, q, k) => Math.abs(q - k) <= 1 || g(b, q) || g(b, k)],
  ['strided(3)', (_b, q, k) => Math.abs(q - k) % 3 === 0],
  ['causal & strided(2)', (_b, q, k) => k <= q && (q - k) % 2 === 0],
  ['same_segment(seg)', (b, q, k) => segments[b]![q] === segments[b]![k]],
  ['same_segment(seg) & causal', (b, q, k) => segments[b]![q] === segments[b]![k] && k <= q],
  ['!strided(4) & window(5)', (_b, q, k) => Math.abs(q - k) % 4 !== 0 && Math.abs(q - k) <= 5],
];

describe('named masks on the cpu reference (f64) vs a float64 attention with the predicate', () => {
  // Tolerance 1e-12: both sides are float64 with values of order one; they differ only in the order of
  // their sums (rounding ~1e-16 per step over a few dozen steps), while a single wrong key moves the
  // output by ~1e-2 (checked below against the unmasked attention).
  test.each(cases)('%s', (mask, visible) => {
    const run = runModel(source(mask), inputs);
    const got = run.outputs.get('y')!.data;
    const common = { x, B, T, d, heads, params: run.params, prefix: 'attn', projectionBias: true };
    const want = referenceAttention({ ...common, visible });
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-12);
    // The mask matters for these inputs: attention over every key differs clearly.
    expect(maxAbsDiff(got, referenceAttention(common))).toBeGreaterThan(1e-3);
  });

  test('a query that sees no key outputs zeros before the output projection (global(g), batch 1)', () => {
    const run = runModel(source('global(g)'), inputs);
    const y = run.outputs.get('y')!.data;
    const oBias = run.params.get('attn.o.bias')!;
    for (let t = 0; t < T; t++) for (let i = 0; i < d; i++) expect(y[(T + t) * d + i]).toBe(oBias[i]);
  });
});

describe('mask predicates as IR', () => {
  const printed = (mask: string) => {
    const op = runModel(source(mask), inputs).graph.ops.find((o) => o.op === 'attention')!;
    return printMask(op.attrs.mask as MaskExpr, (i) => op.operands[i]!.id);
  };

  test('each mask is a predicate over (b, q, k) reading [batch, seq] tensors, never a seq x seq tensor', () => {
    expect(printed('window(256)')).toBe('q - k <= 256 & k - q <= 256');
    expect(printed('global(g)')).toBe('%g[b, q] | %g[b, k]');
    expect(printed('strided(64)')).toBe('(q - k) % 64 == 0');
    expect(printed('same_segment(seg)')).toBe('%seg[b, q] == %seg[b, k]');
    expect(printed('causal & window(2) | global(g)')).toBe('k <= q & (q - k <= 2 & k - q <= 2) | (%g[b, q] | %g[b, k])');
  });

  test('an integer global tensor is read as "not zero"', () => {
    const src = source('global(ig)').replace('input seg', 'input ig: i32[batch, seq]\n  input seg');
    const ig = tensor('i32', [B, T], isGlobal.flat());
    const run = runModel(src, { ...inputs, ig });
    const op = run.graph.ops.find((o) => o.op === 'attention')!;
    expect(printMask(op.attrs.mask as MaskExpr, (i) => op.operands[i]!.id)).toBe('%ig[b, q] != 0 | %ig[b, k] != 0');
    const want = referenceAttention({ x, B, T, d, heads, params: run.params, prefix: 'attn', projectionBias: true, visible: (b, q, k) => g(b, q) || g(b, k) });
    expect(maxAbsDiff(run.outputs.get('y')!.data, want)).toBeLessThan(1e-12);
  });
});
