// Golden test of the textual IR for a small hand-built graph, and the spellings of floats, names and locs.
import { describe, expect, test } from 'vitest';
import type { Span } from '../../src/diagnostics/span.js';
import type { Graph } from '../../src/ir/index.js';
import { GraphBuilder, maskAnd, maskBin, maskConst, maskNot, maskRead, maskVar, printFloat, printGraph, printOp, readGraph, verifyGraph } from '../../src/ir/index.js';

const at = (line: number, col: number): Span => ({ file: 'models/gpt2.ptm', line, col, offset: 100 + line, end: 110 + line });

/** One attention block of a tiny GPT: embedding, LayerNorm, fused QKV, causal + padding mask. */
function tinyGpt(): Graph {
  const b = new GraphBuilder('TinyGPT');
  b.symbol('batch');
  b.symbol('seq');
  const ids = b.input('ids', { dtype: 'i32', shape: ['batch', 'seq'] }, at(3, 3));
  const valid = b.input('valid', { dtype: 'bool', shape: ['batch', 'seq'] }, at(4, 3));
  const tok = b.param('tok.weight', { dtype: 'f32', shape: [50, 16] }, { kind: 'normal', std: 0.02 }, at(6, 3));
  const lnW = b.param('ln_1.weight', { dtype: 'f32', shape: [16] }, { kind: 'ones' });
  const lnB = b.param('ln_1.bias', { dtype: 'f32', shape: [16] }, { kind: 'zeros' });
  const qkvW = b.param('layers.0.attn.qkv.weight', { dtype: 'f32', shape: [16, 48] }, { kind: 'normal', std: 0.02 });
  const x = b.op('gather', [tok, ids], { axis: 0 }, at(10, 7));
  const h = b.op('layer_norm', [x, lnW, lnB], { eps: 1e-5 }, at(11, 7));
  const qkv = b.op('matmul', [h, qkvW], {}, at(12, 9));
  const heads = b.op('reshape', [qkv], { shape: ['batch', 'seq', 3, 2, 8] });
  const split = b.op('transpose', [heads], { perm: [2, 0, 3, 1, 4] });
  const [q, k, v] = [0, 1, 2].map((i) => b.op('reshape', [b.op('slice', [split], { axis: 0, start: i, end: i + 1, step: 1 })], { shape: ['batch', 2, 'seq', 8] }));
  const causal = maskBin('<=', maskVar('k'), maskVar('q'));
  const mask = maskAnd(causal, maskNot(maskBin('==', maskRead(3, [maskVar('b'), maskBin('-', maskVar('k'), maskConst(-1))]), maskConst(0))));
  const attn = b.op('attention', [q!, k!, v!, valid], { mask, scale: 0.125 }, at(14, 11));
  const pooled = b.op('reduce_mean', [attn], { axes: [-1], keepdims: true });
  const positions = b.op('iota', [], { length: 'seq', dtype: 'i64' });
  const shifted = b.op('concat', [positions, positions], { axis: 0 });
  b.op('constant', [], { value: -Infinity, dtype: 'f32' });
  b.op('constant', [], { value: 1, dtype: 'f16' });
  b.output('pooled', pooled, at(20, 3));
  b.output('positions.doubled', shifted);
  return b.finish();
}

describe('printGraph', () => {
  test('prints the golden text of a small GPT block', async () => {
    const g = tinyGpt();
    expect(verifyGraph(g)).toEqual([]);
    await expect(printGraph(g)).toMatchFileSnapshot('./golden/tiny-gpt.ir');
  });

  test('is deterministic and reads back to the same text', () => {
    const text = printGraph(tinyGpt());
    expect(printGraph(tinyGpt())).toBe(text);
    expect(printGraph(readGraph(text))).toBe(text);
  });

  test('sorts attributes by name and writes masks with operand ids', () => {
    const attention = tinyGpt().ops.find((op) => op.op === 'attention')!;
    expect(printOp(attention)).toBe(
      '%11: f32[batch, 2, seq, 8] = attention(%6, %8, %10, %valid) {mask = k <= q & !(%valid[b, k - -1] == 0), scale = 0.125}',
    );
    expect(printOp(attention, true)).toMatch(/ loc\("models\/gpt2\.ptm":14:11\)$/);
  });

  test('omits loc when the line is 0, and quotes names that are not identifiers', () => {
    const b = new GraphBuilder('my model');
    const x = b.input('x', { dtype: 'f32', shape: [] });
    const w = b.param('w', { dtype: 'f32', shape: [] }, { kind: 'zeros' });
    w.id = '%0w';
    b.output('a.b', b.op('add', [x, w]));
    expect(printGraph(b.finish())).toBe(
      'graph "my model" [] {\n  input %x: f32[]\n  param %0w "w": f32[] = zeros\n  %0: f32[] = add(%x, %0w)\n  output "a.b" = %0\n}\n',
    );
  });
});

describe('printFloat', () => {
  test.each([
    [1, '1.0'], [-2, '-2.0'], [0, '0.0'], [-0, '-0.0'], [0.02, '0.02'], [1e-12, '1e-12'], [1e21, '1e+21'],
    [5e-324, '5e-324'], [Number.MAX_VALUE, '1.7976931348623157e+308'], [Infinity, 'inf'], [-Infinity, '-inf'], [NaN, 'nan'],
  ])('%s prints as %s', (x, text) => {
    expect(printFloat(x)).toBe(text);
  });
});
