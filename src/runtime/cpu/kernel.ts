// The contract between the interpreter and the per-op kernels of the cpu reference backend.
// A kernel reads its operands (never writes them) and returns a fresh tensor, or one sharing storage.
import { PtmError, diag } from '../../diagnostics/index.js';
import type { Dim } from '../../ir/dim.js';
import type { DType, Op } from '../../ir/types.js';
import { concreteShape } from '../shapes.js';
import type { Precision, Tensor } from '../tensor.js';
import { allocate, size } from '../tensor.js';

export interface KernelContext {
  precision: Precision;
  /** Values of the graph's symbolic dimensions for this run. */
  symbols: ReadonlyMap<string, number>;
  /** The result shape: op.result.type.shape evaluated with `symbols`. */
  outShape: number[];
}

export type Kernel = (op: Op, args: Tensor[], ctx: KernelContext) => Tensor;

/** A zero-filled result tensor with the op's result dtype (or `dtype`) and `ctx.outShape` (or `shape`). */
export function allocResult(op: Op, ctx: KernelContext, dtype: DType = op.result.type.dtype, shape: number[] = ctx.outShape): Tensor {
  return { dtype, shape, data: allocate(dtype, size(shape), ctx.precision) };
}

/** A dimension-valued attribute (slice bounds, iota length) evaluated with the run's symbols. */
export function attrDim(op: Op, ctx: KernelContext, name: string): number {
  return concreteShape([op.attrs[name] as Dim], ctx.symbols, op.loc, `${op.op} ${op.result.id}, attribute '${name}'`)[0]!;
}

/** A dimension expression (a mask's `dim(past)`) evaluated with the run's symbols. */
export function concreteDim(d: Dim, ctx: KernelContext, op: Op): number {
  return concreteShape([d], ctx.symbols, op.loc, `${op.op} ${op.result.id}`)[0]!;
}

/** A run-time failure that depends on the data (an index out of range), pointing at the op. */
export function dataError(op: Op, message: string): PtmError {
  return new PtmError(diag.input_mismatch(op.loc, `${op.op} ${op.result.id}: ${message}`));
}
