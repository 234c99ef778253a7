// Strided copy: a view of one buffer (offset + strides) into a view of another, one invocation per
// element. Copies to a contiguous buffer serve readers that cannot take strides (elementwise/row
// kernels, outputs); concatenation is one copy per operand into its region of the output (generation's
// key/value caches: concat([cache, new keys], axis 2), with a cache that may be empty: n = 0).
import type { Span } from '../../diagnostics/span.js';
import type { Dim } from '../../ir/dim.js';
import { dimProduct } from '../../ir/dim.js';
import * as k from '../kernel-ir/build.js';
import type { Expr, KType, Stmt } from '../kernel-ir/types.js';
import type { KernelInstance, StorageType, Strided } from './instance.js';

const WORKGROUP = 256;

export interface CopySpec {
  storage: StorageType;
  /** The elements copied (the source view's shape, and the region of the destination they fill). */
  shape: Dim[];
  src: Strided;
  /** Where the region starts in the destination and the destination's strides. */
  dst: Strided;
  locs: Span[];
}

export function copyKernel(spec: CopySpec): KernelInstance {
  const type: KType = spec.storage === 'f32' ? k.f32 : spec.storage === 'i32' ? k.i32 : k.u32;
  const src = k.buffer('src', type, 'read');
  const dst = k.buffer('dst', type, 'read_write');
  const rank = spec.shape.length;
  const n = k.uniform('n');
  const srcOffset = k.uniform('src_offset');
  const dstOffset = k.uniform('dst_offset');
  const dims = spec.shape.map((_, i) => k.uniform(`dim${i}`));
  const srcStrides = spec.shape.map((_, i) => k.uniform(`src_stride${i}`));
  const dstStrides = spec.shape.map((_, i) => k.uniform(`dst_stride${i}`));
  const groupsX = k.uniform('groups_x');
  // Linear index over a 2-D grid (x up to 65535 workgroups).
  const linear = k.add(k.mul(k.workgroupId(1), k.mul(k.param(groupsX), WORKGROUP)), k.add(k.mul(k.workgroupId(0), WORKGROUP), k.localId(0)));
  const body: Stmt[] = [k.let_('i', linear), k.if_(k.lt(k.ref('i', k.u32), k.param(n)), [
    k.var_('rest', k.ref('i', k.u32)),
    k.var_('from', k.param(srcOffset)),
    k.var_('to', k.param(dstOffset)),
    // Peel indices from the last axis: idx_d = rest % dim_d; rest /= dim_d.
    ...[...Array(rank).keys()].reverse().flatMap((d): Stmt[] => [
      k.let_(`idx${d}`, k.mod(k.ref('rest', k.u32), k.param(dims[d]!))),
      k.assign('from', k.add(k.ref('from', k.u32), k.mul(k.ref(`idx${d}`, k.u32), k.param(srcStrides[d]!)))),
      k.assign('to', k.add(k.ref('to', k.u32), k.mul(k.ref(`idx${d}`, k.u32), k.param(dstStrides[d]!)))),
      k.assign('rest', k.div(k.ref('rest', k.u32), k.param(dims[d]!))),
    ]),
    k.store(dst, k.ref('to', k.u32), k.load(src, k.ref('from', k.u32))),
  ])];
  const groups: Expr = k.ceilDiv(k.param(n), WORKGROUP);
  const kernel = {
    name: `copy_r${rank}_${spec.storage}`,
    workgroupSize: [WORKGROUP, 1, 1] as [number, number, number],
    buffers: [src, dst],
    params: [n, srcOffset, dstOffset, ...dims, ...srcStrides, ...dstStrides, groupsX],
    shared: [],
    body,
    // At least one workgroup: an empty view (a cache before the first token) still dispatches
    // (its threads all fail i < n), as a zero-sized dispatch draws a WebGPU warning.
    grid: [k.max(k.min(groups, k.param(groupsX)), k.u(1)), k.max(k.ceilDiv(groups, k.param(groupsX)), k.u(1)), k.u(1)] as [Expr, Expr, Expr],
    locs: spec.locs,
  };
  const params: Record<string, Dim> = { n: dimProduct(spec.shape), src_offset: spec.src.offset, dst_offset: spec.dst.offset, groups_x: 65535 };
  spec.shape.forEach((d, i) => {
    params[`dim${i}`] = d;
    params[`src_stride${i}`] = spec.src.strides[i]!;
    params[`dst_stride${i}`] = spec.dst.strides[i]!;
  });
  return { kernel, bind: [{ kind: 'input', index: 0 }, { kind: 'output', index: 0 }], params };
}
