// The cpu reference interpreter of the Graph IR: binds symbols from the inputs, runs every op in
// order with its kernel, materializes parameters on first use and drops every tensor after its last use.
import { PtmError, diag, isPtmError } from '../../diagnostics/index.js';
import { evalDim } from '../../ir/dim.js';
import { OPS } from '../../ir/ops.js';
import type { Graph, Op, Param } from '../../ir/types.js';
import { roundToHalf } from '../half.js';
import type { ParamSource } from '../param-source.js';
import { checkParam } from '../param-source.js';
import type { Precision, Tensor } from '../tensor.js';
import { hasStorage, shapeText, size } from '../tensor.js';
import { bindInputs } from './bind.js';
import type { KernelContext } from './kernel.js';
import { KERNELS } from './kernels.js';

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

function evalShape(op: Op, symbols: ReadonlyMap<string, number>): number[] {
  return op.result.type.shape.map((d) => {
    try {
      return evalDim(d, symbols);
    } catch (e) {
      throw new PtmError(diag.input_mismatch(op.loc, `${op.op} ${op.result.id}: ${(e as Error).message}; no input shape fixes it`));
    }
  });
}

function runKernel(op: Op, args: Tensor[], ctx: KernelContext): Tensor {
  const kernel = KERNELS.get(op.op);
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
  const precision = options.precision ?? 'f32';
  const { values: env, symbols } = bindInputs(graph, options.inputs, precision, options.symbols);
  const params = new Map<string, Param>(graph.params.map((p) => [p.value.id, p]));
  const last = lastUses(graph);
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
    const ctx: KernelContext = { precision, symbols, outShape: evalShape(op, symbols) };
    env.set(op.result.id, runKernel(op, args, ctx));
    for (const v of [op.result, ...op.operands]) if (last.get(v.id) === i) env.delete(v.id);
  });
  const outputs = new Map<string, Tensor>();
  for (const o of graph.outputs) outputs.set(o.name, lookup(o.value.id));
  return { outputs, symbols };
}
