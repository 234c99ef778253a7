// reduce_sum, reduce_mean, reduce_max over a set of axes, with or without keepdims. Sums accumulate
// in float64 in row-major order of the input; max propagates NaN; int means truncate toward zero.
import { normalizeAxis } from '../../ir/ops.js';
import { isInt } from '../../ir/types.js';
import { size, strides } from '../tensor.js';
import type { Kernel } from './kernel.js';
import { allocResult } from './kernel.js';
import { forEachRow } from './strided.js';

export type ReduceKind = 'sum' | 'mean' | 'max';

export const reduceKernel = (kind: ReduceKind): Kernel => (op, [x], ctx) => {
  const inShape = x!.shape;
  const axes = new Set((op.attrs.axes as number[]).map((a) => normalizeAxis(a, inShape.length)));
  // Strides into the accumulator, indexed by input axis: 0 on reduced axes.
  const kept = inShape.map((d, i) => (axes.has(i) ? 1 : d));
  const keptStrides = strides(kept);
  const accStrides = inShape.map((_, i) => (axes.has(i) ? 0 : keptStrides[i]!));
  const acc = new Float64Array(size(kept)).fill(kind === 'max' ? -Infinity : 0);
  const src = x!.data;
  forEachRow(inShape, [accStrides], (off, from, n, inner) => {
    const a0 = off[0]!, s = inner[0]!;
    if (kind === 'max') {
      for (let i = 0; i < n; i++) {
        const v = src[from + i]!;
        const j = a0 + i * s;
        if (v > acc[j]! || v !== v) acc[j] = v;
      }
    } else {
      for (let i = 0; i < n; i++) acc[a0 + i * s] += src[from + i]!;
    }
  });
  const out = allocResult(op, ctx);
  if (kind === 'mean') {
    const count = size(inShape) / Math.max(1, acc.length);
    for (let j = 0; j < acc.length; j++) acc[j] = acc[j]! / count;
  }
  if (isInt(out.dtype)) for (let j = 0; j < acc.length; j++) acc[j] = Math.trunc(acc[j]!);
  out.data.set(acc);
  return out;
};
