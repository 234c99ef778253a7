// Index math shared by kernel templates: broadcast strides as Dims, collapsing of axes that address
// alike, linear index -> multi-index in kernel IR, and launch grids past the 65535-workgroup limit.
// Sizes and strides become u32 launch parameters (LaunchParams); only strides 0 and 1 are structural.
import type { Dim } from '../../ir/dim.js';
import { dimMul, shapeToString } from '../../ir/dim.js';
import type { Expr, Stmt, UniformParam } from '../kernel-ir/types.js';
import * as k from '../kernel-ir/build.js';

/** WebGPU's (and CUDA's y/z) limit on workgroups per grid axis. */
export const MAX_WORKGROUPS_PER_AXIS = 65535;

/** Row-major strides of a contiguous tensor: strides[a] = product of shape[a+1..]. */
export function contiguousStrides(shape: readonly Dim[]): Dim[] {
  const out: Dim[] = new Array<Dim>(shape.length);
  let s: Dim = 1;
  for (let a = shape.length - 1; a >= 0; a--) {
    out[a] = s;
    s = dimMul(s, shape[a]!);
  }
  return out;
}

/**
 * Strides of a contiguous tensor of `shape` read at the elements of `out` under NumPy broadcasting:
 * one per axis of `out` (shapes right-aligned), 0 where the tensor has size 1 or lacks the axis.
 * Throws when the shapes do not broadcast.
 */
export function broadcastStrides(shape: readonly Dim[], out: readonly Dim[]): Dim[] {
  if (shape.length > out.length) throw new Error(`kernel template: ${shapeToString(shape)} does not broadcast to ${shapeToString(out)}`);
  const own = contiguousStrides(shape);
  const lead = out.length - shape.length;
  return out.map((d, a) => {
    if (a < lead) return 0;
    const s = shape[a - lead]!;
    if (s === d) return s === 1 ? 0 : own[a - lead]!;
    if (s === 1) return 0;
    throw new Error(`kernel template: ${shapeToString(shape)} does not broadcast to ${shapeToString(out)} (axis ${a}: ${s} vs ${d})`);
  });
}

/** An iteration space and, per operand, its strides over that space's axes. */
export interface AxisLayout {
  shape: Dim[];
  strides: Dim[][];
}

/**
 * The same addressing over fewer axes: drops axes of size 1, then merges axis a into a+1 wherever
 * every operand has strides[a] == strides[a+1] * shape[a+1] (a contiguous run for all of them, or a
 * broadcast for all). A row-major walk over the result visits elements in the original order, so a
 * linear index over the collapsed shape is still the linear index over the original one.
 */
export function collapseAxes(shape: readonly Dim[], strides: readonly (readonly Dim[])[]): AxisLayout {
  const keep = shape.map((_, a) => a).filter((a) => shape[a] !== 1);
  const outShape: Dim[] = [];
  const outStrides: Dim[][] = strides.map(() => []);
  // Walk from the innermost axis outwards; the current group is at the front of the outputs.
  for (let n = keep.length - 1; n >= 0; n--) {
    const a = keep[n]!;
    const merges = outShape.length > 0 && strides.every((s, j) => s[a] === dimMul(outStrides[j]![0]!, outShape[0]!));
    if (merges) outShape[0] = dimMul(shape[a]!, outShape[0]!);
    else {
      outShape.unshift(shape[a]!);
      strides.forEach((s, j) => outStrides[j]!.unshift(s[a]!));
    }
  }
  return { shape: outShape, strides: outStrides };
}

/**
 * The u32 launch parameters of a kernel: each a uniform plus its value as a Dim over the graph's
 * symbols (what KernelInstance.params holds). Adding a name twice must give the same value.
 */
export class LaunchParams {
  readonly uniforms: UniformParam[] = [];
  readonly values: Record<string, Dim> = {};

  add(name: string, value: Dim): Expr {
    const known = this.values[name];
    if (known !== undefined) {
      if (known !== value) throw new Error(`kernel template: parameter ${name} given two values (${known}, ${value})`);
    } else {
      const p = k.uniform(name);
      this.uniforms.push(p);
      this.values[name] = value;
    }
    return k.param(k.uniform(name));
  }
}

/**
 * Σ coords[a] * strides[a] as a u32 expression. Strides 0 and 1 are structural (omitted / no
 * multiply); any other stride is a launch parameter `${name}_s${a}`, so the kernel stays generic.
 */
export function stridedOffset(coords: readonly Expr[], strides: readonly Dim[], params: LaunchParams, name: string): Expr {
  let sum: Expr | undefined;
  strides.forEach((s, a) => {
    if (s === 0) return;
    const term = s === 1 ? coords[a]! : k.mul(coords[a]!, params.add(`${name}_s${a}`, s));
    sum = sum ? k.add(sum, term) : term;
  });
  return sum ?? k.u(0);
}

/**
 * Multi-index of the row-major `linear` index over `dims` (u32 expressions), as `let` statements
 * named `${name}${a}`: c[r-1] = i % d[r-1], c[r-2] = (i / d[r-1]) % d[r-2], ..., c[0] = the rest
 * (dims[0] is never read: the caller guarantees linear < product(dims)). Coordinates whose `needed`
 * entry is false are not computed (their entry in `coords` must not be used).
 */
export function unravelIndex(linear: Expr, dims: readonly Expr[], name: string, needed: readonly boolean[] = dims.map(() => true)): { stmts: Stmt[]; coords: Expr[] } {
  const rank = dims.length;
  const stmts: Stmt[] = [];
  const coords: Expr[] = new Array<Expr>(rank);
  let rest = linear;
  for (let a = rank - 1; a >= 1; a--) {
    if (needed[a]) {
      stmts.push(k.let_(`${name}${a}`, k.mod(rest, dims[a]!)));
      coords[a] = k.ref(`${name}${a}`, k.u32);
    }
    if (!needed.slice(0, a).some(Boolean)) return { stmts, coords };
    stmts.push(k.let_(`${name}_q${a}`, k.div(rest, dims[a]!)));
    rest = k.ref(`${name}_q${a}`, k.u32);
  }
  if (rank > 0) coords[0] = rest;
  return { stmts, coords };
}

/**
 * Launch grid for `workgroups` (a u32 expression over params) that may exceed the per-axis limit:
 * x = min(w, 65535), y = ceil(w / 65535). Kernels read their flat id with `flatWorkgroupId` and
 * must ignore ids >= w (the last y row may be partly past the end).
 */
export function grid2d(workgroups: Expr): [Expr, Expr, Expr] {
  return [k.min(workgroups, MAX_WORKGROUPS_PER_AXIS), k.ceilDiv(workgroups, MAX_WORKGROUPS_PER_AXIS), k.u(1)];
}

/** The workgroup's index in a `grid2d` launch: workgroup_id.y * num_workgroups.x + workgroup_id.x. */
export function flatWorkgroupId(): Expr {
  return k.add(k.mul(k.workgroupId(1), k.numWorkgroups(0)), k.workgroupId(0));
}

/** The invocation's index in a 1-D `grid2d` launch of `workgroupSize`-wide workgroups. */
export function flatGlobalId(workgroupSize: number): Expr {
  return k.add(k.mul(flatWorkgroupId(), workgroupSize), k.localId(0));
}
