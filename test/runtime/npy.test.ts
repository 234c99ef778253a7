// .npy round trips for every dtype, the exact header bytes NumPy writes, and malformed files.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { PtmError } from '../../src/diagnostics/index.js';
import { npyBytes, parseNpy, readNpy, tensor, writeNpy } from '../../src/runtime/index.js';
import { values } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ptm-npy-'));

test('round trip of every dtype and rank', () => {
  const cases = [
    tensor('f32', [2, 3], [1, 2, 3, 4.5, -0, NaN]),
    tensor('f64', [1], [Math.E]),
    tensor('i32', [], [-7]),
    tensor('i64', [2, 1, 2], [2 ** 53 - 1, -3, 0, 9]),
    tensor('bool', [3], [1, 0, 1]),
    tensor('f32', [0]),
  ];
  cases.forEach((t, i) => {
    const path = join(dir, `case${i}.npy`);
    writeNpy(path, t);
    const back = readNpy(path);
    expect(back.dtype).toBe(t.dtype);
    expect(back.shape).toEqual(t.shape);
    expect(values(back)).toEqual(values(t));
  });
});

test('header bytes of a [2, 3] float32 array, as numpy.save writes them', () => {
  const bytes = npyBytes(tensor('f32', [2, 3], [1, 2, 3, 4, 5, 6]));
  expect([...bytes.subarray(0, 8)]).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const headerLength = bytes[8]! | (bytes[9]! << 8);
  expect(headerLength).toBe(118);
  const header = new TextDecoder().decode(bytes.subarray(10, 10 + headerLength));
  expect(header).toBe(`{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }${' '.repeat(58)}\n`);
  expect((10 + headerLength) % 64).toBe(0);
  expect(new Float32Array(bytes.slice(128).buffer)).toEqual(new Float32Array([1, 2, 3, 4, 5, 6]));
  expect(new TextDecoder().decode(npyBytes(tensor('i64', [5])).subarray(10, 128))).toContain("'shape': (5,)");
  expect(new TextDecoder().decode(npyBytes(tensor('bool', [], [1])).subarray(10, 128))).toContain("'descr': '|b1', 'fortran_order': False, 'shape': ()");
});

test('malformed files are invalid_input_file located at the file', () => {
  const bad = (bytes: Uint8Array) => {
    try {
      parseNpy(bytes, 'x.npy');
    } catch (e) {
      expect(e).toBeInstanceOf(PtmError);
      expect((e as PtmError).diagnostics[0]!.code).toBe('invalid_input_file');
      expect((e as PtmError).diagnostics[0]!.span.file).toBe('x.npy');
      return (e as PtmError).diagnostics[0]!.message;
    }
    throw new Error('expected an error');
  };
  expect(bad(new TextEncoder().encode('hello world, not numpy'))).toContain('not a .npy file');
  const good = npyBytes(tensor('f32', [4], [1, 2, 3, 4]));
  expect(bad(good.subarray(0, good.length - 4))).toContain('truncated');
  const fortran = good.slice();
  fortran.set(new TextEncoder().encode("'fortran_order': True, "), 10 + "{'descr': '<f4', ".length);
  expect(bad(fortran)).toContain('Fortran-order');
  const path = join(dir, 'exists.npy');
  writeFileSync(path, good);
  expect(() => writeNpy(path, tensor('f32', [1]))).toThrow(/already exists/);
});
