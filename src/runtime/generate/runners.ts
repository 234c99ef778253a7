// The two ways generation runs a graph: the CPU reference interpreter, or a kernel program (the same
// fusion passes and lowering as `compile()` in src/api.ts) in a ProgramSession on a KernelDevice.
import type { Graph } from '../../ir/types.js';
import { FUSION_PIPELINE, runPipeline } from '../../passes/pipeline.js';
import { lowerGraph } from '../../codegen/lower/lower.js';
import type { LowerOptions } from '../../codegen/lower/lower.js';
import type { Program } from '../../codegen/lower/program.js';
import { runGraph } from '../cpu/index.js';
import type { ParamSource } from '../param-source.js';
import type { Precision, Tensor } from '../tensor.js';
import { ProgramSession } from '../program/session.js';
import type { KernelDevice } from '../program/session.js';

/** Where generation runs: the CPU reference, or kernels on a device (WebGPU, the kernel IR interpreter). */
export type GenerateBackend =
  | { kind: 'cpu'; precision?: Precision }
  | { kind: 'kernels'; device: KernelDevice; lower?: LowerOptions };

export interface GraphRunner {
  readonly graph: Graph;
  /** Runs with the given inputs (only those the graph declares are passed on). */
  run(inputs: Record<string, Tensor>): Promise<Map<string, Tensor>>;
}

/** The graph -> kernel program steps of `compile()`: fusion passes (verified), then lowering. */
export function compileToProgram(graph: Graph, lower: LowerOptions = {}): Program {
  return lowerGraph(runPipeline(graph, FUSION_PIPELINE, { verify: true }), lower);
}

function declared(graph: Graph, inputs: Record<string, Tensor>): Record<string, Tensor> {
  return Object.fromEntries(graph.inputs.map((i) => [i.name, inputs[i.name]!]).filter(([, t]) => t !== undefined));
}

export function graphRunner(graph: Graph, params: ParamSource, backend: GenerateBackend): GraphRunner {
  if (backend.kind === 'cpu') {
    const precision = backend.precision ?? 'f32';
    return { graph, run: async (inputs) => runGraph(graph, { inputs: declared(graph, inputs), params, precision }).outputs };
  }
  const session = ProgramSession.create(compileToProgram(graph, backend.lower), params, backend.device);
  return { graph, run: (inputs) => session.run(declared(graph, inputs)) };
}
