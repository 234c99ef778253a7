// The cpu reference interpreter of the Graph IR: binds symbols from the inputs, runs every op in
// order with its kernel, materializes parameters on first use and drops every tensor after its last use.
import { PtmError, diag, isPtmError } from '../../diagnostics/index.js';
import { OPS } from '../../ir/ops.js';
import type { Graph, Op, Param } from '../../ir/types.js';
import { expandFusedOps } from '../../passes/expand-fused.js';
import { roundToHalf } from '../half.js';
import type { ParamSource } from '../param-source.js';
import { checkParam } from '../param-source.js';
import { concreteShape } from '../shapes.js';
import type { Precision, Tensor } from '../tensor.js';
import { hasStorage, shapeText, size } from '../tensor.js';
import { bindInputs } from './bind.js';
import type { KernelContext } from './kernel.js';
import { KERNELS } from './kernels.js';
import { matmulTransposedBKernel } from './matmul.js';
import { swapsLastTwo } from './shape-ops.js';

export interface RunOptions {
  /** One tensor per graph input, by input name; dtypes must match exactly. */
  inputs: Record<string, Tensor>;
  /** Parameters by name: a Map, a weights file (loadParams) or a seeded init (lazyInitParams). */
  params: ParamSource;
  /** `f32` (default) stores every float tensor as f32; `f64` as float64, for reference comparisons. */
  precision?: Precision;
  /** Values for symbols that no input shape determines. */
  symbols?: ReadonlyMap<string, number>;
}

export interface RunResult {
  /** Output tensors by output name. */
  outputs: Map<string, Tensor>;
  /** The value of every bound symbolic dimension. */
  symbols: Map<string, number>;
}

/** Index of the last op reading each value id; graph outputs are never released. */
function lastUses(graph: Graph): Map<string, number> {
  const last = new Map<string, number>();
  graph.ops.forEach((op, i) => {
    last.set(op.result.id, i);
    for (const v of op.operands) last.set(v.id, i);
  });
  for (const o of graph.outputs) last.set(o.value.id, Infinity);
  return last;
}

/**
 * Transposes of the last two axes read only as the right operand of matmuls (`x @ transpose(wte)`):
 * the interpreter hands their input to a matmul that takes B transposed instead of copying it.
 */
function deferredTransposes(graph: Graph): Set<string> {
  const uses = new Map<string, { op: Op; index: number }[]>();
  for (const op of graph.ops) {
    op.operands.forEach((v, index) => {
      const list = uses.get(v.id) ?? [];
      list.push({ op, index });
      uses.set(v.id, list);
    });
  }
  const outputs = new Set(graph.outputs.map((o) => o.value.id));
  const out = new Set<string>();
  for (const op of graph.ops) {
    if (op.op !== 'transpose' || !swapsLastTwo(op.attrs.perm as number[]) || outputs.has(op.result.id)) continue;
    const readers = uses.get(op.result.id) ?? [];
    if (readers.length > 0 && readers.every((u) => u.op.op === 'matmul' && u.index === 1)) out.add(op.result.id);
  }
  return out;
}

function runKernel(op: Op, args: Tensor[], ctx: KernelContext, kernel = KERNELS.get(op.op)): Tensor {
  if (!kernel) {
    throw new PtmError(OPS.has(op.op) ? diag.internal_error(op.loc, `the cpu backend has no kernel for '${op.op}'`) : diag.ir_invalid(op.loc, `unknown op '${op.op}'`));
  }
  let out: Tensor;
  try {
    out = kernel(op, args, ctx);
  } catch (e) {
    if (isPtmError(e)) throw e;
    throw new PtmError(diag.internal_error(op.loc, `${op.op} ${op.result.id} failed on operands ${args.map((a) => a.dtype + shapeText(a.shape)).join(', ')}: ${(e as Error).message}`));
  }
  const declared = op.result.type.dtype;
  const fits = out.dtype === declared && out.shape.length === ctx.outShape.length && out.shape.every((d, i) => d === ctx.outShape[i])
    && out.data.length === size(out.shape) && hasStorage(out.data, declared, ctx.precision);
  if (!fits) {
    throw new PtmError(diag.internal_error(op.loc, `${op.op} ${op.result.id} produced ${out.dtype}${shapeText(out.shape)}, but its type is ${declared}${shapeText(ctx.outShape)}`));
  }
  // f16/bf16 values are computed in f32 and rounded on store; shared storage is already rounded.
  if (ctx.precision === 'f32' && (declared === 'f16' || declared === 'bf16') && !args.some((a) => a.data === out.data)) {
    roundToHalf(out.data as Float32Array, declared);
  }
  return out;
}

/** Runs `graph` on the cpu. Throws PtmError for bad inputs or parameters, with the op's location. */
export function runGraph(graph: Graph, options: RunOptions): RunResult {
  graph = expandFusedOps(graph); // a fused op runs as the graph ops it stands for
  const precision = options.precision ?? 'f32';
  const { values: env, symbols } = bindInputs(graph, options.inputs, precision, options.symbols);
  const params = new Map<string, Param>(graph.params.map((p) => [p.value.id, p]));
  const last = lastUses(graph);
  const deferred = deferredTransposes(graph);
  const lookup = (id: string): Tensor => {
    const found = env.get(id);
    if (found) return found;
    const param = params.get(id);
    if (!param) throw new PtmError(diag.internal_error(graph.ops[0]?.loc ?? graph.outputs[0]!.loc, `value ${id} is used before it is defined`));
    const t = checkParam(param, options.params.get(param.name), options.params, symbols, precision);
    env.set(id, t);
    return t;
  };
  graph.ops.forEach((op, i) => {
    const args = op.operands.map((v) => lookup(v.id));
    const ctx: KernelContext = { precision, symbols, outShape: concreteShape(op.result.type.shape, symbols, op.loc, `${op.result.id} (${op.op})`) };
    if (deferred.has(op.result.id)) env.set(op.result.id, args[0]!); // stays [..., N, K]; see deferredTransposes
    else if (op.op === 'matmul' && deferred.has(op.operands[1]!.id)) env.set(op.result.id, runKernel(op, args, ctx, matmulTransposedBKernel));
    else env.set(op.result.id, runKernel(op, args, ctx));
    for (const v of [op.result, ...op.operands]) if (last.get(v.id) === i) env.delete(v.id);
  });
  const outputs = new Map<string, Tensor>();
  for (const o of graph.outputs) outputs.set(o.name, lookup(o.value.id));
  return { outputs, symbols };
}
