// Batched matmul with NumPy broadcasting of the leading dims. The 2-D kernel is an i-k-j loop over
// contiguous rows of B, two rows of A and four k at a time, in column panels that stay in cache;
// sums accumulate in float64. Each C[i, j] depends only on A[i, :], B[:, j] and K, never on M or N.
// A variant takes B transposed ([N, K] rows, dot products) to skip materializing a transpose.
import { size } from '../tensor.js';
import type { Tensor, TensorData } from '../tensor.js';
import type { Kernel } from './kernel.js';
import { allocResult } from './kernel.js';
import { broadcastStrides } from './strided.js';

/** Columns of B per panel: a K×PANEL block of B is reused by every row of A. */
const PANEL = 512;

/** C[cOff + i·N + j] = Σ_k A[aOff + i·K + k] · B[bOff + k·N + j] for i < M, j < N. */
export function gemm(
  a: TensorData, aOff: number, b: TensorData, bOff: number, c: TensorData, cOff: number,
  M: number, K: number, N: number,
): void {
  const width = Math.min(PANEL, N);
  const acc0 = new Float64Array(width), acc1 = new Float64Array(width);
  const K4 = K - (K % 4);
  for (let j0 = 0; j0 < N; j0 += PANEL) {
    const jn = Math.min(PANEL, N - j0);
    let i = 0;
    for (; i + 2 <= M; i += 2) {
      acc0.fill(0);
      acc1.fill(0);
      const r0 = aOff + i * K, r1 = r0 + K;
      for (let k = 0; k < K4; k += 4) {
        const x0 = a[r0 + k]!, x1 = a[r0 + k + 1]!, x2 = a[r0 + k + 2]!, x3 = a[r0 + k + 3]!;
        const y0 = a[r1 + k]!, y1 = a[r1 + k + 1]!, y2 = a[r1 + k + 2]!, y3 = a[r1 + k + 3]!;
        const b0 = bOff + k * N + j0, b1 = b0 + N, b2 = b1 + N, b3 = b2 + N;
        for (let j = 0; j < jn; j++) {
          const w0 = b[b0 + j]!, w1 = b[b1 + j]!, w2 = b[b2 + j]!, w3 = b[b3 + j]!;
          acc0[j] += x0 * w0 + x1 * w1 + x2 * w2 + x3 * w3;
          acc1[j] += y0 * w0 + y1 * w1 + y2 * w2 + y3 * w3;
        }
      }
      for (let k = K4; k < K; k++) {
        const x = a[r0 + k]!, y = a[r1 + k]!, bk = bOff + k * N + j0;
        for (let j = 0; j < jn; j++) {
          const w = b[bk + j]!;
          acc0[j] += x * w;
          acc1[j] += y * w;
        }
      }
      const c0 = cOff + i * N + j0, c1 = c0 + N;
      for (let j = 0; j < jn; j++) {
        c[c0 + j] = acc0[j]!;
        c[c1 + j] = acc1[j]!;
      }
    }
    if (i < M) {
      // The odd last row, with the same summation order as the paired rows.
      acc0.fill(0);
      const r0 = aOff + i * K;
      for (let k = 0; k < K4; k += 4) {
        const x0 = a[r0 + k]!, x1 = a[r0 + k + 1]!, x2 = a[r0 + k + 2]!, x3 = a[r0 + k + 3]!;
        const b0 = bOff + k * N + j0, b1 = b0 + N, b2 = b1 + N, b3 = b2 + N;
        for (let j = 0; j < jn; j++) acc0[j] += x0 * b[b0 + j]! + x1 * b[b1 + j]! + x2 * b[b2 + j]! + x3 * b[b3 + j]!;
      }
      for (let k = K4; k < K; k++) {
        const x = a[r0 + k]!, bk = bOff + k * N + j0;
        for (let j = 0; j < jn; j++) acc0[j] += x * b[bk + j]!;
      }
      const c0 = cOff + i * N + j0;
      for (let j = 0; j < jn; j++) c[c0 + j] = acc0[j]!;
    }
  }
}

/** C[cOff + i·N + j] = Σ_k A[aOff + i·K + k] · Bt[bOff + j·K + k]: B given transposed, as [N, K] rows. */
export function gemmTransposedB(
  a: TensorData, aOff: number, bt: TensorData, bOff: number, c: TensorData, cOff: number,
  M: number, K: number, N: number,
): void {
  const N4 = N - (N % 4);
  // 4 rows of Bt against 2 rows of A: 8 dot products share each load; Bt rows stay in L1 across i.
  for (let j = 0; j < N4; j += 4) {
    const q0 = bOff + j * K, q1 = q0 + K, q2 = q1 + K, q3 = q2 + K;
    let i = 0;
    for (; i + 2 <= M; i += 2) {
      const p0 = aOff + i * K, p1 = p0 + K;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      for (let k = 0; k < K; k++) {
        const x0 = a[p0 + k]!, x1 = a[p1 + k]!;
        const w0 = bt[q0 + k]!, w1 = bt[q1 + k]!, w2 = bt[q2 + k]!, w3 = bt[q3 + k]!;
        s00 += x0 * w0; s01 += x0 * w1; s02 += x0 * w2; s03 += x0 * w3;
        s10 += x1 * w0; s11 += x1 * w1; s12 += x1 * w2; s13 += x1 * w3;
      }
      const o0 = cOff + i * N + j, o1 = o0 + N;
      c[o0] = s00; c[o0 + 1] = s01; c[o0 + 2] = s02; c[o0 + 3] = s03;
      c[o1] = s10; c[o1 + 1] = s11; c[o1 + 2] = s12; c[o1 + 3] = s13;
    }
    for (; i < M; i++) {
      const p0 = aOff + i * K;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let k = 0; k < K; k++) {
        const x = a[p0 + k]!;
        s0 += x * bt[q0 + k]!; s1 += x * bt[q1 + k]!; s2 += x * bt[q2 + k]!; s3 += x * bt[q3 + k]!;
      }
      const o = cOff + i * N + j;
      c[o] = s0; c[o + 1] = s1; c[o + 2] = s2; c[o + 3] = s3;
    }
  }
  for (let j = N4; j < N; j++) {
    for (let i = 0; i < M; i++) {
      let s = 0;
      const p = aOff + i * K, q = bOff + j * K;
      for (let k = 0; k < K; k++) s += a[p + k]! * bt[q + k]!;
      c[cOff + i * N + j] = s;
    }
  }
}

/**
 * a: [...batchA, M, K] @ b: [...batchB, K, N] -> [...broadcast(batchA, batchB), M, N]. With
 * `transposedB`, the operand given is bᵀ: [...batchB, N, K] (the interpreter skips materializing a
 * transpose whose only uses are matmul right operands, e.g. a tied LM head).
 */
export function batchedMatmul(a: Tensor, b: Tensor, out: Tensor, transposedB: boolean): void {
  const rank = out.shape.length;
  const M = a.shape[a.shape.length - 2]!, K = a.shape[a.shape.length - 1]!;
  const N = out.shape[rank - 1]!;
  const kernel = transposedB ? gemmTransposedB : gemm;
  const batchShape = out.shape.slice(0, rank - 2);
  const batch = size(batchShape);
  // Strides in whole matrices; 0 where an operand is broadcast over that batch axis.
  const aStrides = broadcastStrides(a.shape.slice(0, -2), batchShape);
  const bStrides = broadcastStrides(b.shape.slice(0, -2), batchShape);
  if (bStrides.every((s) => s === 0) && size(a.shape.slice(0, -2)) === batch) {
    // One shared B (a weight): fold A's batch into its rows, so every B panel serves all of them.
    kernel(a.data, 0, b.data, 0, out.data, 0, batch * M, K, N);
    return;
  }
  for (let t = 0; t < batch; t++) {
    let rest = t, am = 0, bm = 0;
    for (let d = batchShape.length - 1; d >= 0; d--) {
      const idx = rest % batchShape[d]!;
      rest = (rest - idx) / batchShape[d]!;
      am += idx * aStrides[d]!;
      bm += idx * bStrides[d]!;
    }
    kernel(a.data, am * M * K, b.data, bm * K * N, out.data, t * M * N, M, K, N);
  }
}

export const matmulKernel: Kernel = (op, [a, b], ctx) => {
  const out = allocResult(op, ctx);
  batchedMatmul(a!, b!, out, false);
  return out;
};

/** matmul whose right operand arrives untransposed: args are [a, bᵀ]. */
export const matmulTransposedBKernel: Kernel = (op, [a, bt], ctx) => {
  const out = allocResult(op, ctx);
  batchedMatmul(a!, bt!, out, true);
  return out;
};
