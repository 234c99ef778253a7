// Batched matmul with NumPy broadcasting of the leading dims. The 2-D kernel is an i-k-j loop over
// contiguous rows of B, two rows of A and four k at a time, in column panels that stay in cache;
// sums accumulate in float64. Each C[i, j] depends only on A[i, :], B[:, j] and K, never on M or N.
import { size } from '../tensor.js';
import type { TensorData } from '../tensor.js';
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

/** a: [...batchA, M, K], b: [...batchB, K, N] -> [...broadcast(batchA, batchB), M, N]. */
export const matmulKernel: Kernel = (op, [a, b], ctx) => {
  const out = allocResult(op, ctx);
  const rank = out.shape.length;
  const M = a!.shape[a!.shape.length - 2]!, K = a!.shape[a!.shape.length - 1]!, N = b!.shape[b!.shape.length - 1]!;
  const batchShape = out.shape.slice(0, rank - 2);
  const batch = size(batchShape);
  // Strides in whole matrices; 0 where an operand is broadcast over that batch axis.
  const aStrides = broadcastStrides(a!.shape.slice(0, -2), batchShape);
  const bStrides = broadcastStrides(b!.shape.slice(0, -2), batchShape);
  if (bStrides.every((s) => s === 0) && size(a!.shape.slice(0, -2)) === batch) {
    // One shared B (a weight): fold A's batch into its rows, so every B panel serves all of them.
    gemm(a!.data, 0, b!.data, 0, out.data, 0, batch * M, K, N);
    return out;
  }
  for (let t = 0; t < batch; t++) {
    let rest = t, am = 0, bm = 0;
    for (let d = batchShape.length - 1; d >= 0; d--) {
      const idx = rest % batchShape[d]!;
      rest = (rest - idx) / batchShape[d]!;
      am += idx * aStrides[d]!;
      bm += idx * bStrides[d]!;
    }
    gemm(a!.data, am * M * K, b!.data, bm * K * N, out.data, t * M * N, M, K, N);
  }
  return out;
};
