// Host tensors: a dtype, a concrete row-major shape and a typed array. Storage by dtype:
// f32/f16/bf16 → Float32Array (f16/bf16 computed in f32), f64 → Float64Array, i32 → Int32Array,
// i64 → Float64Array (exact below 2^53), bool → Uint8Array (0/1). In f64 precision every float is Float64Array.
import { PtmError, diag, noSpan } from '../diagnostics/index.js';
import type { DType } from '../ir/types.js';
import { isFloat } from '../ir/types.js';

export type TensorData = Float32Array | Float64Array | Int32Array | Uint8Array;

export interface Tensor {
  dtype: DType;
  shape: number[];
  data: TensorData;
}

/** How float tensors are stored and computed: `f32` rounds every stored value to f32, `f64` does not. */
export type Precision = 'f32' | 'f64';

export function size(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides in elements. */
export function strides(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    out[i] = s;
    s *= shape[i]!;
  }
  return out;
}

/** A zero-filled array of the storage type for `dtype` under `precision`. */
export function allocate(dtype: DType, n: number, precision: Precision = 'f32'): TensorData {
  switch (dtype) {
    case 'f32': case 'f16': case 'bf16': return precision === 'f64' ? new Float64Array(n) : new Float32Array(n);
    case 'f64': case 'i64': return new Float64Array(n);
    case 'i32': return new Int32Array(n);
    case 'bool': return new Uint8Array(n);
  }
}

/** True when `data` already has the storage type `allocate(dtype, _, precision)` gives. */
export function hasStorage(data: TensorData, dtype: DType, precision: Precision = 'f32'): boolean {
  switch (dtype) {
    case 'f32': case 'f16': case 'bf16': return precision === 'f64' ? data instanceof Float64Array : data instanceof Float32Array;
    case 'f64': case 'i64': return data instanceof Float64Array;
    case 'i32': return data instanceof Int32Array;
    case 'bool': return data instanceof Uint8Array;
  }
}

/**
 * A tensor of `dtype` and `shape`. `data` is used as is when it has the dtype's storage type,
 * copied (and converted) otherwise; zeros when omitted. Bool values are normalized to 0/1 on copy.
 */
export function tensor(dtype: DType, shape: readonly number[], data?: TensorData | ArrayLike<number | boolean>, precision: Precision = 'f32'): Tensor {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new PtmError(diag.input_mismatch(noSpan('<tensor>'), `invalid tensor shape [${shape.join(', ')}]: dimensions must be non-negative integers`));
  }
  const n = size(shape);
  if (data !== undefined && data.length !== n) {
    throw new PtmError(diag.input_mismatch(noSpan('<tensor>'), `a tensor of shape [${shape.join(', ')}] needs ${n} values, got ${data.length}`));
  }
  if (data !== undefined && ArrayBuffer.isView(data) && hasStorage(data as TensorData, dtype, precision)) {
    return { dtype, shape: [...shape], data: data as TensorData };
  }
  const out = allocate(dtype, n, precision);
  if (data !== undefined) {
    if (dtype === 'bool') for (let i = 0; i < n; i++) out[i] = data[i] ? 1 : 0;
    else for (let i = 0; i < n; i++) out[i] = Number(data[i]);
  }
  return { dtype, shape: [...shape], data: out };
}

/** The same values with the storage `precision` asks for (shares `t.data` when it already fits). */
export function withPrecision(t: Tensor, precision: Precision): Tensor {
  if (hasStorage(t.data, t.dtype, precision)) return t;
  const data = allocate(t.dtype, t.data.length, precision);
  data.set(t.data);
  return { dtype: t.dtype, shape: t.shape, data };
}

export const isFloatTensor = (t: Tensor): boolean => isFloat(t.dtype);

export interface TensorSummary {
  dtype: DType;
  shape: number[];
  min: number;
  max: number;
  mean: number;
  /** Population standard deviation (divides by n). */
  std: number;
  /** Elements that are NaN or ±Infinity (they make mean/std NaN or infinite). */
  nonFinite: number;
  checksum: string;
}

/** min/max/mean/std over all elements (NaN propagates into mean/std), plus the checksum. */
export function summarize(t: Tensor): TensorSummary {
  const x = t.data;
  let min = Infinity, max = -Infinity, sum = 0, nonFinite = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
    if (!Number.isFinite(v)) nonFinite++;
    sum += v;
  }
  const mean = x.length ? sum / x.length : NaN;
  let sq = 0;
  for (let i = 0; i < x.length; i++) sq += (x[i]! - mean) ** 2;
  const std = x.length ? Math.sqrt(sq / x.length) : NaN;
  return { dtype: t.dtype, shape: [...t.shape], min, max, mean, std, nonFinite, checksum: checksum(t) };
}

/**
 * A stable fingerprint of the values: 32-bit FNV-1a over the little-endian float32 bytes of each
 * element in row-major order (every value, int and bool included, is first rounded to f32; NaN is
 * hashed as 0x7fc00000), printed as 8 hex digits. Equal checksums across runs or backends mean the
 * f32-rounded outputs agree bit for bit (f64 runs usually differ from f32 runs in the last bit).
 */
export function checksum(t: Tensor): string {
  const chunk = new Float32Array(4096);
  const words = new Uint32Array(chunk.buffer);
  let h = 0x811c9dc5;
  for (let start = 0; start < t.data.length; start += chunk.length) {
    const n = Math.min(chunk.length, t.data.length - start);
    for (let i = 0; i < n; i++) chunk[i] = t.data[start + i]!;
    for (let i = 0; i < n; i++) {
      const w = chunk[i] !== chunk[i] ? 0x7fc00000 : words[i]!;
      h = Math.imul(h ^ (w & 0xff), 0x01000193);
      h = Math.imul(h ^ ((w >>> 8) & 0xff), 0x01000193);
      h = Math.imul(h ^ ((w >>> 16) & 0xff), 0x01000193);
      h = Math.imul(h ^ (w >>> 24), 0x01000193);
    }
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

export function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
