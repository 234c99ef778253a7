// expand-fused turns each fused op back into graph ops: the result verifies, holds no fused op, keeps
// every id the rest of the graph uses, and the cpu gives the numbers of a hand-written unfused graph.
// Tolerance 1e-12 in f64: both sides run the same f64 kernels (layer_norm, matmul, gelu, ...) on the
// same values, so they differ at most by the association of a sum, never by an approximation.
import fc from 'fast-check';
import { describe, expect, it, test } from 'vitest';
import { exportOnnx } from '../../src/codegen/onnx/index.js';
import { PtmError } from '../../src/diagnostics/index.js';
import type { Span } from '../../src/diagnostics/span.js';
import { parseFused } from '../../src/ir/fused.js';
import type { Attrs, Graph, Value } from '../../src/ir/index.js';
import { GraphBuilder, evalDim, printGraph, readGraph, verifyGraph } from '../../src/ir/index.js';
import { FUSED_OPS, expandFused } from '../../src/passes/expand-fused.js';
import type { Tensor } from '../../src/runtime/index.js';
import { initParams, randomInputs, runGraph, tensor } from '../../src/runtime/index.js';
import { randomGraph } from '../ir/random-graph.js';
import { normalTensor } from './attention-cases.js';

const TOLERANCE = 1e-12;
const LOC: Span = { file: 'model.ptm', line: 7, col: 3, offset: 90, end: 120 };

function maxAbsDiff(a: Tensor, b: Tensor): number {
  expect(b.shape).toEqual(a.shape);
  let worst = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = Math.abs(a.data[i]! - b.data[i]!);
    // NaN anywhere is a failure, not a zero difference
    worst = Math.max(worst, Number.isNaN(d) ? Infinity : d);
  }
  return worst;
}

/** Bit-for-bit equality, NaN equal to NaN: the same graph ops on the same values. */
function identical(a: Tensor, b: Tensor): boolean {
  return a.dtype === b.dtype && a.shape.join() === b.shape.join() && a.data.length === b.data.length && Array.from(a.data).every((v, i) => Object.is(v, b.data[i]));
}

/** A fused op appended to a builder, its bodies (expr, x, epilogue) written as text: `(gelu (add $0 $1))`. */
function fused(g: GraphBuilder, op: string, operands: Value[], attrs: Record<string, string | number>): Value {
  const parsed: Attrs = {};
  for (const [k, v] of Object.entries(attrs)) parsed[k] = ['expr', 'x', 'epilogue'].includes(k) ? parseFused(String(v)) : v;
  return g.op(op, operands, parsed, LOC);
}

/** Expands `fusedGraph`, checks the result's structure, then compares it with `unfused` on the cpu in f64. */
function check(fusedGraph: Graph, unfused: Graph, inputs: Record<string, Tensor>): Graph {
  expect(verifyGraph(fusedGraph)).toEqual([]);
  const text = printGraph(fusedGraph);
  expect(printGraph(readGraph(text))).toBe(text);

  const expanded = expandFused.run(fusedGraph, {}, {});
  expect(verifyGraph(expanded)).toEqual([]);
  expect(expanded.ops.filter((op) => FUSED_OPS.has(op.op))).toEqual([]);
  expect(expanded.inputs).toEqual(fusedGraph.inputs);
  expect(expanded.params).toEqual(fusedGraph.params);
  expect(expanded.outputs).toEqual(fusedGraph.outputs);
  // Every fused op's result id is still defined, with its type, and the new ops point back at it.
  const resultIds = new Map(expanded.ops.map((op) => [op.result.id, op]));
  for (const op of fusedGraph.ops) expect(resultIds.get(op.result.id)?.result.type).toEqual(op.result.type);
  const kept = new Set(fusedGraph.ops.filter((op) => !FUSED_OPS.has(op.op)).map((op) => op.result.id));
  for (const op of expanded.ops) if (!kept.has(op.result.id)) expect(op.loc).toEqual(LOC);

  const params = new Map([...initParams(fusedGraph, 7), ...initParams(unfused, 7)]);
  const want = runGraph(unfused, { inputs, params, precision: 'f64' }).outputs;
  const got = runGraph(fusedGraph, { inputs, params, precision: 'f64' }).outputs;
  const again = runGraph(expanded, { inputs, params, precision: 'f64' }).outputs;
  expect([...got.keys()]).toEqual([...want.keys()]);
  for (const [name, t] of want) {
    expect(maxAbsDiff(t, got.get(name)!), name).toBeLessThanOrEqual(TOLERANCE);
    expect(identical(got.get(name)!, again.get(name)!), name).toBe(true);
  }
  return expanded;
}

/** Two graphs over the same inputs and params, one built with fused ops and one without. */
function pair(build: (g: GraphBuilder, fusedSide: boolean) => void): [Graph, Graph] {
  const make = (fusedSide: boolean): Graph => {
    const g = new GraphBuilder('pair');
    g.symbol('batch');
    build(g, fusedSide);
    return g.finish();
  };
  return [make(true), make(false)];
}

const f32 = (shape: (number | string)[]) => ({ dtype: 'f32' as const, shape });
const normal = { kind: 'normal' as const, std: 1 };

describe('expand-fused: each fused op equals its unfused graph', () => {
  it('fused_elementwise: gelu(x + bias), a cast of a comparison, and a bare operand', () => {
    const [withFused, without] = pair((g, fusedSide) => {
      const x = g.input('x', f32(['batch', 3, 6]));
      const bias = g.param('b', f32([6]), normal);
      if (fusedSide) {
        g.output('y', fused(g, 'fused_elementwise', [x, bias], { expr: '(gelu (add $0 $1))' }));
        g.output('positive', fused(g, 'fused_elementwise', [x], { expr: '(cast:f32 (gt $0 0.0:f32))' }));
        g.output('same', fused(g, 'fused_elementwise', [bias], { expr: '$0' }));
      } else {
        g.output('y', g.op('gelu', [g.op('add', [x, bias])]));
        g.output('positive', g.op('cast', [g.op('gt', [x, g.op('constant', [], { value: 0, dtype: 'f32' })])], { to: 'f32' }));
        g.output('same', bias);
      }
    });
    check(withFused, without, { x: normalTensor([2, 3, 6], 1) });
  });

  it('fused_elementwise: token embedding from 3 chunks plus position embedding by iota', () => {
    // wte [10, 6] in chunks of 4 rows (4, 4, 2); wpe [16, 6] read at positions 0..4
    const [withFused, without] = pair((g, fusedSide) => {
      const ids = g.input('ids', { dtype: 'i32', shape: ['batch', 5] });
      const wte = g.param('wte', f32([10, 6]), normal);
      const wpe = g.param('wpe', f32([16, 6]), normal);
      if (fusedSide) {
        const chunks = [[0, 4], [4, 8], [8, 10]].map(([start, end]) => g.op('slice', [wte], { axis: 0, start: start!, end: end!, step: 1 }));
        g.output('h', fused(g, 'fused_elementwise', [...chunks, ids, wpe], { expr: '(add (gather [$0, $1, $2] 4 $3 [batch, 5, 6]) (gather [$4] 16 iota [5, 6]))' }));
      } else {
        // a different route to the same rows: one gather on the whole table, a slice for the positions
        g.output('h', g.op('add', [g.op('gather', [wte, ids], { axis: 0 }), g.op('slice', [wpe], { axis: 0, start: 0, end: 5, step: 1 })]));
      }
    });
    const expanded = check(withFused, without, { ids: tensor('i32', [2, 5], [0, 3, 4, 7, 8, 9, 9, 1, 5, 2]) });
    expect(expanded.ops.map((op) => op.op)).toEqual(['slice', 'slice', 'slice', 'concat', 'gather', 'iota', 'gather', 'add']);
  });

  it('fused_elementwise: positions from a start (iota leaves, iota gather ids), and a body of an iota alone', () => {
    // positions batch .. batch+4 of wpe [16, 6]; angles (3 .. 7) * freq; the position row batch .. batch+4 as f32
    const [withFused, without] = pair((g, fusedSide) => {
      const x = g.input('x', f32(['batch', 5, 6]));
      const wpe = g.param('wpe', f32([16, 6]), normal);
      const freq = g.param('freq', f32([1, 6]), normal);
      if (fusedSide) {
        g.output('h', fused(g, 'fused_elementwise', [x, wpe, freq], { expr: '(add (add $0 (gather [$1] 16 (iota batch) [5, 6])) (sin (mul (cast:f32 (iota:i32 [5, 1] 0 3)) $2)))' }));
        g.output('p', fused(g, 'fused_elementwise', [], { expr: '(iota:f32 [1, 5] 1 batch)' }));
      } else {
        // another route to the same numbers: slices of longer iotas and of the table
        const positions = g.op('slice', [g.op('iota', [], { length: 8, dtype: 'i32' })], { axis: 0, start: 3, end: 8, step: 1 });
        const angles = g.op('sin', [g.op('mul', [g.op('cast', [g.op('reshape', [positions], { shape: [5, 1] })], { to: 'f32' }), freq])]);
        g.output('h', g.op('add', [g.op('add', [x, g.op('slice', [wpe], { axis: 0, start: 'batch', end: 'batch+5', step: 1 })]), angles]));
        g.output('p', g.op('reshape', [g.op('slice', [g.op('iota', [], { length: 'batch+5', dtype: 'f32' })], { axis: 0, start: 'batch', end: 'batch+5', step: 1 })], { shape: [1, 5] }));
      }
    });
    const expanded = check(withFused, without, { x: normalTensor([3, 5, 6], 8) });
    expect(expanded.ops.filter((op) => op.op === 'iota').map((op) => op.attrs.start)).toEqual(['batch', 3, 'batch']);
  });

  it.each(['none', 'layer_norm', 'rms_norm'])('fused_matmul with norm %s and a bias + gelu_tanh + residual epilogue', (norm) => {
    const [withFused, without] = pair((g, fusedSide) => {
      const x = g.input('x', f32(['batch', 3, 8]));
      const residual = g.input('residual', f32(['batch', 3, 5]));
      const w = g.param('fc.weight', f32([8, 5]), normal);
      const bias = g.param('fc.bias', f32([5]), normal);
      const nw = g.param('ln.weight', f32([8]), normal);
      const nb = g.param('ln.bias', f32([8]), normal);
      if (fusedSide) {
        // the norm parameters are operands 2 and 3 whether or not the norm reads them
        const [weight, normBias] = norm === 'none' ? [-1, -1] : norm === 'rms_norm' ? [2, -1] : [2, 3];
        g.output('y', fused(g, 'fused_matmul', [x, w, nw, nb, bias, residual], { norm, eps: 1e-5, norm_weight: weight!, norm_bias: normBias!, epilogue: '(add (gelu_tanh (add acc $4)) $5)' }));
      } else {
        const a = norm === 'none' ? x : norm === 'rms_norm' ? g.op('rms_norm', [x, nw], { eps: 1e-5 }) : g.op('layer_norm', [x, nw, nb], { eps: 1e-5 });
        g.output('y', g.op('add', [g.op('gelu_tanh', [g.op('add', [g.op('matmul', [a, w]), bias])]), residual]));
      }
    });
    check(withFused, without, { x: normalTensor([2, 3, 8], 2), residual: normalTensor([2, 3, 5], 3) });
  });

  it('fused_row softmax: a scaled, masked prologue and a scaling epilogue', () => {
    const [withFused, without] = pair((g, fusedSide) => {
      const scores = g.input('scores', f32(['batch', 4, 4]));
      const mask = g.input('mask', { dtype: 'bool', shape: [4, 4] });
      const gain = g.param('gain', f32([4]), normal);
      if (fusedSide) {
        g.output('p', fused(g, 'fused_row', [scores, mask, gain], { kind: 'softmax', eps: 0, weight: -1, bias: -1, x: '(where $1 (mul $0 0.125:f32) -inf:f32)', epilogue: '(mul acc $2)' }));
      } else {
        const c = (value: number) => g.op('constant', [], { value, dtype: 'f32' });
        const x = g.op('where', [mask, g.op('mul', [scores, c(0.125)]), c(-Infinity)]);
        g.output('p', g.op('mul', [g.op('softmax', [x], { axis: -1 }), gain]));
      }
    });
    const causal = Array.from({ length: 16 }, (_, i) => Math.floor(i / 4) >= i % 4);
    check(withFused, without, { scores: normalTensor([2, 4, 4], 4), mask: tensor('bool', [4, 4], causal) });
  });

  it.each(['layer_norm', 'rms_norm'])('fused_row %s of a residual sum, epilogue relu', (kind) => {
    const [withFused, without] = pair((g, fusedSide) => {
      const x = g.input('x', f32(['batch', 3, 6]));
      const residual = g.input('residual', f32(['batch', 3, 6]));
      const w = g.param('norm.weight', f32([6]), normal);
      const b = g.param('norm.bias', f32([6]), normal);
      if (fusedSide) {
        g.output('y', fused(g, 'fused_row', [x, residual, w, b], { kind, eps: 1e-6, weight: 2, bias: kind === 'layer_norm' ? 3 : -1, x: '(add $0 $1)', epilogue: '(relu acc)' }));
      } else {
        const sum = g.op('add', [x, residual]);
        g.output('y', g.op('relu', [kind === 'layer_norm' ? g.op('layer_norm', [sum, w, b], { eps: 1e-6 }) : g.op('rms_norm', [sum, w], { eps: 1e-6 })]));
      }
    });
    check(withFused, without, { x: normalTensor([2, 3, 6], 5), residual: normalTensor([2, 3, 6], 6) });
  });

  it('a chain of fused ops: later uses and outputs still find each result', () => {
    const [withFused, without] = pair((g, fusedSide) => {
      const x = g.input('x', f32(['batch', 3, 8]));
      const w = g.param('w', f32([8, 8]), normal);
      const nw = g.param('ln.weight', f32([8]), normal);
      const nb = g.param('ln.bias', f32([8]), normal);
      if (fusedSide) {
        const h = fused(g, 'fused_matmul', [x, w, nw, nb], { norm: 'layer_norm', eps: 1e-5, norm_weight: 2, norm_bias: 3, epilogue: '(silu acc)' });
        const y = fused(g, 'fused_row', [h, x, nw], { kind: 'rms_norm', eps: 1e-6, weight: 2, bias: -1, x: '(add $0 $1)', epilogue: 'acc' });
        g.output('h', h);
        g.output('y', fused(g, 'fused_elementwise', [y, h], { expr: '(sub $0 (exp (neg (abs $1))))' }));
      } else {
        const h = g.op('silu', [g.op('matmul', [g.op('layer_norm', [x, nw, nb], { eps: 1e-5 }), w])]);
        const y = g.op('rms_norm', [g.op('add', [h, x]), nw], { eps: 1e-6 });
        g.output('h', h);
        g.output('y', g.op('sub', [y, g.op('exp', [g.op('neg', [g.op('abs', [h])])])]));
      }
    });
    check(withFused, without, { x: normalTensor([1, 3, 8], 7) });
  });

  it('a fused body that reads a missing operand is ir_invalid at the op', () => {
    const g = new GraphBuilder('bad');
    const x = g.input('x', f32([2]));
    fused(g, 'fused_elementwise', [x], { expr: '(exp $0)' });
    const graph = g.finish();
    graph.ops[0]!.attrs.expr = parseFused('(add $0 $3)');
    let error: unknown;
    try {
      expandFused.run(graph, {}, {});
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PtmError);
    expect((error as PtmError).diagnostics[0]).toMatchObject({ code: 'ir_invalid', span: LOC });
  });

  it('exportOnnx accepts fused ops: the model of the expanded graph, byte for byte', () => {
    const g = new GraphBuilder('export');
    const x = g.input('x', f32([2, 4]));
    const w = g.param('w', f32([4, 3]), normal);
    g.output('y', fused(g, 'fused_matmul', [x, w, w], { norm: 'none', eps: 0, norm_weight: -1, norm_bias: -1, epilogue: '(tanh acc)' }));
    const graph = g.finish();
    const params = initParams(graph, 1);
    expect(exportOnnx(graph, params).model).toEqual(exportOnnx(expandFused.run(graph, {}, {}), params).model);
  });
});

// runGraph expands fused ops itself, so this property guards the expansion across random bodies (it
// verifies, keeps ids and outputs, runs without internal errors, deterministically); the numbers are
// held to independently written unfused graphs in the cases above.
test('random graphs with fused ops give the same numbers before and after expand-fused (f64)', () => {
  let compared = 0;
  fc.assert(
    fc.property(fc.gen(), (gen) => {
      const g = randomGraph(gen);
      if (!g.ops.some((op) => FUSED_OPS.has(op.op))) return;
      const symbols = new Map(g.symbols.map((s) => [s, gen(fc.integer, { min: 1, max: 3 })]));
      const values = [...g.inputs.map((i) => i.value), ...g.params.map((p) => p.value), ...g.ops.map((o) => o.result)];
      if (values.some((v) => v.type.shape.reduce<number>((n, d) => n * Math.max(0, evalDim(d, symbols)), 1) > 20_000)) return;
      const expanded = expandFused.run(g, {}, {});
      expect(verifyGraph(expanded)).toEqual([]);
      expect(expanded.ops.filter((op) => FUSED_OPS.has(op.op))).toEqual([]);
      expect(expanded.outputs).toEqual(g.outputs);
      let before: Map<string, Tensor>, inputs: Record<string, Tensor>, params: Map<string, Tensor>;
      try {
        // inputs drawn for the expanded graph, whose plain gathers bound the ids to their tables
        inputs = randomInputs(expanded, 1, symbols);
        params = initParams(g, 2, symbols);
        before = runGraph(g, { inputs, params, precision: 'f64', symbols }).outputs;
      } catch (e) {
        if (!(e instanceof PtmError)) throw e;
        expect(['input_mismatch', 'invalid_mask'], e.message).toContain(e.diagnostics[0]!.code);
        return;
      }
      const after = runGraph(expanded, { inputs, params, precision: 'f64', symbols }).outputs;
      for (const [name, t] of before) expect(identical(t, after.get(name)!), name).toBe(true);
      compared++;
    }),
    { numRuns: 300, endOnFailure: true },
  );
  expect(compared).toBeGreaterThan(40);
});
