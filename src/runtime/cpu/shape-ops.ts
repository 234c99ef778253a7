// Data movement: reshape (shares storage), transpose, slice (with step), concat and gather.
// All copy whole contiguous runs with TypedArray.set where the layout allows.
import { normalizeAxis } from '../../ir/ops.js';
import type { TensorData } from '../tensor.js';
import { shapeText, size, strides } from '../tensor.js';
import type { Kernel } from './kernel.js';
import { allocResult, attrDim, dataError } from './kernel.js';
import { forEachRow } from './strided.js';

/** dst[o..o+n) = src[from..from+n); short runs by hand, since subarray() allocates a view. */
function copyRun(dst: TensorData, o: number, src: TensorData, from: number, n: number): void {
  if (n < 32) for (let i = 0; i < n; i++) dst[o + i] = src[from + i]!;
  else dst.set(src.subarray(from, from + n), o);
}

export const reshapeKernel: Kernel = (_op, [x], ctx) => ({ dtype: x!.dtype, shape: ctx.outShape, data: x!.data });

/** True for [0, 1, ..., n-3, n-1, n-2]: a batch of matrix transposes. */
export function swapsLastTwo(perm: readonly number[]): boolean {
  const n = perm.length;
  return n >= 2 && perm[n - 2] === n - 1 && perm[n - 1] === n - 2 && perm.slice(0, -2).every((p, i) => p === i);
}

export const transposeKernel: Kernel = (op, [x], ctx) => {
  const perm = op.attrs.perm as number[];
  const out = allocResult(op, ctx);
  const rank = perm.length;
  const src = x!.data, dst = out.data;
  if (swapsLastTwo(perm)) {
    // [..., R, C] -> [..., C, R]: tiled, so both sides stay in cache (the LM head's [V, D] weight).
    const rows = x!.shape[rank - 2]!, cols = x!.shape[rank - 1]!;
    for (let b = 0, base = 0; b < size(x!.shape.slice(0, -2)); b++, base += rows * cols) transpose2d(src, dst, base, rows, cols);
    return out;
  }
  const own = strides(x!.shape);
  // Output axis i walks input axis perm[i].
  forEachRow(out.shape, [perm.map((p) => own[p]!)], (off, o, n, inner) => {
    const s = inner[0]!;
    let from = off[0]!;
    if (s === 1) copyRun(dst, o, src, from, n);
    else for (let i = 0; i < n; i++, from += s) dst[o + i] = src[from]!;
  });
  return out;
};

/** dst[base + c·rows + r] = src[base + r·cols + c] in 32×32 tiles. */
function transpose2d(src: TensorData, dst: TensorData, base: number, rows: number, cols: number): void {
  const T = 32;
  for (let r0 = 0; r0 < rows; r0 += T) {
    const r1 = Math.min(rows, r0 + T);
    for (let c0 = 0; c0 < cols; c0 += T) {
      const c1 = Math.min(cols, c0 + T);
      for (let r = r0; r < r1; r++) {
        const from = base + r * cols;
        for (let c = c0; c < c1; c++) dst[base + c * rows + r] = src[from + c]!;
      }
    }
  }
}

/** Splits a shape around `axis` into (outer, length, inner) element counts. */
function around(shape: readonly number[], axis: number): [number, number, number] {
  return [size(shape.slice(0, axis)), shape[axis]!, size(shape.slice(axis + 1))];
}

export const sliceKernel: Kernel = (op, [x], ctx) => {
  const axis = normalizeAxis(op.attrs.axis as number, x!.shape.length);
  const start = attrDim(op, ctx, 'start');
  const end = attrDim(op, ctx, 'end');
  const step = op.attrs.step as number;
  const [outer, len, inner] = around(x!.shape, axis);
  if (start < 0 || end > len || start > end) {
    throw dataError(op, `slice [${start}:${end}] is out of range for axis ${axis} of ${shapeText(x!.shape)}`);
  }
  const out = allocResult(op, ctx);
  const count = out.shape[axis]!;
  const src = x!.data, dst = out.data;
  let o = 0;
  for (let b = 0; b < outer; b++) {
    for (let i = 0; i < count; i++, o += inner) {
      copyRun(dst, o, src, (b * len + start + i * step) * inner, inner);
    }
  }
  return out;
};

export const concatKernel: Kernel = (op, xs, ctx) => {
  const axis = normalizeAxis(op.attrs.axis as number, ctx.outShape.length);
  const out = allocResult(op, ctx);
  const [outer] = around(out.shape, axis);
  const chunks = xs.map((x) => size(x.shape.slice(axis)));
  let o = 0;
  for (let b = 0; b < outer; b++) {
    xs.forEach((x, k) => {
      const chunk = chunks[k]!;
      copyRun(out.data, o, x.data, b * chunk, chunk);
      o += chunk;
    });
  }
  return out;
};

/** out = table.shape[:axis] + indices.shape + table.shape[axis+1:]; indices must lie in [0, table.shape[axis]). */
export const gatherKernel: Kernel = (op, [table, indices], ctx) => {
  const axis = normalizeAxis(op.attrs.axis as number, table!.shape.length);
  const [outer, len, inner] = around(table!.shape, axis);
  const idx = indices!.data;
  for (let j = 0; j < idx.length; j++) {
    const v = idx[j]!;
    if (!(v >= 0 && v < len)) {
      throw dataError(op, `index ${v} (element ${j} of the indices) is out of range [0, ${len}) for axis ${axis} of ${op.operands[0]!.id} ${shapeText(table!.shape)}`);
    }
  }
  const out = allocResult(op, ctx);
  const src = table!.data, dst = out.data;
  let o = 0;
  for (let b = 0; b < outer; b++) {
    for (let j = 0; j < idx.length; j++, o += inner) {
      copyRun(dst, o, src, (b * len + idx[j]!) * inner, inner);
    }
  }
  return out;
};
