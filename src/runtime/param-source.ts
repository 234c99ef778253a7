// Where a run's parameters come from: a Map of tensors, a weights file or a seeded init, all behind
// `get(name)`, so tensors can be materialized on first use and dropped after their last use.
import { PtmError, diag, nearestName } from '../diagnostics/index.js';
import { shapeToString } from '../ir/dim.js';
import type { DType, Param } from '../ir/types.js';
import { isFloat } from '../ir/types.js';
import { roundToHalf } from './half.js';
import { concreteShape } from './shapes.js';
import type { Precision, Tensor } from './tensor.js';
import { allocate, shapeText, size, withPrecision } from './tensor.js';

export interface ParamSource {
  /** The tensor stored under a parameter name (`layers.0.attn.q.weight`), or undefined. */
  get(name: string): Tensor | undefined;
  /** The names it holds, for "did you mean" suggestions. A Map provides this. */
  keys?(): Iterable<string>;
  /** Where the tensors come from, named in error messages (a file path, `seed 0`); `<params>` if absent. */
  readonly label?: string;
}

/** A parameter of dtype `expected` accepts a tensor of the same dtype, or any float for a float (converted). */
export function dtypeCompatible(expected: DType, got: DType): boolean {
  return expected === got || (isFloat(expected) && isFloat(got));
}

/**
 * Values of `t` stored as `dtype` under `precision`: f16/bf16 are rounded in f32 precision, bools
 * normalized to 0/1. Never mutates `t`; shares its storage when nothing changes.
 */
export function toStorage(t: Tensor, dtype: DType, precision: Precision): Tensor {
  if (dtype === 'bool' && t.dtype === 'bool' && t.data.some((v) => v !== 0 && v !== 1)) {
    return { dtype, shape: t.shape, data: Uint8Array.from(t.data, (v) => (v ? 1 : 0)) };
  }
  const half = precision === 'f32' && (dtype === 'f16' || dtype === 'bf16') ? dtype : undefined;
  if (t.dtype === dtype && !half) return withPrecision(t, precision);
  const data = allocate(dtype, t.data.length, precision);
  data.set(t.data);
  if (half) roundToHalf(data as Float32Array, half);
  return { dtype, shape: t.shape, data };
}

/** Checks `t` against the declared parameter (exact shape, compatible dtype) and converts its storage. */
export function checkParam(param: Param, t: Tensor | undefined, source: ParamSource, symbols: ReadonlyMap<string, number>, precision: Precision): Tensor {
  const label = source.label ?? '<params>';
  const name = param.name;
  if (t === undefined) throw new PtmError(diag.weights_missing_tensor(param.loc, label, name, nearestName(name, source.keys?.() ?? [])));
  const declared = param.value.type;
  const expected = concreteShape(declared.shape, symbols, param.loc, `parameter '${name}'`);
  if (t.shape.length !== expected.length || t.shape.some((d, i) => d !== expected[i])) {
    const shown = expected.some((d, i) => String(d) !== String(declared.shape[i])) ? `${shapeText(expected)} (${shapeToString(declared.shape)})` : shapeText(expected);
    throw new PtmError(diag.weights_shape_mismatch(param.loc, label, name, shown, shapeText(t.shape)));
  }
  if (!dtypeCompatible(declared.dtype, t.dtype)) throw new PtmError(diag.weights_dtype_mismatch(param.loc, label, name, declared.dtype, t.dtype));
  if (t.data.length !== size(t.shape)) {
    throw new PtmError(diag.weights_invalid(param.loc, label, `tensor '${name}' holds ${t.data.length} values, but its shape ${shapeText(t.shape)} needs ${size(t.shape)}`));
  }
  return toStorage(t, declared.dtype, precision);
}
