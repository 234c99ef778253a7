// NumPy .npy files, format version 1.0 on write (1.0–3.0 on read): magic, version, a little-endian
// header length, a Python-dict header padded with spaces and '\n' to 64 bytes, then C-order data.
import { PtmError, diag, noSpan } from '../diagnostics/index.js';
import type { DType } from '../ir/types.js';
import { readBytes, requireLittleEndianHost, writeBytes } from './files.js';
import { f16BitsToF32 } from './half.js';
import type { Tensor, TensorData } from './tensor.js';
import { size } from './tensor.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** f16 and bf16 values are written as '<f4' (exact; NumPy has no bf16). */
const DESCR: Record<DType, string> = { f32: '<f4', f16: '<f4', bf16: '<f4', f64: '<f8', i32: '<i4', i64: '<i8', bool: '|b1' };

export function npyBytes(t: Tensor): Uint8Array {
  requireLittleEndianHost();
  const shape = t.shape.length === 1 ? `(${t.shape[0]},)` : `(${t.shape.join(', ')})`;
  let header = `{'descr': '${DESCR[t.dtype]}', 'fortran_order': False, 'shape': ${shape}, }`;
  // 10 bytes of preamble + header + '\n' is a multiple of 64.
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  let data: TensorData | BigInt64Array;
  switch (t.dtype) {
    case 'f32': case 'f16': case 'bf16': data = Float32Array.from(t.data); break;
    case 'f64': data = Float64Array.from(t.data); break;
    case 'i32': data = Int32Array.from(t.data); break;
    case 'i64': data = BigInt64Array.from(t.data, (v) => BigInt(Math.trunc(v))); break;
    case 'bool': data = Uint8Array.from(t.data, (v) => (v ? 1 : 0)); break;
  }
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

export function writeNpy(path: string, t: Tensor, options: { force?: boolean } = {}): void {
  writeBytes(path, npyBytes(t), options.force ?? false);
}

const bad = (file: string, message: string): PtmError => new PtmError(diag.invalid_input_file(noSpan(file), message));

/** Parses a .npy file: '<f2', '<f4', '<f8', '<i4', '<i8' and '|b1' (or '<b1'), C order only. */
export function parseNpy(bytes: Uint8Array, file: string): Tensor {
  requireLittleEndianHost();
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw bad(file, 'not a .npy file (no \\x93NUMPY magic)');
  const major = bytes[6]!;
  if (major < 1 || major > 3) throw bad(file, `unsupported .npy format version ${major}.${bytes[7]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthBytes = major === 1 ? 2 : 4;
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = 8 + lengthBytes + headerLength;
  if (dataStart > bytes.length) throw bad(file, `the header length ${headerLength} runs past the end of the file`);
  const header = new TextDecoder().decode(bytes.subarray(8 + lengthBytes, dataStart));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw bad(file, `malformed header ${JSON.stringify(header.trim())}`);
  if (fortran === 'True') throw bad(file, 'Fortran-order arrays are not supported; save with np.ascontiguousarray');
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw bad(file, `malformed shape (${shapeText})`);
  const n = size(shape);
  const kinds: Record<string, [DType, number]> = { '<f2': ['f32', 2], '<f4': ['f32', 4], '<f8': ['f64', 8], '<i4': ['i32', 4], '<i8': ['i64', 8], '|b1': ['bool', 1], '<b1': ['bool', 1] };
  const kind = kinds[descr];
  if (!kind) throw bad(file, `unsupported dtype '${descr}' (supported: ${Object.keys(kinds).join(', ')})`);
  const [dtype, width] = kind;
  if (dataStart + n * width > bytes.length) throw bad(file, `the data is truncated: ${n} elements of '${descr}' need ${n * width} bytes, the file has ${bytes.length - dataStart}`);
  const raw = new Uint8Array(n * width);
  raw.set(bytes.subarray(dataStart, dataStart + n * width));
  let data: TensorData;
  switch (descr) {
    case '<f2': data = Float32Array.from(new Uint16Array(raw.buffer), f16BitsToF32); break;
    case '<f4': data = new Float32Array(raw.buffer); break;
    case '<f8': data = new Float64Array(raw.buffer); break;
    case '<i4': data = new Int32Array(raw.buffer); break;
    case '<i8': {
      const wide = new BigInt64Array(raw.buffer);
      data = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        data[i] = Number(wide[i]!);
        if (!Number.isSafeInteger(data[i])) throw bad(file, `element ${i} (${wide[i]}) is not exact below 2^53`);
      }
      break;
    }
    default: data = raw.map((v) => (v ? 1 : 0));
  }
  return { dtype, shape, data };
}

export function readNpy(path: string): Tensor {
  return parseNpy(readBytes(path), path);
}
