// Shared test helpers: one-op graphs run on the cpu interpreter, seeded random numbers, nested arrays.
import type { Attrs, DType, Graph, TensorType } from '../../src/ir/index.js';
import { GraphBuilder } from '../../src/ir/index.js';
import type { Precision, Tensor } from '../../src/runtime/index.js';
import { runGraph, tensor } from '../../src/runtime/index.js';

/** A graph with inputs x0..xn of the given types and one op applied to them, output `y`. */
export function oneOpGraph(op: string, types: TensorType[], attrs: Attrs = {}): Graph {
  const b = new GraphBuilder(op);
  const xs = types.map((t, i) => b.input(`x${i}`, t));
  b.output('y', b.op(op, xs, attrs));
  return b.finish();
}

/** Runs `op` on concrete tensors (their dtypes and shapes become the graph's input types). */
export function runOp(op: string, args: Tensor[], attrs: Attrs = {}, precision: Precision = 'f32'): Tensor {
  const graph = oneOpGraph(op, args.map((t) => ({ dtype: t.dtype, shape: t.shape })), attrs);
  const inputs = Object.fromEntries(args.map((t, i) => [`x${i}`, t]));
  return runGraph(graph, { inputs, params: new Map(), precision }).outputs.get('y')!;
}

/** Nested JS arrays for tensors built in tests: `t('f32', [[1, 2], [3, 4]])`. */
export function t(dtype: DType, nested: unknown, precision: Precision = 'f32'): Tensor {
  const shape: number[] = [];
  for (let v = nested; Array.isArray(v); v = v[0]) shape.push(v.length);
  const flat = (shape.length ? (nested as unknown[]).flat(Infinity) : [nested]) as (number | boolean)[];
  return tensor(dtype, shape, flat, precision);
}

export const values = (x: Tensor): number[] => Array.from(x.data);

/** mulberry32: reproducible test data, independent of the runtime's own generator. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform values in [lo, hi). */
export function uniform(rand: () => number, n: number, lo = -1, hi = 1): number[] {
  return Array.from({ length: n }, () => lo + (hi - lo) * rand());
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** max |a - b| / max(|b|, 1): a relative error for values of order one, absolute near zero. */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!) / Math.max(Math.abs(b[i]!), 1));
  return m;
}
