// Test harness for kernel templates: binds a KernelInstance's params for concrete symbols, runs it on
// the kernel IR interpreter (or WebGPU), and builds the independent reference: a graph of primitive
// ops computing the same fused expression, run by the cpu reference runtime.
import type { Dim, DType, TensorType, Value } from '../../src/ir/index.js';
import type { OperandSpec } from '../../src/codegen/templates/elementwise.js';
import { GraphBuilder, dimSymbols, evalDim } from '../../src/ir/index.js';
import type { KernelArray } from '../../src/codegen/kernel-ir/interpret.js';
import { evalGrid, runKernel } from '../../src/codegen/kernel-ir/interpret.js';
import type { FusedExpr } from '../../src/codegen/templates/fused-expr.js';
import type { KernelInstance, StorageType } from '../../src/codegen/templates/instance.js';
import type { Tensor } from '../../src/runtime/index.js';
import { runGraph, tensor } from '../../src/runtime/index.js';
import { packParams, renderWgsl } from '../../src/codegen/render/wgsl.js';
import type { GpuContext } from '../../src/runtime/webgpu/index.js';
import { WebGpuExecutor, uploadTensor } from '../../src/runtime/webgpu/index.js';

export type { KernelArray };

/** A concrete kernel launch: one array per spec input (by index), outputs by element count. */
export interface InstanceRun {
  /** Spec inputs by index; entries the kernel does not bind may be omitted. */
  inputs: (KernelArray | undefined)[];
  /** Scalar element count of each output, by output index. */
  outputs: number[];
  symbols?: ReadonlyMap<string, number>;
  /** Overrides the evaluated grid (to exercise multi-axis grids on small sizes). */
  grid?: [number, number, number];
}

/** Every kernel param's value once the graph symbols are bound. */
export function bindParams(instance: KernelInstance, symbols: ReadonlyMap<string, number> = new Map()): Record<string, number> {
  return Object.fromEntries(instance.kernel.params.map((p) => [p.name, evalDim(instance.params[p.name]!, symbols)]));
}

/** Output arrays of the kernel's element types, filled with a poison value so unwritten elements show. */
export function allocateOutputs(instance: KernelInstance, counts: number[]): KernelArray[] {
  return counts.map((n, o) => {
    const b = instance.bind.findIndex((x) => x.kind === 'output' && x.index === o);
    if (b < 0) throw new Error(`kernel ${instance.kernel.name} has no output ${o}`);
    const t = instance.kernel.buffers[b]!.type.scalar;
    return t === 'f32' ? new Float32Array(n).fill(NaN) : t === 'i32' ? new Int32Array(n).fill(-0x7ff0000) : new Uint32Array(n).fill(0xdeadbeef);
  });
}

/** The kernel's buffers by name for the given inputs and outputs. */
export function bufferMap(instance: KernelInstance, inputs: (KernelArray | undefined)[], outputs: KernelArray[]): Record<string, KernelArray> {
  return Object.fromEntries(instance.kernel.buffers.map((b, n) => {
    const bind = instance.bind[n]!;
    const array = bind.kind === 'input' ? inputs[bind.index] : outputs[bind.index];
    if (!array) throw new Error(`kernel ${instance.kernel.name}: no array for ${bind.kind} ${bind.index} (buffer ${b.name})`);
    return [b.name, array];
  }));
}

/** Runs the instance on the kernel IR interpreter; returns its outputs. */
export function runInterpreted(instance: KernelInstance, run: InstanceRun): KernelArray[] {
  const outputs = allocateOutputs(instance, run.outputs);
  const params = bindParams(instance, run.symbols);
  runKernel(instance.kernel, { buffers: bufferMap(instance, run.inputs, outputs), params, ...(run.grid ? { grid: run.grid } : {}) });
  return outputs;
}

/**
 * Runs the instance on WebGPU: renders WGSL, uploads inputs and poisoned outputs, dispatches once,
 * downloads the outputs. `ctx` comes from test/webgpu/helpers.ts gpu(), which fails without an adapter.
 */
export async function runWebGpu(ctx: GpuContext, instance: KernelInstance, run: InstanceRun): Promise<KernelArray[]> {
  const outputs = allocateOutputs(instance, run.outputs);
  const arrays = bufferMap(instance, run.inputs, outputs);
  const buffers = instance.kernel.buffers.map((b) => uploadTensor(ctx, b.name, arrays[b.name]!));
  try {
    const executor = new WebGpuExecutor(ctx, { packParams });
    const params = bindParams(instance, run.symbols);
    executor.dispatch(instance.kernel, renderWgsl(instance.kernel), buffers.map((buffer) => ({ buffer })), params, run.grid ?? evalGrid(instance.kernel, params));
    await executor.flush();
    return await Promise.all(outputs.map(async (o, n) => {
      const b = instance.bind.findIndex((x) => x.kind === 'output' && x.index === n);
      const type = o instanceof Float32Array ? 'f32' : o instanceof Int32Array ? 'i32' : 'u32';
      const got = await executor.download(buffers[b]!, type);
      return got.subarray(0, o.length) as KernelArray;
    }));
  } finally {
    for (const b of buffers) b.destroy();
  }
}

/** The grid an instance launches for these symbols. */
export function instanceGrid(instance: KernelInstance, symbols: ReadonlyMap<string, number> = new Map()): [number, number, number] {
  return evalGrid(instance.kernel, bindParams(instance, symbols));
}

// ---- the reference ---------------------------------------------------------------------------------

export const dtypeOf = (s: StorageType): DType => (s === 'f32' ? 'f32' : s === 'i32' ? 'i32' : 'bool');

/** Graph ops computing `e`: gathers become (concat of chunks) + gather, iota ids an iota op. */
export function buildFused(b: GraphBuilder, e: FusedExpr, operands: Value[], acc?: Value): Value {
  switch (e.kind) {
    case 'input': return operands[e.index]!;
    case 'acc': return acc ?? fail('acc without an accumulator');
    case 'const': return b.op('constant', [], { value: e.value, dtype: e.dtype });
    case 'gather': {
      const tables = e.tables.map((t) => operands[t]!);
      const table = tables.length === 1 ? tables[0]! : b.op('concat', tables, { axis: 0 });
      const ids = e.ids.kind === 'input' ? operands[e.ids.index]! : b.op('iota', [], { length: e.shape[0]!, dtype: 'i32', ...(e.ids.start !== undefined ? { start: e.ids.start } : {}) });
      return b.op('gather', [table, ids], { axis: 0 });
    }
    case 'iota': {
      const iota = b.op('iota', [], { length: e.shape[e.axis]!, dtype: e.dtype, ...(e.start !== undefined ? { start: e.start } : {}) });
      return e.shape.length === 1 ? iota : b.op('reshape', [iota], { shape: e.shape });
    }
    case 'op':
      return b.op(e.op, e.args.map((a) => buildFused(b, a, operands, acc)), e.op === 'cast' ? { to: e.to ?? 'f32' } : {});
  }
}

function fail(message: string): never {
  throw new Error(message);
}

/** A graph builder with inputs x0..xn of the given storage and shapes (symbols declared). */
export function referenceBuilder(name: string, inputs: { storage: StorageType; shape: Dim[] }[]): { b: GraphBuilder; xs: Value[] } {
  const b = new GraphBuilder(name);
  for (const s of new Set(inputs.flatMap((i) => i.shape.flatMap(dimSymbols)))) b.symbol(s);
  const xs = inputs.map((input, i) => b.input(`x${i}`, { dtype: dtypeOf(input.storage), shape: input.shape } as TensorType));
  return { b, xs };
}

/** Runs a reference graph (float math in f64) on kernel-array inputs; returns outputs by name. */
export function runReference(b: GraphBuilder, inputs: { storage: StorageType; shape: Dim[] }[], arrays: (KernelArray | undefined)[], symbols: ReadonlyMap<string, number> = new Map()): Map<string, Tensor> {
  const given = Object.fromEntries(inputs.map((input, i) => {
    const shape = input.shape.map((d) => evalDim(d, symbols));
    const data = arrays[i] ?? new Float32Array(shape.reduce((a, d) => a * d, 1));
    return [`x${i}`, tensor(dtypeOf(input.storage), shape, input.storage === 'u32' ? Uint8Array.from(data) : data)];
  }));
  return runGraph(b.finish(), { inputs: given, params: new Map(), precision: 'f64', symbols }).outputs;
}

// ---- data and comparison ---------------------------------------------------------------------------

/** mulberry32: reproducible test data. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random data of a storage type: f32 uniform in [lo, hi), i32 integers in [lo, hi), u32 bools. */
export function randomArray(storage: StorageType, n: number, rand: () => number, lo = -2, hi = 2): KernelArray {
  if (storage === 'f32') return Float32Array.from({ length: n }, () => lo + (hi - lo) * rand());
  if (storage === 'i32') return Int32Array.from({ length: n }, () => Math.floor(lo + (hi - lo) * rand()));
  return Uint32Array.from({ length: n }, () => (rand() < 0.5 ? 1 : 0));
}

/** Element count of a shape under symbols. */
export const elementCount = (shape: readonly Dim[], symbols: ReadonlyMap<string, number> = new Map()): number =>
  shape.reduce<number>((a, d) => a * evalDim(d, symbols), 1);

/** max |got - want| / max(|want|, 1): relative for values of order one and above, absolute below. */
export function maxRelError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`length ${got.length} vs ${want.length}`);
  let m = 0;
  for (let i = 0; i < got.length; i++) {
    const g = got[i]!, w = want[i]!;
    if (Number.isNaN(g) !== Number.isNaN(w)) return Infinity;
    if (!Number.isNaN(w)) m = Math.max(m, Math.abs(g - w) / Math.max(Math.abs(w), 1));
  }
  return m;
}

/** The first index where two integer arrays differ, or -1. */
export function firstMismatch(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return 0;
  for (let i = 0; i < got.length; i++) if (got[i] !== want[i]) return i;
  return -1;
}

// ---- expression shorthand (FusedExpr and operand specs) ---------------------------------------------------------------------
export const $ = (index: number): FusedExpr => ({ kind: 'input', index });
export const op = (name: string, ...args: FusedExpr[]): FusedExpr => ({ kind: 'op', op: name, args });
export const cast = (to: 'f32' | 'i32' | 'bool', a: FusedExpr): FusedExpr => ({ kind: 'op', op: 'cast', args: [a], to });
export const num = (value: number, dtype: 'f32' | 'i32' | 'bool' = 'f32'): FusedExpr => ({ kind: 'const', value, dtype });
export const acc: FusedExpr = { kind: 'acc' };
export const gather = (tables: number[], rowsPerChunk: number, ids: number | 'iota', shape: Dim[]): FusedExpr =>
  ({ kind: 'gather', tables, rowsPerChunk, ids: ids === 'iota' ? { kind: 'iota' } : { kind: 'input', index: ids }, shape });
export const f32 = (...shape: Dim[]): OperandSpec => ({ storage: 'f32', shape });
export const i32 = (...shape: Dim[]): OperandSpec => ({ storage: 'i32', shape });
export const bool = (...shape: Dim[]): OperandSpec => ({ storage: 'u32', shape });
