// Index arithmetic shared by the kernels: broadcast strides and iteration over the innermost rows of
// an output shape, with adjacent axes merged whenever every operand walks them contiguously.
import { strides } from '../tensor.js';

/** Strides (in elements) to read `shape` as if broadcast to `outShape`: right-aligned, 0 on broadcast axes. */
export function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const own = strides(shape);
  const offset = outShape.length - shape.length;
  if (offset < 0) throw new Error(`cannot broadcast [${shape.join(', ')}] to [${outShape.join(', ')}]`);
  return outShape.map((d, i) => {
    const j = i - offset;
    if (j < 0) return 0;
    const s = shape[j]!;
    if (s === d) return s === 1 ? 0 : own[j]!;
    if (s === 1) return 0;
    throw new Error(`cannot broadcast [${shape.join(', ')}] to [${outShape.join(', ')}]`);
  });
}

/** Drops size-1 axes and merges axis i into i+1 when every operand has stride[i] = stride[i+1]·shape[i+1]. */
function coalesce(shape: readonly number[], operandStrides: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = operandStrides.map(() => []);
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i]!;
    if (d === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && operandStrides.every((s, k) => s[i]! * d === outStrides[k]![last])) {
      // Merge into the previous kept axis: it becomes longer with the inner stride.
      outShape[last] = outShape[last]! * d;
      operandStrides.forEach((s, k) => { outStrides[k]![last] = s[i]!; });
      continue;
    }
    outShape.push(d);
    operandStrides.forEach((s, k) => outStrides[k]!.push(s[i]!));
  }
  if (outShape.length === 0) {
    outShape.push(1);
    outStrides.forEach((s) => s.push(0));
  }
  return { shape: outShape, strides: outStrides };
}

/**
 * Calls `row(offsets, outOffset, n, inner)` once per innermost row of `outShape` (row-major order):
 * `offsets[k]` is operand k's element offset at the row start, `inner[k]` its stride along the row,
 * and `outOffset` the row's flat index in a contiguous `outShape` tensor. `offsets` is reused between calls.
 */
export function forEachRow(
  outShape: readonly number[],
  operandStrides: readonly (readonly number[])[],
  row: (offsets: readonly number[], outOffset: number, n: number, inner: readonly number[]) => void,
): void {
  for (const d of outShape) if (d === 0) return;
  const { shape, strides: st } = coalesce(outShape, operandStrides);
  const rank = shape.length;
  const n = shape[rank - 1]!;
  const inner = st.map((s) => s[rank - 1]!);
  const offsets = st.map(() => 0);
  const counter = new Array<number>(rank - 1).fill(0);
  let outOffset = 0;
  for (;;) {
    row(offsets, outOffset, n, inner);
    outOffset += n;
    // Odometer over the outer axes, updating each operand's offset incrementally.
    let axis = rank - 2;
    while (axis >= 0) {
      counter[axis]++;
      for (let k = 0; k < offsets.length; k++) offsets[k] += st[k]![axis]!;
      if (counter[axis]! < shape[axis]!) break;
      for (let k = 0; k < offsets.length; k++) offsets[k] -= st[k]![axis]! * shape[axis]!;
      counter[axis] = 0;
      axis--;
    }
    if (axis < 0) return;
  }
}
