// Strided copy: out (contiguous) = a view of a buffer (offset + strides), for the rare reader that
// cannot take strides (elementwise/row kernels, outputs). One invocation per element.
import type { Span } from '../../diagnostics/span.js';
import type { Dim } from '../../ir/dim.js';
import { dimProduct } from '../../ir/dim.js';
import * as k from '../kernel-ir/build.js';
import type { Expr, KType, Stmt } from '../kernel-ir/types.js';
import type { KernelInstance, StorageType, Strided } from './instance.js';

const WORKGROUP = 256;

export interface CopySpec {
  storage: StorageType;
  shape: Dim[];
  layout: Strided;
  locs: Span[];
}

export function copyKernel(spec: CopySpec): KernelInstance {
  const type: KType = spec.storage === 'f32' ? k.f32 : spec.storage === 'i32' ? k.i32 : k.u32;
  const src = k.buffer('src', type, 'read');
  const dst = k.buffer('dst', type, 'read_write');
  const rank = spec.shape.length;
  const n = k.uniform('n');
  const offset = k.uniform('offset');
  const dims = spec.shape.map((_, i) => k.uniform(`dim${i}`));
  const strides = spec.shape.map((_, i) => k.uniform(`stride${i}`));
  const groupsX = k.uniform('groups_x');
  // Linear index over a 2-D grid (x up to 65535 workgroups).
  const linear = k.add(k.mul(k.workgroupId(1), k.mul(k.param(groupsX), WORKGROUP)), k.add(k.mul(k.workgroupId(0), WORKGROUP), k.localId(0)));
  const body: Stmt[] = [k.let_('i', linear), k.if_(k.lt(k.ref('i', k.u32), k.param(n)), [
    k.var_('rest', k.ref('i', k.u32)),
    k.var_('at', k.param(offset)),
    // Peel indices from the last axis: idx_d = rest % dim_d; rest /= dim_d.
    ...[...Array(rank).keys()].reverse().flatMap((d): Stmt[] => [
      k.assign('at', k.add(k.ref('at', k.u32), k.mul(k.mod(k.ref('rest', k.u32), k.param(dims[d]!)), k.param(strides[d]!)))),
      k.assign('rest', k.div(k.ref('rest', k.u32), k.param(dims[d]!))),
    ]),
    k.store(dst, k.ref('i', k.u32), k.load(src, k.ref('at', k.u32))),
  ])];
  const groups: Expr = k.ceilDiv(k.param(n), WORKGROUP);
  const kernel = {
    name: `copy_r${rank}_${spec.storage}`,
    workgroupSize: [WORKGROUP, 1, 1] as [number, number, number],
    buffers: [src, dst],
    params: [n, offset, ...dims, ...strides, groupsX],
    shared: [],
    body,
    grid: [k.min(groups, k.param(groupsX)), k.ceilDiv(groups, k.param(groupsX)), k.u(1)] as [Expr, Expr, Expr],
    locs: spec.locs,
  };
  const count = dimProduct(spec.shape);
  const params: Record<string, Dim> = { n: count, offset: spec.layout.offset, groups_x: 65535 };
  spec.shape.forEach((d, i) => {
    params[`dim${i}`] = d;
    params[`stride${i}`] = spec.layout.strides[i]!;
  });
  return { kernel, bind: [{ kind: 'input', index: 0 }, { kind: 'output', index: 0 }], params };
}
