// Elaboration semantics: parameter naming and sharing, repeats, masks as predicates, symbolic
// shapes, config overrides, and shape errors that say where each operand came from.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { compileGraph } from '../../src/api.js';
import { isPtmError } from '../../src/diagnostics/index.js';
import type { Diagnostic } from '../../src/diagnostics/index.js';
import { printMask } from '../../src/ir/mask.js';
import type { MaskExpr } from '../../src/ir/mask.js';
import type { Graph, Op } from '../../src/ir/types.js';

const model = (body: string, config = 'd = 8  heads = 2') => `model M {\n  config { ${config} }\n${body}\n}`;
const graphOf = (source: string, set?: Record<string, number>): Graph => compileGraph(source, { file: 't.ptm', set }).graph;
const paramNames = (g: Graph) => g.params.map((p) => p.name);
const paramCount = (g: Graph) => g.params.reduce((a, p) => a + p.value.type.shape.reduce<number>((x, d) => x * (d as number), 1), 0);
const attentionMasks = (g: Graph) =>
  g.ops.filter((o) => o.op === 'attention').map((o: Op) => printMask(o.attrs.mask as MaskExpr, (i) => o.operands[i]!.id));
function errorsOf(source: string): Diagnostic[] {
  try {
    compileGraph(source, { file: 't.ptm' });
  } catch (e) {
    if (isPtmError(e)) return e.diagnostics;
    throw e;
  }
  throw new Error('expected diagnostics');
}

describe('models', () => {
  test('published parameter counts (GPT-2 small: 124,439,808; BERT-base: 109,482,240)', () => {
    expect(paramCount(graphOf(readFileSync('models/gpt2.ptm', 'utf8')))).toBe(124_439_808);
    expect(paramCount(graphOf(readFileSync('models/bert.ptm', 'utf8')))).toBe(109_482_240);
  });

  test('--set shrinks the model and keeps hierarchical names', () => {
    const g = graphOf(readFileSync('models/gpt2.ptm', 'utf8'), { layers: 2 });
    const names = paramNames(g);
    expect(names).toContain('layers.1.attn.q.weight');
    expect(names).not.toContain('layers.2.attn.q.weight');
    expect(names).toContain('layers.0.ffn.up.bias');
    expect(names).toContain('layers.0.ln_1.weight');
    expect(names).toContain('ln.weight'); // the final LayerNorm, at model level
    // The LM head is tied: no separate output projection.
    expect(names.filter((n) => n.startsWith('tok'))).toEqual(['tok.weight']);
    expect(g.outputs[0]!.value.type.shape).toEqual(['batch', 'seq', 50257]);
  });
});

describe('blocks and repeats (§5.2, §5.3)', () => {
  const block = `  input x: f32[batch, seq, d]
  block B(h) {
    h = h + Linear(h, d)
    return h
  }`;

  test('repeat(n) makes n copies named <count>.<i>', () => {
    const g = graphOf(model(`${block}\n  output y = repeat(layers) B(x)`, 'd = 8  layers = 3'));
    expect(paramNames(g)).toEqual(['layers.0.linear.weight', 'layers.0.linear.bias', 'layers.1.linear.weight', 'layers.1.linear.bias', 'layers.2.linear.weight', 'layers.2.linear.bias']);
  });

  test('repeat(n) shared uses one set of weights for every copy', () => {
    const g = graphOf(model(`${block}\n  output y = repeat(layers) shared B(x)`, 'd = 8  layers = 3'));
    expect(paramNames(g)).toEqual(['layers.linear.weight', 'layers.linear.bias']);
    expect(g.ops.filter((o) => o.op === 'matmul').length).toBe(3);
  });

  test('repeat(n) as i binds the index in the arguments', () => {
    const src = model(`  input x: f32[batch, d]
  block Scale(h, k) {
    return h * k
  }
  output y = repeat(n) as i Scale(x, i + 1)`, 'd = 4  n = 3');
    const consts = graphOf(src).ops.filter((o) => o.op === 'constant').map((o) => o.attrs.value);
    expect(consts).toEqual([1, 2, 3]);
  });

  test('repeat evaluates its arguments once: a layer in an argument is made once, not per copy', () => {
    const src = model(`  input x: f32[batch, seq, d]
  block Add(h, y) {
    return h + y
  }
  output y = repeat(layers) Add(LayerNorm(x, name: "first"), LayerNorm(x, name: "other"))`, 'd = 8  layers = 3');
    const g = graphOf(src);
    expect(paramNames(g)).toEqual(['first.weight', 'first.bias', 'other.weight', 'other.bias']);
    expect(g.ops.filter((o) => o.op === 'layer_norm').length).toBe(2);
    expect(g.ops.filter((o) => o.op === 'add').length).toBe(3);
  });

  test('a block called directly gets a snake_case prefix; modules bound by assignment take the name', () => {
    const g = graphOf(model(`  input x: f32[batch, d]
  block FeedForward(h) {
    proj = Linear(d, d)
    return proj(h)
  }
  a = FeedForward(x)
  output y = FeedForward(a)`));
    expect(paramNames(g)).toEqual(['feed_forward.proj.weight', 'feed_forward.proj.bias', 'feed_forward_1.proj.weight', 'feed_forward_1.proj.bias']);
  });

  test('name: overrides the automatic name', () => {
    const g = graphOf(model(`  input x: f32[batch, d]\n  output y = Linear(x, 3, name: "head", bias: false)`));
    expect(paramNames(g)).toEqual(['head.weight']);
    expect(g.params[0]!.value.type.shape).toEqual([8, 3]);
  });
});

describe('masks are predicates (§7)', () => {
  const attn = (mask: string, extra = '') =>
    attentionMasks(graphOf(model(`  input x: f32[batch, seq, d]\n  input valid: bool[batch, seq]\n  input n: i32[batch]\n  input rank: i32[batch, seq]\n${extra}  output y = Attention(x, heads: heads, mask: ${mask})`)))[0];

  test('named masks', () => {
    expect(attn('full')).toBe('true');
    expect(attn('causal')).toBe('k <= q');
    expect(attn('padding(valid)')).toBe('%valid[b, k]');
    expect(attn('prefix(n)')).toBe('k < %n[b] | k <= q');
    expect(attn('prefix(3)')).toBe('k < 3 | k <= q');
  });

  test('combinators & | ! with the .ptm precedence', () => {
    expect(attn('causal & padding(valid)')).toBe('k <= q & %valid[b, k]');
    expect(attn('!causal | padding(valid)')).toBe('!(k <= q) | %valid[b, k]');
    expect(attn('prefix(n) & padding(valid)')).toBe('(k < %n[b] | k <= q) & %valid[b, k]');
  });

  test('custom predicates over indices and input tensors', () => {
    expect(attn('mask (b, h, q, k) => rank[b, k] <= rank[b, q]')).toBe('%rank[b, k] <= %rank[b, q]');
    expect(attn('mask (b, h, i, j) => (i - j) % 2 == 0 & j <= i')).toBe('(q - k) % 2 == 0 & k <= q');
  });

  test('the mask tensors become attention operands, nothing seq x seq is created', () => {
    const g = graphOf(model(`  input x: f32[batch, seq, d]\n  input valid: bool[batch, seq]\n  output y = Attention(x, heads: heads, mask: causal & padding(valid))`));
    const op = g.ops.find((o) => o.op === 'attention')!;
    expect(op.operands.map((o) => o.id).slice(3)).toEqual(['%valid']);
    for (const o of g.ops) {
      const s = o.result.type.shape;
      expect(s.filter((d) => d === 'seq').length).toBeLessThan(2);
    }
  });

  test('cross-attention takes keys and values from kv:', () => {
    const g = graphOf(model(`  input x: f32[batch, tgt, d]\n  input enc: f32[batch, src, 6]\n  output y = Attention(x, kv: enc, heads: heads)`));
    expect(g.params.find((p) => p.name === 'attn.k.weight')!.value.type.shape).toEqual([6, 8]);
    const op = g.ops.find((o) => o.op === 'attention')!;
    expect(op.operands[1]!.type.shape).toEqual(['batch', 2, 'src', 4]);
    expect(g.outputs[0]!.value.type.shape).toEqual(['batch', 'tgt', 8]);
  });
});

describe('shapes (§6)', () => {
  test('symbolic indexing and slicing', () => {
    const g = graphOf(model(`  input x: f32[batch, seq, d]\n  output last = x[:, -1]\n  output head = x[..., :4]\n  output even = x[..., ::2]`, 'd = 8'));
    expect(g.outputs.map((o) => o.value.type.shape)).toEqual([['batch', 8], ['batch', 'seq', 4], ['batch', 'seq', 4]]);
    const slices = g.ops.filter((o) => o.op === 'slice');
    expect(slices[0]!.attrs).toMatchObject({ axis: 1, start: 'seq-1', end: 'seq' });
    expect(slices[2]!.attrs).toMatchObject({ axis: 2, start: 0, end: 8, step: 2 });
  });

  test('reshape infers -1 and concat adds symbolic lengths', () => {
    const g = graphOf(model(`  input x: f32[batch, seq, d]\n  input m: f32[batch, mem, d]\n  output flat = reshape(x, [-1, d])\n  output both = concat([m, x], axis: 1)`));
    expect(g.outputs.map((o) => o.value.type.shape)).toEqual([['batch*seq', 8], ['batch', 'mem+seq', 8]]);
  });

  test('a shape error shows both shapes and where each came from', () => {
    const [d] = errorsOf(model(`  input a: f32[batch, 8]\n  input b: f32[batch, 9]\n  output y = a + b`));
    expect(d!.code).toBe('shape_mismatch');
    expect(d!.message).toContain('[batch, 8]');
    expect(d!.message).toContain('[batch, 9]');
    expect(d!.notes.map((n) => `${n.span!.line}:${n.span!.col} ${n.message}`)).toEqual(['3:9 this operand is f32[batch, 8]', '4:9 this operand is f32[batch, 9]']);
  });

  test('several independent errors are reported in one run', () => {
    const ds = errorsOf(model(`  input x: f32[batch, d]\n  a = x @ x\n  b = nope + 1\n  output y = x + zzz`));
    expect(ds.map((d) => d.code)).toEqual(['shape_mismatch', 'unknown_name', 'unknown_name']);
  });

  test('a failed statement does not cascade into its users', () => {
    const ds = errorsOf(model(`  input x: f32[batch, d]\n  a = x @ x\n  b = a + a\n  output y = b`));
    expect(ds.map((d) => d.code)).toEqual(['shape_mismatch']);
  });
});
