// Elementwise binary kernels with NumPy broadcasting: arithmetic, min/max, logic and comparisons.
// Integer div truncates toward zero (x/0 = 0) and i32 arithmetic wraps, as in C and WGSL.
import { isInt } from '../../ir/types.js';
import type { TensorData } from '../tensor.js';
import type { Kernel } from './kernel.js';
import { allocResult } from './kernel.js';
import { broadcastStrides, forEachRow } from './strided.js';

export type BinaryKind =
  | 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'max' | 'min' | 'and' | 'or'
  | 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';

/** Kinds with an integer-specific loop (the float loop would not truncate or wrap). */
type IntKind = 'imul' | 'idiv' | 'ipow';

/** out[o+i] = a[ao+i·as] ⊕ b[bo+i·bs] for i < n; one loop per kind. */
function binaryRow(
  kind: BinaryKind | IntKind, a: TensorData, ao: number, as: number, b: TensorData, bo: number, bs: number,
  out: TensorData, o: number, n: number,
): void {
  switch (kind) {
    case 'add': for (let i = 0; i < n; i++) out[o + i] = a[ao + i * as]! + b[bo + i * bs]!; return;
    case 'sub': for (let i = 0; i < n; i++) out[o + i] = a[ao + i * as]! - b[bo + i * bs]!; return;
    case 'mul': for (let i = 0; i < n; i++) out[o + i] = a[ao + i * as]! * b[bo + i * bs]!; return;
    case 'div': for (let i = 0; i < n; i++) out[o + i] = a[ao + i * as]! / b[bo + i * bs]!; return;
    case 'pow': for (let i = 0; i < n; i++) out[o + i] = Math.pow(a[ao + i * as]!, b[bo + i * bs]!); return;
    case 'max': for (let i = 0; i < n; i++) out[o + i] = Math.max(a[ao + i * as]!, b[bo + i * bs]!); return;
    case 'min': for (let i = 0; i < n; i++) out[o + i] = Math.min(a[ao + i * as]!, b[bo + i * bs]!); return;
    case 'and': for (let i = 0; i < n; i++) out[o + i] = a[ao + i * as] && b[bo + i * bs] ? 1 : 0; return;
    case 'or': for (let i = 0; i < n; i++) out[o + i] = a[ao + i * as] || b[bo + i * bs] ? 1 : 0; return;
    case 'eq': for (let i = 0; i < n; i++) out[o + i] = a[ao + i * as] === b[bo + i * bs] ? 1 : 0; return;
    case 'ne': for (let i = 0; i < n; i++) out[o + i] = a[ao + i * as] !== b[bo + i * bs] ? 1 : 0; return;
    case 'lt': for (let i = 0; i < n; i++) out[o + i] = a[ao + i * as]! < b[bo + i * bs]! ? 1 : 0; return;
    case 'le': for (let i = 0; i < n; i++) out[o + i] = a[ao + i * as]! <= b[bo + i * bs]! ? 1 : 0; return;
    case 'gt': for (let i = 0; i < n; i++) out[o + i] = a[ao + i * as]! > b[bo + i * bs]! ? 1 : 0; return;
    case 'ge': for (let i = 0; i < n; i++) out[o + i] = a[ao + i * as]! >= b[bo + i * bs]! ? 1 : 0; return;
    case 'imul': for (let i = 0; i < n; i++) out[o + i] = Math.imul(a[ao + i * as]!, b[bo + i * bs]!); return;
    case 'idiv':
      for (let i = 0; i < n; i++) { const d = b[bo + i * bs]!; out[o + i] = d === 0 ? 0 : Math.trunc(a[ao + i * as]! / d); }
      return;
    case 'ipow': for (let i = 0; i < n; i++) out[o + i] = Math.trunc(Math.pow(a[ao + i * as]!, b[bo + i * bs]!)); return;
  }
}

function loopKind(kind: BinaryKind, dtype: string): BinaryKind | IntKind {
  if (dtype === 'i32' && kind === 'mul') return 'imul';
  if ((dtype === 'i32' || dtype === 'i64') && kind === 'div') return 'idiv';
  if ((dtype === 'i32' || dtype === 'i64') && kind === 'pow') return 'ipow';
  return kind;
}

export const binaryKernel = (kind: BinaryKind): Kernel => (op, [a, b], ctx) => {
  const out = allocResult(op, ctx);
  const loop = isInt(a!.dtype) ? loopKind(kind, a!.dtype) : kind;
  const x = a!.data, y = b!.data, z = out.data;
  // Fast paths: same shape, or a scalar on either side; otherwise rows of the broadcast shape.
  if (x.length === z.length && y.length === z.length) binaryRow(loop, x, 0, 1, y, 0, 1, z, 0, z.length);
  else if (x.length === z.length && y.length === 1) binaryRow(loop, x, 0, 1, y, 0, 0, z, 0, z.length);
  else if (y.length === z.length && x.length === 1) binaryRow(loop, x, 0, 0, y, 0, 1, z, 0, z.length);
  else {
    const st = [broadcastStrides(a!.shape, out.shape), broadcastStrides(b!.shape, out.shape)];
    forEachRow(out.shape, st, (off, o, n, inner) => binaryRow(loop, x, off[0]!, inner[0]!, y, off[1]!, inner[1]!, z, o, n));
  }
  return out;
};
