// Exported models run in onnxruntime (CPU) and agree with ptm's cpu runtime, one op family per model,
// attention with every mask form, T5's relative bias and a key/value cache, symbolic batch/seq/past at
// several sizes, and weights as external data.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import type { Graph, Value } from '../../src/ir/index.js';
import { GraphBuilder, maskBin, maskVar } from '../../src/ir/index.js';
import { isPtmError } from '../../src/diagnostics/index.js';
import type { Tensor } from '../../src/runtime/index.js';
import { initParams, runGraph, tensor } from '../../src/runtime/index.js';
import { exportOnnx, writeOnnx } from '../../src/codegen/onnx/index.js';
import type { OnnxExportOptions } from '../../src/codegen/onnx/index.js';
import {
  BIASES, BUCKET_CONFIGS, MASKS, RELATIVE_POSITIONS, attentionGraph, attentionInputs, bucketGraph, decodeGraph, decodeInputs,
  hfRelativePositionBucket, normalTensor, random, t5AttentionGraph,
} from '../passes/attention-cases.js';

// Both sides compute in f32 on O(1) values; they differ only in summation order, FMA use and
// onnxruntime's vectorized exp/erf/tanh (a few f32 ulps, ~1e-7 each, over sums of at most a few
// dozen terms), while ptm's cpu kernels accumulate matmuls, reductions and attention in f64. 1e-5
// leaves two orders of magnitude of headroom and still catches any wrong op, axis or mask.
const TOLERANCE = 1e-5;
const SEED = 3;

const ORT_TYPES = { f32: 'float32', f16: 'float32', bf16: 'float32', f64: 'float64', i32: 'int32', i64: 'int64', bool: 'bool' } as const;

function toOrt(t: Tensor): ort.Tensor {
  const type = ORT_TYPES[t.dtype];
  const data = type === 'float32' ? Float32Array.from(t.data) : type === 'float64' ? Float64Array.from(t.data)
    : type === 'int32' ? Int32Array.from(t.data) : type === 'int64' ? BigInt64Array.from(t.data, (v) => BigInt(v)) : Uint8Array.from(t.data);
  return new ort.Tensor(type, data, t.shape);
}

function compare(name: string, want: Tensor, got: ort.Tensor, tolerance = TOLERANCE): void {
  expect(got.type, name).toBe(ORT_TYPES[want.dtype]);
  expect([...got.dims], name).toEqual(want.shape);
  const values = Array.from(got.data as ArrayLike<number | bigint>, Number);
  if (want.dtype === 'f32' || want.dtype === 'f64') {
    let worst = 0;
    values.forEach((v, i) => {
      const w = want.data[i]!;
      worst = Math.max(worst, v === w ? 0 : Number.isNaN(v - w) ? Infinity : Math.abs(v - w));
    });
    expect(worst, name).toBeLessThanOrEqual(tolerance);
  } else {
    expect(values, name).toEqual(Array.from(want.data));
  }
}

const shapes = (inputs: Record<string, Tensor>): string => {
  const [name, t] = Object.entries(inputs)[0]!;
  return `${name}[${t.shape.join(', ')}]${Object.keys(inputs).length > 1 ? ', ...' : ''}`;
};

/** Exports `graph` once, opens one session for it, and checks each input set against the cpu runtime. */
function describeModel(name: string, graph: Graph, inputSets: Record<string, Tensor>[], options: OnnxExportOptions = {}, tolerance = TOLERANCE): void {
  describe(name, () => {
    const params = initParams(graph, SEED);
    let session: ort.InferenceSession;
    beforeAll(async () => { session = await ort.InferenceSession.create(exportOnnx(graph, params, options).model); });
    it.each(inputSets.map((inputs) => [shapes(inputs), inputs] as const))('%s', async (_, inputs) => {
      const want = runGraph(graph, { inputs, params, precision: 'f32' }).outputs;
      const got = await session.run(Object.fromEntries(Object.entries(inputs).map(([n, t]) => [n, toOrt(t)])));
      expect(Object.keys(got).sort()).toEqual([...want.keys()].sort());
      for (const [out, t] of want) compare(out, t, got[out]!, tolerance);
    });
  });
}

type G = GraphBuilder;
const f32 = (g: G, value: number): Value => g.op('constant', [], { value, dtype: 'f32' });
const ints = (shape: number[], seed: number, lo: number, hi: number, dtype: 'i32' | 'i64' = 'i32'): Tensor => {
  const next = random(seed);
  return tensor(dtype, shape, Array.from({ length: shape.reduce((a, c) => a * c, 1) }, () => lo + Math.floor(next() * (hi - lo + 1))));
};

function build(name: string, make: (g: G) => void): Graph {
  const g = new GraphBuilder(name);
  g.symbol('batch');
  g.symbol('seq');
  make(g);
  return g.finish();
}

describeModel('unary ops', build('unary', (g) => {
  const x = g.input('x', { dtype: 'f32', shape: ['batch', 5] });
  const pos = g.op('add', [g.op('abs', [x]), f32(g, 0.5)]);
  for (const op of ['exp', 'tanh', 'erf', 'sigmoid', 'neg', 'abs', 'relu']) g.output(op, g.op(op, [x]));
  for (const op of ['log', 'sqrt', 'rsqrt']) g.output(op, g.op(op, [pos]));
}), [{ x: normalTensor([3, 5], 1) }, { x: normalTensor([1, 5], 2) }]);

describeModel('binary arithmetic, f32 and i32', build('binary', (g) => {
  const x = g.input('x', { dtype: 'f32', shape: ['batch', 4] });
  const y = g.param('y', { dtype: 'f32', shape: [4] }, { kind: 'normal', std: 1 });
  const pos = (v: Value): Value => g.op('add', [g.op('abs', [v]), f32(g, 0.5)]);
  for (const op of ['add', 'sub', 'mul', 'max', 'min']) g.output(op, g.op(op, [x, y]));
  g.output('div', g.op('div', [x, pos(y)]));
  g.output('pow', g.op('pow', [pos(x), y]));
  const i = g.input('i', { dtype: 'i32', shape: ['batch', 4] });
  const j = g.input('j', { dtype: 'i32', shape: [4] });
  for (const op of ['add', 'sub', 'mul', 'div', 'max', 'min']) g.output(`int_${op}`, g.op(op, [i, j]));
  g.output('int_neg_abs', g.op('abs', [g.op('neg', [i])]));
}), [
  { x: normalTensor([2, 4], 3), i: ints([2, 4], 4, -9, 9), j: tensor('i32', [4], [3, -2, 5, -4]) },
  { x: normalTensor([1, 4], 5), i: ints([1, 4], 6, -9, 9), j: tensor('i32', [4], [1, 7, -1, 2]) },
]);

describeModel('comparisons, logic, where and cast', build('logic', (g) => {
  const x = g.input('x', { dtype: 'f32', shape: ['batch', 4] });
  const y = g.input('y', { dtype: 'f32', shape: ['batch', 4] });
  const i = g.input('i', { dtype: 'i32', shape: ['batch', 4] });
  const j = g.input('j', { dtype: 'i32', shape: ['batch', 4] });
  for (const op of ['lt', 'le', 'gt', 'ge', 'eq', 'ne']) {
    g.output(op, g.op(op, [x, y]));
    g.output(`int_${op}`, g.op(op, [i, j]));
  }
  const p = g.op('lt', [x, y]), q = g.op('le', [i, j]);
  g.output('and', g.op('and', [p, q]));
  g.output('or', g.op('or', [p, q]));
  g.output('not', g.op('not', [p]));
  g.output('bool_eq', g.op('eq', [p, q]));
  g.output('where', g.op('where', [p, x, y]));
  g.output('to_i32', g.op('cast', [g.op('mul', [x, f32(g, 3)])], { to: 'i32' }));
  g.output('to_f32', g.op('cast', [i], { to: 'f32' }));
  g.output('bool_to_f32', g.op('cast', [p], { to: 'f32' }));
  g.output('to_bool', g.op('cast', [i], { to: 'bool' }));
}), [
  { x: tensor('f32', [2, 4], [0, 1, -2, 3.5, 1, 1, -1, 0.25]), y: tensor('f32', [2, 4], [1, 1, -3, 2, 0, 1, 2, 0.25]), i: ints([2, 4], 7, -2, 2), j: ints([2, 4], 8, -2, 2) },
]);

describeModel('constants, iota and i64', build('iota', (g) => {
  const ids = g.input('ids', { dtype: 'i64', shape: ['batch', 'seq'] });
  g.output('iota_i32', g.op('iota', [], { length: 5, dtype: 'i32' }));
  g.output('iota_seq', g.op('iota', [], { length: 'seq', dtype: 'f32' }));
  g.output('iota_i64', g.op('iota', [], { length: 'seq', dtype: 'i64' }));
  const shifted = g.op('add', [ids, g.op('constant', [], { value: 7, dtype: 'i64' })]);
  g.output('shifted', shifted);
  // an input and a twice-used value as outputs become Identity nodes
  g.output('ids_again', ids);
  g.output('shifted_again', shifted);
  g.output('neg_inf', g.op('constant', [], { value: -Infinity, dtype: 'f32' }));
  g.output('true', g.op('constant', [], { value: 1, dtype: 'bool' }));
}), [{ ids: ints([2, 3], 9, -5, 5, 'i64') }, { ids: ints([1, 6], 10, 0, 100, 'i64') }]);

describeModel('reshape, transpose, slice, concat, gather with symbolic dims', build('shapes', (g) => {
  const x = g.input('x', { dtype: 'f32', shape: ['batch', 'seq', 4] });
  const ids = g.input('ids', { dtype: 'i32', shape: ['batch', 'seq'] });
  const table = g.param('embed.weight', { dtype: 'f32', shape: [10, 4] }, { kind: 'normal', std: 1 });
  g.output('flat', g.op('reshape', [x], { shape: ['batch*seq', 4] }));
  g.output('wide', g.op('reshape', [x], { shape: ['batch', '4*seq'] }));
  g.output('transposed', g.op('transpose', [x], { perm: [2, 0, 1] }));
  g.output('tail', g.op('slice', [x], { axis: 1, start: 1, end: 'seq', step: 1 }));
  g.output('head', g.op('slice', [x], { axis: -2, start: 0, end: 'seq-1', step: 1 }));
  g.output('even', g.op('slice', [x], { axis: 2, start: 0, end: 4, step: 2 }));
  g.output('doubled', g.op('concat', [x, x], { axis: 1 }));
  g.output('embedded', g.op('gather', [table, ids], { axis: 0 }));
  g.output('picked', g.op('gather', [x, g.op('iota', [], { length: 2, dtype: 'i32' })], { axis: 2 }));
}), [
  { x: normalTensor([2, 3, 4], 11), ids: ints([2, 3], 12, 0, 9) },
  { x: normalTensor([1, 5, 4], 13), ids: ints([1, 5], 14, 0, 9) },
]);

describeModel('reductions and matmul', build('reduce', (g) => {
  const x = g.input('x', { dtype: 'f32', shape: ['batch', 3, 4] });
  const i = g.input('i', { dtype: 'i32', shape: ['batch', 3] });
  const w = g.param('w', { dtype: 'f32', shape: [4, 5] }, { kind: 'normal', std: 1 });
  g.output('sum_last', g.op('reduce_sum', [x], { axes: [-1], keepdims: true }));
  g.output('mean_12', g.op('reduce_mean', [x], { axes: [1, 2], keepdims: false }));
  g.output('max_0', g.op('reduce_max', [x], { axes: [0], keepdims: true }));
  g.output('no_axes', g.op('reduce_sum', [x], { axes: [], keepdims: false }));
  g.output('int_sum', g.op('reduce_sum', [i], { axes: [1], keepdims: false }));
  g.output('project', g.op('matmul', [x, w]));
  g.output('gram', g.op('matmul', [x, g.op('transpose', [x], { perm: [0, 2, 1] })]));
}), [{ x: normalTensor([2, 3, 4], 15), i: ints([2, 3], 16, -5, 5) }, { x: normalTensor([1, 3, 4], 17), i: ints([1, 3], 18, -5, 5) }]);

const highLevel = (name: string): Graph => build(name, (g) => {
  const x = g.input('x', { dtype: 'f32', shape: ['batch', 'seq', 6] });
  const w = g.param('norm.weight', { dtype: 'f32', shape: [6] }, { kind: 'normal', std: 1 });
  const bias = g.param('norm.bias', { dtype: 'f32', shape: [6] }, { kind: 'normal', std: 1 });
  g.output('softmax', g.op('softmax', [x], { axis: -1 }));
  g.output('softmax_seq', g.op('softmax', [x], { axis: 1 }));
  g.output('layer_norm', g.op('layer_norm', [x, w, bias], { eps: 1e-5 }));
  g.output('rms_norm', g.op('rms_norm', [x, w], { eps: 1e-6 }));
  for (const op of ['gelu', 'gelu_tanh', 'silu']) g.output(op, g.op(op, [g.op('mul', [x, f32(g, 2)])]));
});
describeModel('softmax, norms, GELU and SiLU', highLevel('high_level'), [{ x: normalTensor([2, 3, 6], 19) }, { x: normalTensor([1, 1, 6], 20) }]);
describeModel('opset 18 (reduction axes as inputs)', highLevel('opset18'), [{ x: normalTensor([2, 4, 6], 21) }], { opset: 18 });

describe('attention masks', () => {
  for (const { name, mask } of MASKS) {
    describeModel(name, attentionGraph(mask), [attentionInputs(3, 5, 22), attentionInputs(2, 7, 23), attentionInputs(1, 1, 24)]);
  }
  for (const { name, mask, bias } of BIASES) {
    describeModel(name, attentionGraph(mask, bias), [attentionInputs(3, 5, 25), attentionInputs(1, 1, 26)]);
  }
});

describeModel('iota with a start, sin and cos', build('iota_start', (g) => {
  g.symbol('past');
  // x binds seq and past as whole dimensions, the way a cache input does
  g.input('x', { dtype: 'f32', shape: ['seq', 'past'] });
  g.output('positions', g.op('iota', [], { length: 'seq', start: 'past', dtype: 'i32' }));
  g.output('positions_i64', g.op('iota', [], { length: 'seq', start: 'past', dtype: 'i64' }));
  g.output('shifted', g.op('iota', [], { length: 3, start: 'past+seq-2', dtype: 'i32' }));
  g.output('constant_start', g.op('iota', [], { length: 4, start: 5, dtype: 'f32' }));
  // sinusoidal angles of the positions (values up to ~40 rad: f32 sin/cos stay within a few 1e-6)
  const angles = g.op('mul', [g.op('iota', [], { length: 'seq', start: 'past', dtype: 'f32' }), f32(g, 0.37)]);
  g.output('sin', g.op('sin', [angles]));
  g.output('cos', g.op('cos', [angles]));
}), [{ x: normalTensor([3, 0], 26) }, { x: normalTensor([1, 7], 27) }, { x: normalTensor([4, 100], 28) }]);

describe('T5 relative attention bias', () => {
  // 1 to 160 tokens: distances cross every logarithmic bucket of (32, 128) and pass max_distance.
  const inputs = [[2, 1], [2, 9], [1, 40], [1, 160]].map(([batch, seq], i) => ({ x: normalTensor([batch!, seq!, 8], 29 + i) }));
  // T5 does not scale its scores, so here they reach |s| ~ 25 (bias included) and outputs |y| ~ 5: an
  // f32 score is off by up to |s| 2^-24 ~ 1.5e-6, which exp carries into the softmax weights and the
  // output (~|y| times that). Measured 3.5e-6; 2e-5 still catches a wrong bucket (a bias step of ~2).
  const T5_TOLERANCE = 2e-5;
  describeModel('bidirectional (encoder, full mask)', t5AttentionGraph(true), inputs, {}, T5_TOLERANCE);
  describeModel('one-sided (decoder, causal mask)', t5AttentionGraph(false), inputs, {}, T5_TOLERANCE);

  it('computes bucket indices equal to HF\'s _relative_position_bucket (float64 Math.log) for every relative position', async () => {
    const rel = tensor('i32', [RELATIVE_POSITIONS.length], RELATIVE_POSITIONS);
    for (const [buckets, maxDistance] of BUCKET_CONFIGS) {
      for (const bidirectional of [true, false]) {
        const session = await ort.InferenceSession.create(exportOnnx(bucketGraph(buckets, maxDistance, bidirectional), new Map()).model);
        const got = (await session.run({ rel: toOrt(rel) })).bucket!;
        expect([...got.dims]).toEqual([1, 1, 1, RELATIVE_POSITIONS.length]);
        const want = RELATIVE_POSITIONS.map((r) => hfRelativePositionBucket(r, bidirectional, buckets, maxDistance));
        expect(Array.from(got.data as Int32Array), `${buckets} buckets, max_distance ${maxDistance}, bidirectional ${bidirectional}`).toEqual(want);
      }
    }
  });
});

describe('decoding with a key/value cache (mask k <= q + dim(past), positions from iota start past)', () => {
  const inputs = [[1, 0], [3, 0], [1, 1], [3, 5], [1, 37], [2, 150]].map(([seq, past], i) => decodeInputs(2, seq!, past!, 33 + i));
  describeModel('no bias', decodeGraph(false), inputs);
  describeModel('T5 one-sided bias of k - (q + past)', decodeGraph(true), inputs);
});

describeModel('f16 computed as FLOAT', build('half', (g) => {
  const x = g.input('x', { dtype: 'f16', shape: [4] });
  const w = g.param('w', { dtype: 'f16', shape: [4] }, { kind: 'normal', std: 1 });
  g.output('y', g.op('cast', [g.op('mul', [g.op('add', [x, w]), g.op('constant', [], { value: 0.001, dtype: 'f16' })])], { to: 'f32' }));
}), [{ x: tensor('f16', [4], [0.5, -1, 2, 0.25]) }]);

describe('external data', () => {
  const graph = attentionGraph(MASKS.find((m) => m.name === 'prefix')!.mask);
  const params = initParams(graph, SEED);
  const dir = mkdtempSync(join(tmpdir(), 'ptm-onnx-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes aligned weights to one side file that onnxruntime loads by path', async () => {
    const exported = exportOnnx(graph, params, { externalDataPath: 'attention.weights' });
    const modelPath = join(dir, 'attention.onnx');
    expect(writeOnnx(modelPath, exported)).toEqual([modelPath, join(dir, 'attention.weights')]);
    const initializers = onnxProto.onnx.ModelProto.decode(readFileSync(modelPath)).graph!.initializer!;
    const side = readFileSync(join(dir, 'attention.weights'));
    expect(side.length).toBe(exported.externalData!.size);
    expect(initializers.map((t) => t.name)).toEqual(['wq', 'wk', 'wv']);
    for (const t of initializers) {
      const entry = Object.fromEntries(t.externalData!.map((e) => [e.key!, e.value!]));
      expect(t.dataLocation).toBe(onnxProto.onnx.TensorProto.DataLocation.EXTERNAL);
      expect(t.rawData!.length).toBe(0);
      expect(entry.location).toBe('attention.weights');
      expect(Number(entry.offset) % 64).toBe(0);
      const bytes = side.subarray(Number(entry.offset), Number(entry.offset) + Number(entry.length));
      expect(Array.from(new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)))).toEqual(Array.from(params.get(t.name!)!.data));
    }
    const session = await ort.InferenceSession.create(modelPath);
    const inputs = attentionInputs(2, 5, 25);
    const got = await session.run(Object.fromEntries(Object.entries(inputs).map(([n, t]) => [n, toOrt(t)])));
    compare('y', runGraph(graph, { inputs, params }).outputs.get('y')!, got.y!);
  });

  it('keeps small weights inline by default, and exports the same bytes twice', () => {
    const first = exportOnnx(graph, params);
    expect(first.externalData).toBeUndefined();
    expect(Buffer.from(exportOnnx(graph, params).model).equals(Buffer.from(first.model))).toBe(true);
  });
});

describe('what ONNX cannot express', () => {
  const code = (f: () => unknown): string | undefined => {
    try {
      f();
    } catch (e) {
      return isPtmError(e) ? e.diagnostics[0]!.code : String(e);
    }
    return undefined;
  };
  it('rejects a symbol that no graph input carries as a whole dimension', () => {
    const graph = build('unbound', (g) => {
      g.symbol('n');
      g.input('x', { dtype: 'f32', shape: ['n+1'] });
      g.output('y', g.op('iota', [], { length: 'n', dtype: 'i32' }));
    });
    expect(code(() => exportOnnx(graph, new Map()))).toBe('export_unsupported');
  });
  it('rejects dim(past) when no graph input has past as a whole dimension', () => {
    const graph = build('unbound_past', (g) => {
      g.symbol('past');
      const x = g.input('x', { dtype: 'f32', shape: [1, 1, 'seq', 4] });
      const kv = g.input('kv', { dtype: 'f32', shape: [1, 1, 'past+seq', 4] });
      const k = maskVar('k'), q = maskVar('q');
      g.output('y', g.op('attention', [x, kv, kv], { scale: 1, mask: maskBin('<=', k, maskBin('+', q, { kind: 'dim', dim: 'past' })) }));
    });
    let error: unknown;
    try {
      exportOnnx(graph, new Map());
    } catch (e) {
      error = e;
    }
    expect(isPtmError(error)).toBe(true);
    if (isPtmError(error)) {
      expect(error.diagnostics[0]!.code).toBe('export_unsupported');
      expect(error.diagnostics[0]!.message).toContain("'past'");
    }
  });
  it('rejects a bool iota and a missing weight', () => {
    const graph = build('bad', (g) => { g.output('y', g.op('iota', [], { length: 3, dtype: 'bool' })); });
    expect(code(() => exportOnnx(graph, new Map()))).toBe('export_unsupported');
    expect(code(() => exportOnnx(attentionGraph(MASKS[0]!.mask), new Map()))).toBe('weights_missing_tensor');
  });
});
