// Row-wise normalizations: softmax (any axis, max-subtracted), layer_norm (biased variance, eps inside
// the sqrt) and rms_norm, both over the last axis. Row statistics are computed in float64.
import { normalizeAxis } from '../../ir/ops.js';
import { size } from '../tensor.js';
import type { Kernel } from './kernel.js';
import { allocResult } from './kernel.js';

/** softmax along `axis`: x viewed as [outer, len, inner]; each (outer, inner) pair is one row with stride `inner`. */
export const softmaxKernel: Kernel = (op, [x], ctx) => {
  const axis = normalizeAxis(op.attrs.axis as number, x!.shape.length);
  const outer = size(x!.shape.slice(0, axis)), len = x!.shape[axis]!, inner = size(x!.shape.slice(axis + 1));
  const out = allocResult(op, ctx);
  const src = x!.data, dst = out.data;
  const row = new Float64Array(len);
  for (let b = 0; b < outer; b++) {
    for (let c = 0; c < inner; c++) {
      const base = b * len * inner + c;
      let max = -Infinity;
      for (let i = 0; i < len; i++) {
        const v = src[base + i * inner]!;
        if (v > max || v !== v) max = v;
      }
      // A row of -inf (everything masked) has no maximum to subtract: its softmax is NaN, as in NumPy.
      let sum = 0;
      for (let i = 0; i < len; i++) {
        const e = Math.exp(src[base + i * inner]! - max);
        row[i] = e;
        sum += e;
      }
      for (let i = 0; i < len; i++) dst[base + i * inner] = row[i]! / sum;
    }
  }
  return out;
};

/** y = (x - mean) / sqrt(var + eps) · weight + bias, var = mean((x - mean)²), per row of the last axis. */
export const layerNormKernel: Kernel = (op, [x, weight, bias], ctx) => {
  const eps = op.attrs.eps as number;
  const d = x!.shape[x!.shape.length - 1]!;
  const out = allocResult(op, ctx);
  const src = x!.data, dst = out.data, w = weight!.data, bb = bias!.data;
  for (let base = 0; base < src.length; base += d) {
    let sum = 0;
    for (let i = 0; i < d; i++) sum += src[base + i]!;
    const mean = sum / d;
    let sq = 0;
    for (let i = 0; i < d; i++) {
      const c = src[base + i]! - mean;
      sq += c * c;
    }
    const inv = 1 / Math.sqrt(sq / d + eps);
    for (let i = 0; i < d; i++) dst[base + i] = (src[base + i]! - mean) * inv * w[i]! + bb[i]!;
  }
  return out;
};

/** y = x / sqrt(mean(x²) + eps) · weight, per row of the last axis. */
export const rmsNormKernel: Kernel = (op, [x, weight], ctx) => {
  const eps = op.attrs.eps as number;
  const d = x!.shape[x!.shape.length - 1]!;
  const out = allocResult(op, ctx);
  const src = x!.data, dst = out.data, w = weight!.data;
  for (let base = 0; base < src.length; base += d) {
    let sq = 0;
    for (let i = 0; i < d; i++) sq += src[base + i]! * src[base + i]!;
    const inv = 1 / Math.sqrt(sq / d + eps);
    for (let i = 0; i < d; i++) dst[base + i] = src[base + i]! * inv * w[i]!;
  }
  return out;
};
