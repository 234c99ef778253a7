// safetensors files: an 8-byte little-endian header length, a JSON header (name → dtype, shape,
// data_offsets relative to the data section; optional __metadata__), then the raw little-endian data.
import { PtmError, diag, noSpan } from '../diagnostics/index.js';
import type { DType } from '../ir/types.js';
import { readBytes, requireLittleEndianHost, writeBytes } from './files.js';
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from './half.js';
import type { Tensor, TensorData } from './tensor.js';
import { size } from './tensor.js';

/** File dtype ↔ tensor dtype and bytes per element. */
const FILE_DTYPES: Record<string, [DType, number]> = {
  F32: ['f32', 4], F16: ['f16', 2], BF16: ['bf16', 2], F64: ['f64', 8], I32: ['i32', 4], I64: ['i64', 8], BOOL: ['bool', 1],
};
const TO_FILE: Record<DType, string> = { f32: 'F32', f16: 'F16', bf16: 'BF16', f64: 'F64', i32: 'I32', i64: 'I64', bool: 'BOOL' };
/** safetensors' own limit on the header. */
const MAX_HEADER = 100_000_000;

export interface SafetensorsEntry {
  name: string;
  /** The file's dtype name (`F32`, `BF16`, ...), possibly one ptm cannot read. */
  fileDtype: string;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

const invalid = (file: string, message: string): PtmError => new PtmError(diag.weights_invalid(noSpan(file), file, message));

/** Parses and validates the header; every entry's range is checked against the file length. */
export function parseSafetensorsHeader(bytes: Uint8Array, file: string): { entries: Map<string, SafetensorsEntry>; metadata: Record<string, string> } {
  if (bytes.length < 8) throw invalid(file, `not a safetensors file: ${bytes.length} bytes is too short for the 8-byte header length`);
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLength > bytes.length - 8 || headerLength > MAX_HEADER) {
    throw invalid(file, `not a safetensors file: the header length ${headerLength} runs past the end of the file (${bytes.length} bytes)`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch (e) {
    throw invalid(file, `not a safetensors file: the header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw invalid(file, 'not a safetensors file: the header is not a JSON object');
  const dataStart = 8 + headerLength;
  const entries = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Object.values(value).some((v) => typeof v !== 'string')) throw invalid(file, '__metadata__ must map strings to strings');
      metadata = value as Record<string, string>;
      continue;
    }
    const e = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const ints = (x: unknown, n?: number): x is number[] => Array.isArray(x) && (n === undefined || x.length === n) && x.every((d) => Number.isSafeInteger(d) && d >= 0);
    if (typeof e !== 'object' || e === null || typeof e.dtype !== 'string' || !ints(e.shape) || !ints(e.data_offsets, 2) || e.data_offsets[0]! > e.data_offsets[1]!) {
      throw invalid(file, `tensor '${name}' has a malformed header entry (needs dtype, shape and data_offsets [begin, end])`);
    }
    const entry = { name, fileDtype: e.dtype, shape: e.shape, begin: dataStart + e.data_offsets[0]!, end: dataStart + e.data_offsets[1]! };
    if (entry.end > bytes.length) throw new PtmError(diag.weights_truncated(noSpan(file), file, name));
    const known = FILE_DTYPES[entry.fileDtype];
    if (known && entry.end - entry.begin !== size(entry.shape) * known[1]) {
      throw invalid(file, `tensor '${name}' holds ${entry.end - entry.begin} bytes, but ${entry.fileDtype} [${entry.shape.join(', ')}] needs ${size(entry.shape) * known[1]}`);
    }
    entries.set(name, entry);
  }
  return { entries, metadata };
}

/** The tensor dtype a file dtype reads as, or undefined when ptm cannot read it. */
export function fileDtypeToDType(fileDtype: string): DType | undefined {
  return FILE_DTYPES[fileDtype]?.[0];
}

/** Decodes one entry: F16/BF16 widen to f32 values, I64 to doubles (must be exact), BOOL to 0/1. */
export function decodeEntry(bytes: Uint8Array, entry: SafetensorsEntry, file: string): Tensor {
  requireLittleEndianHost();
  const dtype = fileDtypeToDType(entry.fileDtype);
  if (!dtype) throw invalid(file, `tensor '${entry.name}' has dtype ${entry.fileDtype}, which ptm cannot read (F32, F16, BF16, F64, I32, I64, BOOL)`);
  const raw = new Uint8Array(entry.end - entry.begin); // an aligned copy (Buffer.slice would be a view)
  raw.set(bytes.subarray(entry.begin, entry.end));
  const n = size(entry.shape);
  let data: TensorData;
  switch (entry.fileDtype) {
    case 'F32': data = new Float32Array(raw.buffer, raw.byteOffset, n); break;
    case 'F64': data = new Float64Array(raw.buffer, raw.byteOffset, n); break;
    case 'I32': data = new Int32Array(raw.buffer, raw.byteOffset, n); break;
    case 'F16': case 'BF16': {
      const bits = new Uint16Array(raw.buffer, raw.byteOffset, n);
      const decode = entry.fileDtype === 'F16' ? f16BitsToF32 : bf16BitsToF32;
      data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = decode(bits[i]!);
      break;
    }
    case 'I64': {
      const wide = new BigInt64Array(raw.buffer, raw.byteOffset, n);
      data = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const v = Number(wide[i]!);
        if (!Number.isSafeInteger(v)) throw invalid(file, `tensor '${entry.name}' holds ${wide[i]}, which is not exact below 2^53`);
        data[i] = v;
      }
      break;
    }
    default: {
      data = new Uint8Array(n);
      for (let i = 0; i < n; i++) data[i] = raw[i] ? 1 : 0;
    }
  }
  return { dtype, shape: entry.shape, data };
}

export function readSafetensorsBytes(bytes: Uint8Array, fileName: string): SafetensorsFile {
  const { entries, metadata } = parseSafetensorsHeader(bytes, fileName);
  const tensors = new Map<string, Tensor>();
  for (const entry of entries.values()) tensors.set(entry.name, decodeEntry(bytes, entry, fileName));
  return { tensors, metadata };
}

export function readSafetensors(path: string): SafetensorsFile {
  return readSafetensorsBytes(readBytes(path), path);
}

/** Little-endian bytes of a tensor's values in its file dtype. */
function encodeData(t: Tensor): Uint8Array {
  const n = t.data.length;
  let view: TensorData | Uint16Array | BigInt64Array;
  switch (t.dtype) {
    case 'f32': view = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data); break;
    case 'f64': view = t.data instanceof Float64Array ? t.data : Float64Array.from(t.data); break;
    case 'i32': view = t.data instanceof Int32Array ? t.data : Int32Array.from(t.data); break;
    case 'bool': view = Uint8Array.from(t.data, (v) => (v ? 1 : 0)); break;
    case 'i64': view = BigInt64Array.from(t.data, (v) => BigInt(Math.trunc(v))); break;
    case 'f16': case 'bf16': {
      const encode = t.dtype === 'f16' ? f32ToF16Bits : f32ToBf16Bits;
      view = new Uint16Array(n);
      for (let i = 0; i < n; i++) view[i] = encode(t.data[i]!);
    }
  }
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** A safetensors file: tensors sorted by name, contiguous offsets, header padded with spaces to 8 bytes. */
export function safetensorsBytes(tensors: ReadonlyMap<string, Tensor>, metadata?: Record<string, string>): Uint8Array {
  requireLittleEndianHost();
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const name of names) {
    if (name === '__metadata__' || name === '') throw new PtmError(diag.internal_error(noSpan('<safetensors>'), `'${name}' cannot name a tensor`));
    const t = tensors.get(name)!;
    const data = encodeData(t);
    header[name] = { dtype: TO_FILE[t.dtype], shape: t.shape, data_offsets: [offset, offset + data.length] };
    chunks.push(data);
    offset += data.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Writes a safetensors file; refuses to replace an existing file (output_exists) unless `force`. */
export function writeSafetensors(path: string, tensors: ReadonlyMap<string, Tensor>, options: { force?: boolean; metadata?: Record<string, string> } = {}): void {
  writeBytes(path, safetensorsBytes(tensors, options.metadata), options.force ?? false);
}
