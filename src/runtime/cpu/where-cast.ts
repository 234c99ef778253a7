// where (3-way broadcast select), cast, constant and iota. Float → int casts truncate toward zero and
// saturate (NaN → 0), as WGSL and CUDA's cvt.rzi do; int → int casts wrap; x → bool is x != 0.
import type { DType } from '../../ir/types.js';
import { isFloat } from '../../ir/types.js';
import type { TensorData } from '../tensor.js';
import type { Kernel } from './kernel.js';
import { allocResult, attrDim } from './kernel.js';
import { broadcastStrides, forEachRow } from './strided.js';

export const whereKernel: Kernel = (op, [c, a, b], ctx) => {
  const out = allocResult(op, ctx);
  const cd = c!.data, x = a!.data, y = b!.data, z = out.data;
  const st = [c!, a!, b!].map((t) => broadcastStrides(t.shape, out.shape));
  forEachRow(out.shape, st, (off, o, n, inner) => {
    const [co, ao, bo] = off as [number, number, number];
    const [cs, as, bs] = inner as [number, number, number];
    for (let i = 0; i < n; i++) z[o + i] = cd[co + i * cs] ? x[ao + i * as]! : y[bo + i * bs]!;
  });
  return out;
};

const I32_MIN = -2147483648, I32_MAX = 2147483647;
const I64_LIMIT = 2 ** 63;

/** Writes `x` converted from dtype `from` into `y` of dtype `to`. */
export function convert(x: TensorData, from: DType, y: TensorData, to: DType): void {
  const n = x.length;
  if (to === 'bool') {
    for (let i = 0; i < n; i++) y[i] = x[i] !== 0 ? 1 : 0;
  } else if (isFloat(from) && to === 'i32') {
    for (let i = 0; i < n; i++) { const v = x[i]!; y[i] = v !== v ? 0 : v <= I32_MIN ? I32_MIN : v >= I32_MAX ? I32_MAX : Math.trunc(v); }
  } else if (isFloat(from) && to === 'i64') {
    for (let i = 0; i < n; i++) { const v = x[i]!; y[i] = v !== v ? 0 : v <= -I64_LIMIT ? -I64_LIMIT : v >= I64_LIMIT ? I64_LIMIT : Math.trunc(v); }
  } else {
    // Floats to floats round on store; ints to i32 wrap modulo 2^32 on store (Int32Array).
    y.set(x);
  }
}

export const castKernel: Kernel = (op, [x], ctx) => {
  const to = op.attrs.to as DType;
  const out = allocResult(op, ctx);
  convert(x!.data, x!.dtype, out.data, to);
  return out;
};

export const constantKernel: Kernel = (op, _args, ctx) => {
  const out = allocResult(op, ctx);
  convert(new Float64Array([op.attrs.value as number]), 'f64', out.data, out.dtype);
  return out;
};

export const iotaKernel: Kernel = (op, _args, ctx) => {
  const out = allocResult(op, ctx);
  const n = attrDim(op, ctx, 'length');
  const start = op.attrs.start === undefined ? 0 : attrDim(op, ctx, 'start');
  for (let i = 0; i < n; i++) out.data[i] = start + i;
  return out;
};
