// The interpreter's contract around the kernels: input checking and symbol binding, parameters
// (missing, wrong shape or dtype, converted, fetched lazily), precision and data-dependent errors.
import { describe, expect, test } from 'vitest';
import { PtmError } from '../../src/diagnostics/index.js';
import type { Graph } from '../../src/ir/index.js';
import { GraphBuilder, maskRead, maskVar } from '../../src/ir/index.js';
import type { ParamSource, Tensor } from '../../src/runtime/index.js';
import { initParams, lazyInitParams, runGraph, tensor } from '../../src/runtime/index.js';
import { t, values } from './helpers.js';

/** ids [batch, seq] -> embedding [batch, seq, 4] -> + pos (mask [batch, seq] gates nothing, just bound). */
function embedGraph(): Graph {
  const b = new GraphBuilder('embed');
  b.symbol('batch');
  b.symbol('seq');
  const ids = b.input('ids', { dtype: 'i32', shape: ['batch', 'seq'] });
  b.input('valid', { dtype: 'bool', shape: ['batch', 'seq'] });
  const table = b.param('tok.weight', { dtype: 'f32', shape: [10, 4] }, { kind: 'normal', std: 1 });
  const scale = b.param('scale', { dtype: 'f32', shape: [4] }, { kind: 'ones' });
  b.output('h', b.op('mul', [b.op('gather', [table, ids], { axis: 0 }), scale]));
  return b.finish();
}

/** The diagnostic a call throws: its code and message. */
function failure(f: () => unknown): { code: string; message: string } {
  try {
    f();
  } catch (e) {
    if (e instanceof PtmError) return { code: e.diagnostics[0]!.code, message: e.diagnostics[0]!.message + ' ' + e.diagnostics[0]!.notes.map((n) => n.message).join(' ') };
    throw e;
  }
  throw new Error('expected a PtmError');
}

describe('inputs', () => {
  const graph = embedGraph();
  const params = initParams(graph, 0);
  const ids = tensor('i32', [2, 3], [1, 2, 3, 4, 5, 6]);
  const valid = tensor('bool', [2, 3], [1, 1, 1, 1, 1, 0]);
  const run = (inputs: Record<string, Tensor>) => runGraph(graph, { inputs, params });

  test('binds symbols from the input shapes', () => {
    const { outputs, symbols } = run({ ids, valid });
    expect(Object.fromEntries(symbols)).toEqual({ batch: 2, seq: 3 });
    expect(outputs.get('h')!.shape).toEqual([2, 3, 4]);
  });

  test('an inconsistent symbol names both inputs and both shapes', () => {
    const f = failure(() => run({ ids, valid: tensor('bool', [2, 5]) }));
    expect(f.code).toBe('input_mismatch');
    expect(f.message).toContain("input 'valid' has shape [2, 5], so seq = 5");
    expect(f.message).toContain("input 'ids' has shape [2, 3]");
    expect(f.message).toContain('seq = 3');
  });

  test('missing, unknown (with a suggestion), wrong dtype, wrong rank', () => {
    expect(failure(() => run({ ids })).code).toBe('missing_input');
    const unknown = failure(() => run({ ids, valid, vaild: valid }));
    expect(unknown.code).toBe('unknown_input');
    expect(unknown.message).toContain("did you mean 'valid'?");
    const dtype = failure(() => run({ ids: tensor('f32', [2, 3]), valid }));
    expect(dtype).toMatchObject({ code: 'input_mismatch' });
    expect(dtype.message).toContain("input 'ids' must be i32[batch, seq], got f32[2, 3]");
    expect(failure(() => run({ ids: tensor('i32', [6]), valid })).message).toContain('rank 1');
  });

  test('a concrete dimension must match', () => {
    const b = new GraphBuilder('fixed');
    b.output('y', b.op('neg', [b.input('x', { dtype: 'f32', shape: [2, 3] })]));
    const f = failure(() => runGraph(b.finish(), { inputs: { x: tensor('f32', [2, 4]) }, params: new Map() }));
    expect(f.message).toContain("input 'x' has shape [2, 4], but the model expects [2, 3]: axis 1 must be 3");
  });

  test('compound dimensions are checked after binding', () => {
    const b = new GraphBuilder('plus');
    b.symbol('seq');
    const x = b.input('x', { dtype: 'f32', shape: ['seq'] });
    const y = b.input('y', { dtype: 'f32', shape: ['seq+1'] });
    b.output('z', b.op('concat', [x, y], { axis: 0 }));
    const g = b.finish();
    expect(runGraph(g, { inputs: { x: tensor('f32', [2]), y: tensor('f32', [3]) }, params: new Map() }).outputs.get('z')!.shape).toEqual([5]);
    expect(failure(() => runGraph(g, { inputs: { x: tensor('f32', [2]), y: tensor('f32', [4]) }, params: new Map() })).message).toContain('axis 0 must be seq+1 = 3');
  });
});

describe('parameters', () => {
  const graph = embedGraph();
  const inputs = { ids: tensor('i32', [1, 2], [3, 4]), valid: tensor('bool', [1, 2], [1, 1]) };
  const good = initParams(graph, 0);

  test('missing (with a suggestion), wrong shape, wrong dtype', () => {
    const renamed = new Map(good);
    renamed.set('tok.weights', renamed.get('tok.weight')!);
    renamed.delete('tok.weight');
    const missing = failure(() => runGraph(graph, { inputs, params: renamed }));
    expect(missing.code).toBe('weights_missing_tensor');
    expect(missing.message).toContain("did you mean 'tok.weights'?");
    const shape = failure(() => runGraph(graph, { inputs, params: new Map([...good, ['scale', tensor('f32', [5])]]) }));
    expect(shape.code).toBe('weights_shape_mismatch');
    expect(shape.message).toContain("'scale' has shape [5], the model needs [4]");
    const dtype = failure(() => runGraph(graph, { inputs, params: new Map([...good, ['scale', tensor('i32', [4])]]) }));
    expect(dtype.code).toBe('weights_dtype_mismatch');
  });

  test('float parameters of another float dtype are converted', () => {
    const f64 = new Map(good);
    f64.set('scale', tensor('f64', [4], [2, 2, 2, 2]));
    const y = runGraph(graph, { inputs, params: f64 }).outputs.get('h')!;
    const base = runGraph(graph, { inputs, params: good }).outputs.get('h')!;
    expect(values(y)).toEqual(values(base).map((v) => Math.fround(v * 2)));
  });

  test('a lazy source is asked once per parameter, only when first used', () => {
    const lazy = lazyInitParams(graph, 0);
    const asked: string[] = [];
    const source: ParamSource = { get: (name) => { asked.push(name); return lazy.get(name); } };
    const y = runGraph(graph, { inputs, params: source }).outputs.get('h')!;
    expect(asked).toEqual(['tok.weight', 'scale']);
    expect(values(y)).toEqual(values(runGraph(graph, { inputs, params: good }).outputs.get('h')!));
  });
});

describe('precision', () => {
  test('f64 keeps float64 storage and digits that f32 rounds away', () => {
    const b = new GraphBuilder('p');
    const x = b.input('x', { dtype: 'f32', shape: [1] });
    b.output('y', b.op('div', [x, b.op('constant', [], { value: 3, dtype: 'f32' })]));
    const g = b.finish();
    const y64 = runGraph(g, { inputs: { x: tensor('f32', [1], [1]) }, params: new Map(), precision: 'f64' }).outputs.get('y')!;
    const y32 = runGraph(g, { inputs: { x: tensor('f32', [1], [1]) }, params: new Map() }).outputs.get('y')!;
    expect(y64.data).toBeInstanceOf(Float64Array);
    expect(y64.data[0]).toBe(1 / 3);
    expect(y32.data).toBeInstanceOf(Float32Array);
    expect(y32.data[0]).toBe(Math.fround(1 / 3));
  });
});

describe('data-dependent errors', () => {
  test('a mask read outside its tensor is invalid_mask, naming the tensor', () => {
    const b = new GraphBuilder('m');
    const q = b.input('q', { dtype: 'f32', shape: [1, 1, 3, 2] });
    const valid = b.input('valid', { dtype: 'bool', shape: [1, 2] });
    b.output('y', b.op('attention', [q, q, q, valid], { scale: 1, mask: maskRead(3, [maskVar('b'), maskVar('k')]) }));
    const f = failure(() => runGraph(b.finish(), { inputs: { q: tensor('f32', [1, 1, 3, 2]), valid: t('bool', [[true, true]]) }, params: new Map() }));
    expect(f.code).toBe('invalid_mask');
    expect(f.message).toContain('%valid[0, 2], outside its shape [1, 2]');
  });
});
