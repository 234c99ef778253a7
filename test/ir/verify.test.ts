// The verifier: valid graphs give no diagnostics; each kind of invalid graph gives an ir_invalid
// diagnostic at the offending op's loc that names the op. Cases are IR text where the text can
// express the fault (`// error:` marks the line), else a built graph with one thing broken.
import { describe, expect, test } from 'vitest';
import type { Span } from '../../src/diagnostics/span.js';
import type { Diagnostic } from '../../src/diagnostics/diagnostic.js';
import { isPtmError } from '../../src/diagnostics/diagnostic.js';
import type { Graph } from '../../src/ir/index.js';
import { GraphBuilder, assertValid, maskRead, maskVar, printOp, readGraph, verifyGraph } from '../../src/ir/index.js';

/** Every `// error: text` line must get exactly one diagnostic, at the loc written on that line. */
function expectErrors(text: string): void {
  const expected = text.split('\n').flatMap((line) => {
    const m = /loc\("m\.ptm":(\d+):\d+\).*\/\/ error: (.*)$/.exec(line);
    return m ? [{ line: Number(m[1]), message: m[2]! }] : [];
  });
  const got = verifyGraph(readGraph(text, 'case.ir'));
  expect(got.map((d) => `${d.code} ${d.span.file}:${d.span.line}`)).toEqual(expected.map((e) => `ir_invalid m.ptm:${e.line}`));
  got.forEach((d, i) => expect(d.message).toContain(expected[i]!.message));
}

describe('verifyGraph on IR text', () => {
  const head = [
    'graph G [batch, seq] {',
    '  input %x: f32[batch, seq]',
    '  input %m: bool[batch, seq]',
    '  input %q: f32[batch, 2, seq, 4]',
  ].join('\n');

  test('a valid graph has no diagnostics', () => {
    expectErrors(`${head}\n  %0: f32[batch, seq] = exp(%x)\n  output y = %0\n}`);
  });

  test.each([
    ['a wrong result shape', '%0: f32[batch, 3] = exp(%x)', 'the result is recorded as f32[batch, 3] but the op gives f32[batch, seq]'],
    ['a wrong result dtype', '%0: f16[batch, seq] = exp(%x)', 'but the op gives f32[batch, seq]'],
    ['a wrong result rank', '%0: f32[batch, seq, 1] = softmax(%x) {axis = 1}', 'but the op gives f32[batch, seq]'],
    ['an undeclared symbol', '%0: i32[heads] = iota() {dtype = i32, length = heads}', "symbol 'heads' is not declared"],
    ['a missing attribute', '%0: f32[batch, seq] = softmax(%x)', "softmax: missing attribute 'axis'"],
    ['a wrong operand count', '%0: f32[batch, seq] = add(%x)', 'add takes 2 operand(s), got 1'],
    ['operands that do not broadcast', '%0: f32[batch, seq] = add(%x, %q)', 'do not broadcast'],
    ['an operand of the wrong dtype', '%0: f32[batch, seq] = gather(%x, %x) {axis = 0}', 'indices must be i32 or i64'],
    ['a mask reading the query', '%0: f32[batch, 2, seq, 4] = attention(%q, %q, %q, %m) {mask = %q[b, h, q, k], scale = 1.0}', 'the mask reads operand 0'],
    ['a mask read with too few indices', '%0: f32[batch, 2, seq, 4] = attention(%q, %q, %q, %m) {mask = %m[b], scale = 1.0}', 'the mask reads %m with 1 indices, but it has rank 2'],
  ])('%s', (_, line, message) => {
    expectErrors(`${head}\n  ${line} loc("m.ptm":5:3)  // error: ${message}\n  output y = %x\n}`);
  });

  test('output names must be unique', () => {
    expectErrors(`${head}\n  output y = %x\n  output y = %m loc("m.ptm":6:3)  // error: output y: the name 'y' is used twice\n}`);
  });

  test('the message names the op as printOp prints it', () => {
    const g = readGraph(`${head}\n  %0: f32[batch] = exp(%x) loc("m.ptm":5:3)\n}`);
    expect(verifyGraph(g)[0]!.message).toMatch(/^%0: f32\[batch\] = exp\(%x\): /);
  });
});

describe('verifyGraph on broken built graphs', () => {
  const at = (line: number): Span => ({ file: 'm.ptm', line, col: 5, offset: 0, end: 0 });

  /** %x -> exp -> softmax -> attention(q, q, q, %m) -> output; op i has loc line 10 + i. */
  function base(): Graph {
    const b = new GraphBuilder('G');
    b.symbol('seq');
    const x = b.input('x', { dtype: 'f32', shape: [1, 2, 'seq', 4] }, at(1));
    const m = b.input('m', { dtype: 'bool', shape: ['seq'] }, at(2));
    b.param('w', { dtype: 'f32', shape: [4] }, { kind: 'ones' }, at(3));
    const e = b.op('exp', [x], {}, at(10));
    const s = b.op('softmax', [e], { axis: -1 }, at(11));
    const a = b.op('attention', [s, s, s, m], { scale: 0.5, mask: maskRead(3, [maskVar('k')]) }, at(12));
    b.output('y', a, at(20));
    return b.finish();
  }

  function only(g: Graph): Diagnostic {
    const ds = verifyGraph(g);
    expect(ds).toHaveLength(1);
    expect(ds[0]!.code).toBe('ir_invalid');
    return ds[0]!;
  }

  test('the base graph is valid', () => {
    expect(verifyGraph(base())).toEqual([]);
    expect(() => assertValid(base())).not.toThrow();
  });

  test.each<[string, (g: Graph) => void, number, RegExp]>([
    ['an unknown op', (g) => { g.ops[0]!.op = 'frobnicate'; }, 10, /unknown op 'frobnicate'/],
    ['a use before the definition', (g) => { g.ops.splice(0, 2, g.ops[1]!, g.ops[0]!); }, 11, /%0 is used before it is defined/],
    ['a duplicate id', (g) => { g.ops[1]!.result.id = '%0'; g.ops[2]!.operands = [g.ops[0]!.result, g.ops[0]!.result, g.ops[0]!.result, g.inputs[1]!.value]; }, 11, /%0 is defined twice/],
    ['a non-integer int attribute', (g) => { g.ops[1]!.attrs.axis = 1.5; }, 11, /attribute 'axis' must be int/],
    ['an unknown attribute', (g) => { g.ops[1]!.attrs.dim = 1; }, 11, /unknown attribute 'dim'/],
    ['an undeclared symbol', (g) => { g.symbols = []; }, 1, /symbol 'seq' is not declared/],
    ['a mask reading operand 7', (g) => { g.ops[2]!.attrs.mask = maskRead(7, [maskVar('k')]); }, 12, /the mask reads operand 7, but only operands 3 to 3/],
    ['a mask constant that is not an integer', (g) => { g.ops[2]!.attrs.mask = { kind: 'const', value: 0.5 }; }, 12, /mask constant 0.5 is not an integer/],
    ['an operand whose type differs from its definition', (g) => { g.ops[1]!.operands = [{ id: '%0', type: { dtype: 'f16', shape: [1, 2, 'seq', 4] } }]; }, 11, /%0 is used as f16\[1, 2, seq, 4\] but defined as f32/],
    ['an output of an undefined value', (g) => { g.outputs[0]!.value = { id: '%nope', type: { dtype: 'f32', shape: [] } }; }, 20, /output y: %nope is used before it is defined/],
    ['an empty param name', (g) => { g.params[0]!.name = ''; }, 3, /param %w: the name is empty/],
    ['a duplicate param name', (g) => { g.params.push({ ...g.params[0]!, value: { id: '%w2', type: { dtype: 'f32', shape: [4] } }, loc: at(4) }); }, 4, /the name 'w' is used twice/],
    ['a bad initializer', (g) => { g.params[0]!.init = { kind: 'normal', std: -1 }; }, 3, /invalid initializer/],
    ['a non-canonical dimension', (g) => { g.inputs[1]!.value.type.shape = ['1*seq']; g.ops[2]!.operands[3] = g.inputs[1]!.value; }, 2, /dimension '1\*seq' is not in canonical form \(write seq\)/],
    ['a value id the text cannot spell', (g) => { g.params[0]!.value.id = '%my w'; }, 3, /'%my w' is not a valid value id/],
    ['a NaN constant', (g) => { g.ops.push({ op: 'constant', result: { id: '%9', type: { dtype: 'f32', shape: [] } }, operands: [], attrs: { value: NaN, dtype: 'f32' }, loc: at(13) }); }, 13, /NaN is not a valid constant/],
  ])('%s', (_, breakIt, line, message) => {
    const g = base();
    breakIt(g);
    const d = only(g);
    expect(d.span.line).toBe(line);
    expect(d.message).toMatch(message);
  });

  test('diagnostics on ops name the op and point at its loc', () => {
    const g = base();
    g.ops[1]!.result.type = { dtype: 'f32', shape: [2] };
    const [d, ...rest] = verifyGraph(g);
    expect(d!.span).toEqual(at(11));
    expect(d!.message.startsWith(`${printOp(g.ops[1]!)}: `)).toBe(true);
    // The bad type then flows into the next op, which is reported too.
    expect(rest.map((r) => r.message)).toEqual([expect.stringMatching(/^%2: .* = attention\(%1, .*: query must be \[batch, heads, seq, head_dim\], got \[2\]$/)]);
  });

  test('assertValid throws a PtmError carrying every diagnostic', () => {
    const g = base();
    g.ops[0]!.op = 'frobnicate';
    g.outputs.push({ ...g.outputs[0]! });
    try {
      assertValid(g);
      expect.unreachable();
    } catch (e) {
      expect(isPtmError(e)).toBe(true);
      if (isPtmError(e)) expect(e.diagnostics.map((d) => d.span.line)).toEqual([10, 20]);
    }
  });
});
