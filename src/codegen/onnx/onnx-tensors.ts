// ONNX element types and tensor bytes: how each IR dtype is spelled in ONNX and encoded as
// little-endian raw_data, whatever the host. f16/bf16 are widened to FLOAT (see exportOnnx).
import { endianness } from 'node:os';
import onnxProto from 'onnx-proto';
import type { onnx } from 'onnx-proto';
import type { DType } from '../../ir/types.js';

export const proto = onnxProto.onnx;
const DataType = proto.TensorProto.DataType;

/** ONNX element type of an IR dtype; f16 and bf16 are computed in FLOAT in exported models. */
export function onnxElementType(dtype: DType): number {
  switch (dtype) {
    case 'f32': case 'f16': case 'bf16': return DataType.FLOAT;
    case 'f64': return DataType.DOUBLE;
    case 'i32': return DataType.INT32;
    case 'i64': return DataType.INT64;
    case 'bool': return DataType.BOOL;
  }
}

const BYTES: Record<DType, number> = { f32: 4, f16: 4, bf16: 4, f64: 8, i32: 4, i64: 8, bool: 1 };

/** Bytes per element of `dtype` once exported. */
export const onnxElementBytes = (dtype: DType): number => BYTES[dtype];

/**
 * Little-endian bytes of `values` as the ONNX type of `dtype`. A Float32Array (or Float64Array for
 * f64, Int32Array for i32) on a little-endian host is viewed in place, without a copy.
 */
export function encodeValues(dtype: DType, values: ArrayLike<number>): Uint8Array {
  const n = values.length;
  const littleEndian = endianness() === 'LE';
  const native = (dtype === 'f32' || dtype === 'f16' || dtype === 'bf16') ? values instanceof Float32Array
    : dtype === 'f64' ? values instanceof Float64Array : dtype === 'i32' ? values instanceof Int32Array : false;
  if (native && littleEndian) {
    const typed = values as Float32Array | Float64Array | Int32Array;
    return new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
  }
  const bytes = new Uint8Array(n * BYTES[dtype]);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    switch (dtype) {
      case 'f32': case 'f16': case 'bf16': view.setFloat32(i * 4, v, true); break;
      case 'f64': view.setFloat64(i * 8, v, true); break;
      case 'i32': view.setInt32(i * 4, v, true); break;
      // i64 values arrive as doubles (exact below 2^53)
      case 'i64': view.setBigInt64(i * 8, BigInt(Math.trunc(v)), true); break;
      case 'bool': bytes[i] = v ? 1 : 0; break;
    }
  }
  return bytes;
}

/** A tensor with its data inline as raw_data. */
export function inlineTensor(name: string, dtype: DType, dims: number[], values: ArrayLike<number>): onnx.ITensorProto {
  return { name, dims, dataType: onnxElementType(dtype), rawData: encodeValues(dtype, values) };
}

/** A tensor whose data lives in the external file `location` at [offset, offset + length). */
export function externalTensor(name: string, dtype: DType, dims: number[], location: string, offset: number, length: number): onnx.ITensorProto {
  return {
    name,
    dims,
    dataType: onnxElementType(dtype),
    dataLocation: proto.TensorProto.DataLocation.EXTERNAL,
    externalData: [
      { key: 'location', value: location },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(length) },
    ],
  };
}

// ---- attributes -----------------------------------------------------------------------------------

const AttributeType = proto.AttributeProto.AttributeType;

export const attrInt = (name: string, i: number): onnx.IAttributeProto => ({ name, type: AttributeType.INT, i });
export const attrInts = (name: string, ints: number[]): onnx.IAttributeProto => ({ name, type: AttributeType.INTS, ints });
export const attrTensor = (name: string, t: onnx.ITensorProto): onnx.IAttributeProto => ({ name, type: AttributeType.TENSOR, t });
