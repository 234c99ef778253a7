// Views: reshape, transpose and slice cost nothing on a GPU when they can be expressed as an
// offset and strides over an existing buffer; kernels then read through those strides. All
// arithmetic is on symbolic dims, so a view is resolved once at compile time for every seq length.
import type { Dim } from '../../ir/dim.js';
import { dimAdd, dimEq, dimMul, dimProduct } from '../../ir/dim.js';
import type { Strided } from '../templates/instance.js';

export interface View {
  /** The buffer (a graph value id that owns storage) the view reads. */
  base: string;
  shape: Dim[];
  layout: Strided;
}

export function contiguousStrides(shape: readonly Dim[]): Dim[] {
  const strides: Dim[] = new Array(shape.length);
  let s: Dim = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s = dimMul(s, shape[i]!);
  }
  return strides;
}

export function ownView(base: string, shape: readonly Dim[]): View {
  return { base, shape: [...shape], layout: { offset: 0, strides: contiguousStrides(shape) } };
}

/** Row-major with no gaps (size-1 axes may have any stride); the offset may be anything. */
export function isContiguous(v: View): boolean {
  const want = contiguousStrides(v.shape);
  return v.shape.every((d, i) => d === 1 || dimEq(v.layout.strides[i]!, want[i]!));
}

export function transposeView(v: View, perm: readonly number[]): View {
  return { base: v.base, shape: perm.map((p) => v.shape[p]!), layout: { offset: v.layout.offset, strides: perm.map((p) => v.layout.strides[p]!) } };
}

export function sliceView(v: View, axis: number, start: Dim, end: Dim, step: number, shape: readonly Dim[]): View {
  const strides = [...v.layout.strides];
  const offset = dimAdd(v.layout.offset, dimMul(start, strides[axis]!));
  strides[axis] = dimMul(strides[axis]!, step);
  void end;
  return { base: v.base, shape: [...shape], layout: { offset, strides } };
}

/**
 * The strides of `v` reshaped to `shape`, when that is a view (PyTorch's rule: axes may only be
 * merged or split within runs that are contiguous relative to each other); undefined otherwise.
 */
export function reshapeView(v: View, shape: readonly Dim[]): View | undefined {
  const old = v.shape, oldStrides = v.layout.strides;
  if (!dimEq(dimProduct(old), dimProduct(shape))) return undefined;
  if (old.length === 0) return { base: v.base, shape: [...shape], layout: { offset: v.layout.offset, strides: contiguousStrides(shape) } };
  const strides: Dim[] = new Array(shape.length).fill(1);
  let viewD = shape.length - 1;
  let chunkBase: Dim = oldStrides[old.length - 1]!;
  let tensorNumel: Dim = 1;
  let viewNumel: Dim = 1;
  for (let d = old.length - 1; d >= 0; d--) {
    tensorNumel = dimMul(tensorNumel, old[d]!);
    const chunkEnds = d === 0 || (old[d - 1] !== 1 && !dimEq(oldStrides[d - 1]!, dimMul(tensorNumel, chunkBase)));
    if (!chunkEnds) continue;
    while (viewD >= 0 && (!dimEq(viewNumel, tensorNumel) || shape[viewD] === 1)) {
      strides[viewD] = dimMul(viewNumel, chunkBase);
      viewNumel = dimMul(viewNumel, shape[viewD]!);
      viewD--;
      if (!dimEq(viewNumel, tensorNumel) && typeof viewNumel === 'number' && typeof tensorNumel === 'number' && viewNumel > tensorNumel) return undefined;
    }
    if (!dimEq(viewNumel, tensorNumel)) return undefined;
    if (d > 0) {
      chunkBase = oldStrides[d - 1]!;
      tensorNumel = 1;
      viewNumel = 1;
    }
  }
  if (viewD !== -1) return undefined;
  return { base: v.base, shape: [...shape], layout: { offset: v.layout.offset, strides } };
}

/**
 * Strides of `v` broadcast to `shape` (NumPy rules, right-aligned): missing and size-1 axes that
 * broadcast get stride 0.
 */
export function broadcastLayout(v: View, shape: readonly Dim[]): Strided {
  const pad = shape.length - v.shape.length;
  return {
    offset: v.layout.offset,
    strides: shape.map((d, i) => {
      if (i < pad) return 0;
      const own = v.shape[i - pad]!;
      return own === 1 && d !== 1 ? 0 : v.layout.strides[i - pad]!;
    }),
  };
}
