// decompose-high-level keeps the cpu reference numbers (f64, 1e-12), leaves no high-level op behind,
// and gives a graph the verifier accepts, for each high-level op, every attention mask form, T5's
// relative bias and masks over a cache length `dim(past)`.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Graph, MaskExpr, MaskVar } from '../../src/ir/index.js';
import { GraphBuilder, maskBin, maskConst, maskNot, maskRead, maskVar, opSpec, printGraph, readGraph } from '../../src/ir/index.js';
import { verifyGraph } from '../../src/ir/verify.js';
import { isPtmError } from '../../src/diagnostics/index.js';
import type { Tensor } from '../../src/runtime/index.js';
import { initParams, runGraph } from '../../src/runtime/index.js';
import { decomposeHighLevel } from '../../src/passes/decompose-high-level.js';
import {
  BIASES, BUCKET_CONFIGS, MASKS, RELATIVE_POSITIONS, attentionGraph, attentionInputs, bucketGraph, decodeGraph, decodeInputs,
  hfRelativePositionBucket, normalTensor, t5AttentionGraph, t5Bias,
} from './attention-cases.js';
import { tensor } from '../../src/runtime/index.js';

const TOLERANCE = 1e-12;

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

/** Decomposes `graph`, checks its structure, and compares both graphs on each set of inputs. */
function checkDecomposition(graph: Graph, inputSets: Record<string, Tensor>[]): Graph {
  const decomposed = decomposeHighLevel.run(graph, {}, {});
  expect(verifyGraph(decomposed)).toEqual([]);
  expect(decomposed.ops.filter((op) => opSpec(op.op)?.level !== 'primitive').map((op) => op.op)).toEqual([]);
  expect(decomposed.inputs).toEqual(graph.inputs);
  expect(decomposed.params).toEqual(graph.params);
  expect(decomposed.outputs).toEqual(graph.outputs);
  const text = printGraph(decomposed);
  expect(printGraph(readGraph(text))).toBe(text);
  const params = initParams(graph, 7);
  for (const inputs of inputSets) {
    const want = runGraph(graph, { inputs, params, precision: 'f64' }).outputs;
    const got = runGraph(decomposed, { inputs, params, precision: 'f64' }).outputs;
    for (const [name, t] of want) expect(maxAbsDiff(t, got.get(name)!), name).toBeLessThanOrEqual(TOLERANCE);
  }
  return decomposed;
}

describe('decompose-high-level: elementwise and normalization ops', () => {
  const loc = { file: 'model.ptm', line: 3, col: 5, offset: 40, end: 52 };
  const build = (make: (g: GraphBuilder, x: ReturnType<GraphBuilder['input']>) => void): Graph => {
    const g = new GraphBuilder('ops');
    g.symbol('batch');
    make(g, g.input('x', { dtype: 'f32', shape: ['batch', 3, 6] }));
    return g.finish();
  };
  const inputs = [{ x: normalTensor([2, 3, 6], 1) }, { x: normalTensor([1, 3, 6], 2) }];
  const cases: [string, (g: GraphBuilder, x: ReturnType<GraphBuilder['input']>) => void][] = [
    ['softmax over the last axis and a middle axis', (g, x) => {
      g.output('last', g.op('softmax', [x], { axis: -1 }, loc));
      g.output('middle', g.op('softmax', [x], { axis: 1 }, loc));
    }],
    ['layer_norm', (g, x) => {
      const w = g.param('ln.weight', { dtype: 'f32', shape: [6] }, { kind: 'normal', std: 1 });
      const bias = g.param('ln.bias', { dtype: 'f32', shape: [6] }, { kind: 'normal', std: 1 });
      g.output('y', g.op('layer_norm', [x, w, bias], { eps: 1e-5 }, loc));
    }],
    ['rms_norm', (g, x) => {
      const w = g.param('norm.weight', { dtype: 'f32', shape: [6] }, { kind: 'normal', std: 1 });
      g.output('y', g.op('rms_norm', [x, w], { eps: 1e-6 }, loc));
    }],
    ['gelu', (g, x) => g.output('y', g.op('gelu', [g.op('mul', [x, g.op('constant', [], { value: 3, dtype: 'f32' })])], {}, loc))],
    ['gelu_tanh', (g, x) => g.output('y', g.op('gelu_tanh', [g.op('mul', [x, g.op('constant', [], { value: 3, dtype: 'f32' })])], {}, loc))],
    ['silu', (g, x) => g.output('y', g.op('silu', [x], {}, loc))],
  ];
  it.each(cases)('%s', (_, make) => {
    const graph = build(make);
    const decomposed = checkDecomposition(graph, inputs);
    // Every op of an expansion points back at the op it replaced.
    const kept = new Set(graph.ops.filter((op) => opSpec(op.op)?.level === 'primitive').map((op) => op.result.id));
    for (const op of decomposed.ops) if (!kept.has(op.result.id)) expect(op.loc).toEqual(loc);
  });
});

describe('decompose-high-level: printed output', () => {
  it('expands softmax into max-subtract, exp, sum and div at the softmax line', () => {
    const g = new GraphBuilder('sm');
    g.symbol('batch');
    const x = g.input('x', { dtype: 'f32', shape: ['batch', 4] });
    g.output('y', g.op('softmax', [x], { axis: -1 }, { file: 'm.ptm', line: 2, col: 3, offset: 20, end: 30 }));
    expect(printGraph(decomposeHighLevel.run(g.finish(), {}, {}))).toBe([
      'graph sm [batch] {',
      '  input %x: f32[batch, 4]',
      '  %1: f32[batch, 1] = reduce_max(%x) {axes = [-1], keepdims = true} loc("m.ptm":2:3)',
      '  %2: f32[batch, 4] = sub(%x, %1) loc("m.ptm":2:3)',
      '  %3: f32[batch, 4] = exp(%2) loc("m.ptm":2:3)',
      '  %4: f32[batch, 1] = reduce_sum(%3) {axes = [-1], keepdims = true} loc("m.ptm":2:3)',
      '  %0: f32[batch, 4] = div(%3, %4) loc("m.ptm":2:3)',
      '  output y = %0',
      '}',
      '',
    ].join('\n'));
  });
});

describe('decompose-high-level: attention masks', () => {
  it.each(MASKS)('$name', ({ mask }) => {
    checkDecomposition(attentionGraph(mask), [attentionInputs(3, 5, 11), attentionInputs(2, 7, 12), attentionInputs(1, 1, 13)]);
  });

  it.each(BIASES)('$name', ({ mask, bias }) => {
    checkDecomposition(attentionGraph(mask, bias), [attentionInputs(3, 5, 14), attentionInputs(1, 1, 15)]);
  });

  it('gives 0 for a row with no visible key', () => {
    const graph = attentionGraph(MASKS.find((m) => m.name === 'fully masked rows')!.mask);
    const y = runGraph(decomposeHighLevel.run(graph, {}, {}), { inputs: attentionInputs(2, 4, 3), params: initParams(graph, 7), precision: 'f64' }).outputs.get('y')!;
    // batch 1 has n = 0 and query 0 never sees a key: those rows are all zeros, not NaN
    for (const [batch, query] of [[0, 0], [1, 0], [1, 2]] as const) {
      const row = Array.from(y.data.subarray((batch * 4 + query) * 8, (batch * 4 + query + 1) * 8));
      expect(row).toEqual(new Array(8).fill(0));
    }
  });

  it('reads a tensor with a symbolic trailing dimension at computed indices (strides known at run time)', () => {
    // Transformer-XL's relative table [b, h, seq, 2*seq+mlen-1] is read this way; here a [batch, seq] tensor.
    const graph = attentionGraph(maskRead(5, [maskVar('b'), maskBin('-', maskVar('k'), maskConst(0))]));
    checkDecomposition(graph, [attentionInputs(3, 5, 11), attentionInputs(2, 7, 12)]);
  });
});

// Random masks over (b, h, q, k), integer constants in -3..3 and reads of the rank tensor.
const VARS: MaskVar[] = ['b', 'h', 'q', 'k'];
const intExpr: fc.Memo<MaskExpr> = fc.memo((depth) =>
  depth <= 1
    ? fc.oneof(fc.constantFrom(...VARS).map(maskVar), fc.integer({ min: -3, max: 3 }).map(maskConst))
    : fc.oneof(
      intExpr(1),
      fc.tuple(fc.constantFrom('+', '-', '*', '/', '%') as fc.Arbitrary<'+' | '-' | '*' | '/' | '%'>, intExpr(depth - 1), intExpr(depth - 1)).map(([op, l, r]) => maskBin(op, l, r)),
      fc.constantFrom('q', 'k').map((v) => maskRead(5, [maskVar('b'), maskVar(v as MaskVar)])),
    ));
const boolExpr: fc.Memo<MaskExpr> = fc.memo((depth) =>
  fc.oneof(
    fc.tuple(fc.constantFrom('<', '<=', '>', '>=', '==', '!=') as fc.Arbitrary<'<' | '<=' | '>' | '>=' | '==' | '!='>, intExpr(2), intExpr(2)).map(([op, l, r]) => maskBin(op, l, r)),
    ...(depth > 1
      ? [
        fc.tuple(fc.constantFrom('&', '|') as fc.Arbitrary<'&' | '|'>, boolExpr(depth - 1), boolExpr(depth - 1)).map(([op, l, r]) => maskBin(op, l, r)),
        boolExpr(depth - 1).map(maskNot),
      ]
      : []),
  ));

describe('decompose-high-level: random masks', () => {
  it('matches the cpu attention kernel on random predicates', () => {
    const inputs = attentionInputs(2, 4, 5);
    fc.assert(fc.property(boolExpr(3), (mask) => {
      checkDecomposition(attentionGraph(mask), [inputs]);
    }), { numRuns: 60, seed: 20240601 });
  });
});

describe('decompose-high-level: T5 relative bias', () => {
  // Sequences of 1 to 160 tokens: relative distances cross every logarithmic bucket of (32, 128) and
  // reach past max_distance, where the last bucket caps them.
  const inputs = [[2, 1], [2, 9], [1, 20], [1, 70], [1, 160]].map(([batch, seq], i) => ({ x: normalTensor([batch!, seq!, 8], 40 + i) }));
  it.each([true, false])('bidirectional %s', (bidirectional) => {
    const decomposed = checkDecomposition(t5AttentionGraph(bidirectional), inputs);
    // the bias table is read by a gather at bucket * heads + h
    expect(decomposed.ops.some((op) => op.op === 'gather' && op.operands[0]!.type.dtype === 'f32')).toBe(true);
  });

  it('computes bucket indices equal to HF\'s _relative_position_bucket (float64 Math.log) for every relative position', () => {
    const rel = tensor('i32', [RELATIVE_POSITIONS.length], RELATIVE_POSITIONS);
    for (const [buckets, maxDistance] of BUCKET_CONFIGS) {
      for (const bidirectional of [true, false]) {
        const got = runGraph(bucketGraph(buckets, maxDistance, bidirectional), { inputs: { rel }, params: new Map() }).outputs.get('bucket')!;
        expect(got.shape).toEqual([1, 1, 1, RELATIVE_POSITIONS.length]);
        const want = RELATIVE_POSITIONS.map((r) => hfRelativePositionBucket(r, bidirectional, buckets, maxDistance));
        expect(Array.from(got.data), `${buckets} buckets, max_distance ${maxDistance}, bidirectional ${bidirectional}`).toEqual(want);
      }
    }
  });

  it('lowers a bucket to integer compares against the thresholds, never a float log', () => {
    // 8 buckets, max_distance 20, bidirectional: 4 per direction, distances 0 and 1 exact, threshold 7
    expect(printGraph(bucketGraph(8, 20, true))).toBe([
      'graph t5_buckets [n] {',
      '  input %rel: i32[n]',
      '  %0: i32[1, 1, 1, n] = reshape(%rel) {shape = [1, 1, 1, n]}',
      '  %1: i32[] = constant() {dtype = i32, value = 0.0}',
      '  %2: i32[1, 1, 1, n] = abs(%0)',
      '  %3: i32[] = constant() {dtype = i32, value = 2.0}',
      '  %4: i32[] = constant() {dtype = i32, value = 7.0}',
      '  %5: bool[1, 1, 1, n] = ge(%2, %4)',
      '  %6: i32[1, 1, 1, n] = cast(%5) {to = i32}',
      '  %7: i32[1, 1, 1, n] = add(%3, %6)',
      '  %8: bool[1, 1, 1, n] = lt(%2, %3)',
      '  %9: i32[1, 1, 1, n] = where(%8, %2, %7)',
      '  %10: bool[1, 1, 1, n] = gt(%0, %1)',
      '  %11: i32[] = constant() {dtype = i32, value = 4.0}',
      '  %12: i32[1, 1, 1, n] = where(%10, %11, %1)',
      '  %13: i32[1, 1, 1, n] = add(%9, %12)',
      '  output bucket = %13',
      '}',
      '',
    ].join('\n'));
  });

  it('rejects a bucket of a floating-point value and a bucket count with no logarithmic range, naming the op', () => {
    const loc = { file: 't5.ptm', line: 4, col: 9, offset: 60, end: 70 };
    const graph = (bias: MaskExpr): Graph => {
      const g = t5AttentionGraph(true);
      return { ...g, ops: g.ops.map((op) => (op.op === 'attention' ? { ...op, attrs: { ...op.attrs, bias }, loc } : op)) };
    };
    const floatRel = t5Bias(maskRead(3, [maskConst(0), maskVar('h')]), true);
    const noRange: MaskExpr = { kind: 't5_bucket', rel: maskBin('-', maskVar('k'), maskVar('q')), buckets: 32, maxDistance: 4, bidirectional: true };
    for (const [bias, code] of [[floatRel, 'export_unsupported'], [noRange, 'invalid_mask']] as const) {
      let error: unknown;
      try {
        decomposeHighLevel.run(graph(bias), {}, {});
      } catch (e) {
        error = e;
      }
      expect(isPtmError(error)).toBe(true);
      if (isPtmError(error)) {
        expect(error.diagnostics[0]!.code).toBe(code);
        expect(error.diagnostics[0]!.span).toEqual(loc);
      }
    }
  });
});

describe('decompose-high-level: decoding with a key/value cache', () => {
  // past = 0 (the first chunk), 1, a few, and 150 (the T5 bias of the oldest keys is capped)
  const cases = [[1, 0], [3, 0], [1, 1], [3, 5], [1, 37], [2, 150]] as const;
  it.each([false, true])('mask k <= q + dim(past), positions iota(seq, start past), T5 bias %s', (t5) => {
    const decomposed = checkDecomposition(decodeGraph(t5), cases.map(([seq, past], i) => decodeInputs(2, seq, past, 60 + i)));
    // dim(past) is a one-element iota starting at past
    expect(decomposed.ops.some((op) => op.op === 'iota' && op.attrs.length === 1 && op.attrs.start === 'past')).toBe(true);
  });
});
