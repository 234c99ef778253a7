// The IR reader: what it accepts (kinds of attributes, masks, locs, canonical dims) and, for malformed
// text, an ir_syntax_error at the right line:col — never a raw exception, never a hang.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { Diagnostic } from '../../src/diagnostics/diagnostic.js';
import { isPtmError } from '../../src/diagnostics/diagnostic.js';
import { printGraph, readGraph, verifyGraph } from '../../src/ir/index.js';

const GOLDEN = readFileSync(new URL('./golden/tiny-gpt.ir', import.meta.url), 'utf8');

function syntaxError(text: string): Diagnostic {
  try {
    readGraph(text, 'bad.ir');
  } catch (e) {
    if (isPtmError(e)) return e.diagnostics[0]!;
    throw e;
  }
  throw new Error('the text was accepted');
}

describe('readGraph accepts', () => {
  const text = [
    'graph GPT2 [batch, seq] {   // a comment',
    '  input %ids: i32[batch, seq] loc("models/gpt2.ptm":12:3)',
    '  input %q: f32[batch, 2, seq, 4]',
    '  input %mask.valid "valid": bool[batch, seq]',
    '  param %wte: f32[10, 4] = normal(2e-2) loc("models/gpt2.ptm":14:3)',
    '  %0: f32[batch, 2, seq, 4] = attention(%q, %q, %q, %mask.valid) {scale = 1, mask = k <= q & %mask.valid[b, k]} loc("x.ptm":21:7)',
    '  %1: f32[batch, 2, seq + 0, 4] = slice(%0) {axis = -2, start = 0, end = seq, step = 1}',
    '  %2: f32[] = constant() {value = -inf, dtype = f32}',
    '  %3: i32[512+seq] = iota() {length = seq + 512, dtype = i32}',
    '  output logits = %1',
    '}',
  ].join('\n');

  test('attribute values by the op\'s attribute kinds, masks by operand index, locs by line:col', () => {
    const g = readGraph(text, 'example.ir');
    expect(g.name).toBe('GPT2');
    expect(g.symbols).toEqual(['batch', 'seq']);
    expect(g.inputs[2]).toMatchObject({ name: 'valid', value: { id: '%mask.valid' } });
    expect(g.params[0]).toMatchObject({ name: 'wte', init: { kind: 'normal', std: 0.02 } });
    expect(g.inputs[0]!.loc).toEqual({ file: 'models/gpt2.ptm', line: 12, col: 3, offset: 0, end: 0 });
    const [attention, slice, constant, iota] = g.ops;
    expect(attention!.attrs).toEqual({
      scale: 1,
      mask: { kind: 'binary', op: '&', left: { kind: 'binary', op: '<=', left: { kind: 'var', name: 'k' }, right: { kind: 'var', name: 'q' } },
        right: { kind: 'read', operand: 3, indices: [{ kind: 'var', name: 'b' }, { kind: 'var', name: 'k' }] } },
    });
    expect(attention!.operands[3]).toBe(g.inputs[2]!.value);
    expect(attention!.loc).toMatchObject({ file: 'x.ptm', line: 21, col: 7 });
    expect(slice!.attrs).toEqual({ axis: -2, start: 0, end: 'seq', step: 1 });
    expect(slice!.result.type.shape).toEqual(['batch', 2, 'seq', 4]);
    expect(slice!.loc.line).toBe(0);
    expect(constant!.attrs.value).toBe(-Infinity);
    expect(iota!.attrs.length).toBe('seq+512');
    expect(iota!.result.type.shape).toEqual(['seq+512']);
    expect(g.outputs[0]!.value).toBe(slice!.result);
    expect(verifyGraph(g)).toEqual([]);
  });

  test('its own printed form', () => {
    const g = readGraph(GOLDEN);
    expect(printGraph(g)).toBe(GOLDEN);
    expect(verifyGraph(g)).toEqual([]);
  });
});

describe('readGraph rejects malformed text at line:col', () => {
  const head = 'graph G [batch, seq] {\n  input %x: f32[batch, seq]\n  input %m: bool[batch, seq]\n';
  const attn = '  %0: f32[batch, 2, seq, 4] = attention(%q, %q, %q, %m)';
  const withQ = head + '  input %q: f32[batch, 2, seq, 4]\n';
  const cases: [string, string, number, number, RegExp][] = [
    ['an unknown op', head + '  %0: f32[batch, seq] = gelo(%x)\n}', 4, 25, /unknown op 'gelo' \(did you mean 'gelu'\?\)/],
    ['an unknown value', head + '  %0: f32[batch, seq] = exp(%y)\n}', 4, 29, /unknown value %y/],
    ['a redefined value', head + '  %x: f32[batch, seq] = exp(%x)\n}', 4, 3, /value %x is defined twice/],
    ['a float for an int attribute', head + '  %0: f32[batch, seq] = softmax(%x) {axis = 1.5}\n}', 4, 45, /attribute 'axis' must be an integer, found '1.5'/],
    ['an attribute the op lacks', head + '  %0: f32[batch, seq] = softmax(%x) {dim = 1}\n}', 4, 38, /op 'softmax' has no attribute 'dim' \(it has: axis\)/],
    ['an attribute given twice', head + '  %0: f32[batch, seq] = softmax(%x) {axis = 1, axis = 1}\n}', 4, 48, /given twice/],
    ['a bool attribute that is not a bool', head + '  %0: f32[batch] = reduce_sum(%x) {axes = [1], keepdims = yes}\n}', 4, 59, /'keepdims' must be true or false/],
    ['an unknown dtype', head + '  input %y: f33[2]\n}', 4, 13, /unknown dtype 'f33'/],
    ['a malformed dimension', head + '  input %y: f32[seq*]\n}', 4, 21, /expected a dimension/],
    ['an unterminated string', head + '  output y = %x loc("a.ptm:1:1)\n}', 4, 21, /unterminated string/],
    ['a stray character', head + '  %0: f32[batch, seq] = exp(%x) @\n}', 4, 33, /unexpected character "@"/],
    ['a missing closing brace', head, 4, 1, /found the end of the input/],
    ['text after the graph', head + '}\n}', 5, 1, /expected the end of the input after the graph/],
    ['an empty file', '', 1, 1, /expected 'graph', found the end of the input/],
    ['a bad loc line', head + '  output y = %x loc("a.ptm":x:1)\n}', 4, 29, /expected an integer for a line number/],
    ['an integer out of range', head + '  %0: f32[batch, seq] = softmax(%x) {axis = 99999999999999999999}\n}', 4, 45, /out of range/],
    ['a bad initializer', head + '  param %w: f32[2] = uniform(1.0)\n}', 4, 22, /unknown initializer 'uniform'/],
    ['a mask reading a non-operand', withQ + attn + ' {mask = %x[b, k], scale = 1.0}\n}', 5, 65, /the mask reads %x, which is not an operand of this op/],
    ['chained comparisons in a mask', withQ + attn + ' {mask = k < q < 3, scale = 1.0}\n}', 5, 71, /comparisons do not chain/],
    ['a mask nested too deep', withQ + attn + ` {mask = ${'('.repeat(5000)}q, scale = 1.0}\n}`, 5, 265, /nested more than 200 deep/],
  ];

  test.each(cases)('%s', (_, text, line, col, message) => {
    const d = syntaxError(text);
    expect(d.code).toBe('ir_syntax_error');
    expect(d.message).toMatch(message);
    expect(`${d.span.file}:${d.span.line}:${d.span.col}`).toBe(`bad.ir:${line}:${col}`);
  });

  test('any corruption of a valid text is read (and then verifies and prints) or is rejected with a diagnostic', () => {
    fc.assert(
      fc.property(fc.nat(GOLDEN.length - 1), fc.nat(40), fc.string({ maxLength: 3 }), (at, cut, insert) => {
        const text = GOLDEN.slice(0, at) + insert + GOLDEN.slice(at + cut);
        try {
          // What reads must also verify and print without throwing, valid or not.
          const g = readGraph(text);
          verifyGraph(g);
          printGraph(g);
        } catch (e) {
          expect(isPtmError(e)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});
