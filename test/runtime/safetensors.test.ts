// safetensors round trips and every way a weights file can be wrong: each error is a PtmError with a
// stable code whose message names the tensor and the file.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { PtmError, formatLoc } from '../../src/diagnostics/index.js';
import type { Graph } from '../../src/ir/index.js';
import { GraphBuilder } from '../../src/ir/index.js';
import type { Tensor } from '../../src/runtime/index.js';
import { initParams, loadParams, readSafetensors, readSafetensorsBytes, safetensorsBytes, tensor, writeSafetensors } from '../../src/runtime/index.js';
import { values } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ptm-safetensors-'));
let counter = 0;
const fresh = (): string => join(dir, `w${counter++}.safetensors`);

/** The first diagnostic's code, and its text as printed (`file: message notes`): where the file is named. */
function failure(f: () => unknown): { code: string; message: string } {
  try {
    f();
  } catch (e) {
    if (!(e instanceof PtmError)) throw e;
    const d = e.diagnostics[0]!;
    return { code: d.code, message: [`${formatLoc(d.span)}: ${d.message}`, ...d.notes.map((n) => n.message)].join(' ') };
  }
  throw new Error('expected a PtmError');
}

function twoParamGraph(): Graph {
  const b = new GraphBuilder('g');
  const x = b.input('x', { dtype: 'f32', shape: [3] });
  const w = b.param('layer.weight', { dtype: 'f32', shape: [2, 3] }, { kind: 'normal', std: 1 });
  const bias = b.param('layer.bias', { dtype: 'f32', shape: [2] }, { kind: 'zeros' });
  b.output('y', b.op('add', [b.op('reshape', [b.op('matmul', [w, b.op('reshape', [x], { shape: [3, 1] })])], { shape: [2] }), bias]));
  return b.finish();
}

describe('round trip', () => {
  test('every dtype, a scalar and an empty tensor, with metadata', () => {
    const tensors = new Map<string, Tensor>([
      ['f32', tensor('f32', [2, 2], [1.5, -2, 3e-8, Infinity])],
      ['f16', tensor('f16', [3], [1, 0.333251953125, -65504])],
      ['bf16', tensor('bf16', [2], [1, 0.333984375])],
      ['f64', tensor('f64', [2], [Math.PI, -1e300])],
      ['i32', tensor('i32', [3], [-2147483648, 0, 7])],
      ['i64', tensor('i64', [2], [2 ** 53 - 1, -5])],
      ['bool', tensor('bool', [4], [1, 0, 0, 1])],
      ['scalar', tensor('f32', [], [42])],
      ['empty', tensor('f32', [0, 3])],
    ]);
    const path = fresh();
    writeSafetensors(path, tensors, { metadata: { format: 'pt' } });
    const back = readSafetensors(path);
    expect(back.metadata).toEqual({ format: 'pt' });
    expect([...back.tensors.keys()].sort()).toEqual([...tensors.keys()].sort());
    for (const [name, t] of tensors) {
      expect(back.tensors.get(name)!.dtype, name).toBe(t.dtype);
      expect(back.tensors.get(name)!.shape, name).toEqual(t.shape);
      expect(values(back.tensors.get(name)!), name).toEqual(values(t));
    }
  });

  test('layout: sorted names, contiguous offsets, header padded with spaces to 8 bytes', () => {
    const bytes = safetensorsBytes(new Map([['b', tensor('f32', [1], [1])], ['a', tensor('bool', [3], [1, 1, 0])]]));
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(header).toMatch(/^\{.*\} *$/);
    expect(Object.keys(JSON.parse(header))).toEqual(['a', 'b']);
    expect(JSON.parse(header)).toEqual({ a: { dtype: 'BOOL', shape: [3], data_offsets: [0, 3] }, b: { dtype: 'F32', shape: [1], data_offsets: [3, 7] } });
    expect(bytes.length).toBe(8 + n + 7);
  });

  test('loadParams gives what initParams wrote, and reports extra tensors', () => {
    const graph = twoParamGraph();
    const path = fresh();
    const init = initParams(graph, 3);
    writeSafetensors(path, new Map([...init, ['unused.thing', tensor('f32', [1])]]));
    const loaded = loadParams(graph, path);
    expect(loaded.unused).toEqual(['unused.thing']);
    expect(loaded.label).toBe(path);
    for (const [name, t] of init) expect(values(loaded.get(name)!)).toEqual(values(t));
  });

  test('f16 weights load into an f32 model', () => {
    const graph = twoParamGraph();
    const path = fresh();
    writeSafetensors(path, new Map([['layer.weight', tensor('f16', [2, 3], [1, 2, 3, 4, 5, 0.5])], ['layer.bias', tensor('bf16', [2], [1, 2])]]));
    const loaded = loadParams(graph, path);
    expect(loaded.get('layer.weight')!.dtype).toBe('f32');
    expect(values(loaded.get('layer.weight')!)).toEqual([1, 2, 3, 4, 5, 0.5]);
  });
});

describe('errors name the tensor and the file', () => {
  const graph = twoParamGraph();

  test('missing tensor, with the nearest name suggested', () => {
    const path = fresh();
    writeSafetensors(path, new Map([['layer.weight', tensor('f32', [2, 3])], ['layer.biass', tensor('f32', [2])]]));
    const f = failure(() => loadParams(graph, path));
    expect(f.code).toBe('weights_missing_tensor');
    expect(f.message).toContain(path);
    expect(f.message).toContain("no tensor 'layer.bias'");
    expect(f.message).toContain("did you mean 'layer.biass'?");
  });

  test('wrong shape (both shapes) and wrong dtype', () => {
    const path = fresh();
    writeSafetensors(path, new Map([['layer.weight', tensor('f32', [3, 2])], ['layer.bias', tensor('f32', [2])]]));
    const shape = failure(() => loadParams(graph, path));
    expect(shape.code).toBe('weights_shape_mismatch');
    expect(shape.message).toContain(`${path}: tensor 'layer.weight' has shape [3, 2], the model needs [2, 3]`);
    const path2 = fresh();
    writeSafetensors(path2, new Map([['layer.weight', tensor('f32', [2, 3])], ['layer.bias', tensor('i64', [2])]]));
    const dtype = failure(() => loadParams(graph, path2));
    expect(dtype.code).toBe('weights_dtype_mismatch');
    expect(dtype.message).toContain(`${path2}: tensor 'layer.bias' has dtype i64, the model needs f32`);
  });

  test('truncated file', () => {
    const path = fresh();
    const bytes = safetensorsBytes(new Map([['layer.weight', tensor('f32', [2, 3])], ['layer.bias', tensor('f32', [2])]]));
    writeFileSync(path, bytes.subarray(0, bytes.length - 3));
    const f = failure(() => loadParams(graph, path));
    expect(f.code).toBe('weights_truncated');
    expect(f.message).toContain(`${path}: tensor 'layer.weight' runs past the end`);
    expect(f.message.split(path)).toHaveLength(2); // named once, by the span
  });

  test('garbage, a header length past the end, bad JSON, a too-short file', () => {
    const garbage = fresh();
    writeFileSync(garbage, 'this is not a safetensors file at all');
    expect(failure(() => loadParams(graph, garbage))).toMatchObject({ code: 'weights_invalid' });
    expect(failure(() => loadParams(graph, garbage)).message).toContain(garbage);
    const header = new Uint8Array(16);
    new DataView(header.buffer).setBigUint64(0, 1000n, true);
    const f = failure(() => readSafetensorsBytes(header, 'h.safetensors'));
    expect(f.code).toBe('weights_invalid');
    expect(f.message).toContain('h.safetensors: not a safetensors file: the header length 1000 runs past the end of the file (16 bytes)');
    const json = new Uint8Array(8 + 4);
    new DataView(json.buffer).setBigUint64(0, 4n, true);
    json.set(new TextEncoder().encode('{"a:'), 8);
    expect(failure(() => readSafetensorsBytes(json, 'j.safetensors')).message).toContain('the header is not valid JSON');
    expect(failure(() => readSafetensorsBytes(new Uint8Array(3), 's.safetensors')).message).toContain('too short');
  });

  test('a malformed entry and a size that does not match the shape name the tensor', () => {
    const make = (header: object): Uint8Array => {
      let text = JSON.stringify(header);
      text += ' '.repeat((8 - (text.length % 8)) % 8);
      const out = new Uint8Array(8 + text.length + 64);
      new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
      out.set(new TextEncoder().encode(text), 8);
      return out;
    };
    expect(failure(() => readSafetensorsBytes(make({ w: { dtype: 'F32', shape: [2] } }), 'm.safetensors')).message).toContain("tensor 'w' has a malformed header entry");
    expect(failure(() => readSafetensorsBytes(make({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 12] } }), 'm.safetensors')).message)
      .toContain("tensor 'w' holds 12 bytes, but F32 [2] needs 8");
  });

  test('a missing file', () => {
    expect(failure(() => loadParams(graph, join(dir, 'nope.safetensors'))).code).toBe('file_not_found');
  });

  test('refuses to overwrite unless forced', () => {
    const path = fresh();
    const one = new Map([['a', tensor('f32', [1], [1])]]);
    writeSafetensors(path, one);
    const f = failure(() => writeSafetensors(path, new Map([['a', tensor('f32', [1], [2])]])));
    expect(f.code).toBe('output_exists');
    expect(f.message).toContain(path);
    expect(values(readSafetensors(path).tensors.get('a')!)).toEqual([1]);
    writeSafetensors(path, new Map([['a', tensor('f32', [1], [2])]]), { force: true });
    expect(values(readSafetensors(path).tensors.get('a')!)).toEqual([2]);
    expect(readFileSync(path).length).toBeGreaterThan(8);
  });
});
