// Sessions (REFERENCE.md §7.6): run a model with segment memory (`memory` declarations) call after call,
// feeding each call's `mem.<i>.next` outputs back as the next call's `mem.<i>` inputs, so a long input
// can be fed segment by segment (Transformer-XL, Dai et al. 2019). Runs on the CPU reference or kernels.
import { PtmError } from '../../diagnostics/diagnostic.js';
import { diag } from '../../diagnostics/catalogue.js';
import { noSpan } from '../../diagnostics/span.js';
import type { Dim } from '../../ir/dim.js';
import type { Graph } from '../../ir/types.js';
import { NEXT_SUFFIX } from '../../ir/elaborate/memory.js';
import type { GenerateBackend, GraphRunner } from '../generate/runners.js';
import { graphRunner } from '../generate/runners.js';
import type { ParamSource } from '../param-source.js';
import type { Precision, Tensor } from '../tensor.js';
import { tensor } from '../tensor.js';

/** A memory the session carries: graph input `input`, refreshed from output `input.next`. */
export interface MemoryState {
  input: string;
  next: string;
  shape: readonly Dim[];
}

/** The memories of a graph: each input `X` with an output `X.next` (what `memory` declarations make). */
export function graphMemories(graph: Graph): MemoryState[] {
  const outputs = new Set(graph.outputs.map((o) => o.name));
  return graph.inputs
    .filter((i) => outputs.has(i.name + NEXT_SUFFIX))
    .map((i) => ({ input: i.name, next: i.name + NEXT_SUFFIX, shape: i.value.type.shape }));
}

/**
 * Carries segment memory across calls. The first call starts from zero memory, as the authors' code
 * does for Transformer-XL and XLNet (`np.zeros([mem_len, bsz, d_model])`): memory rows are always
 * visible keys, so the first segment sees mlen zero hidden states (whose keys are the projections'
 * biases, zero without bias). `run` returns the model's outputs without the `.next` memories.
 */
export class Session {
  private state = new Map<string, Tensor>();
  readonly memories: readonly MemoryState[];

  private constructor(private readonly runner: GraphRunner, private readonly precision: Precision) {
    this.memories = graphMemories(runner.graph);
  }

  /** A session for `graph` with `params` on `backend` (CPU reference, or kernels on a device). */
  static create(graph: Graph, params: ParamSource, backend: GenerateBackend = { kind: 'cpu' }): Session {
    return new Session(graphRunner(graph, params, backend), backend.kind === 'cpu' ? backend.precision ?? 'f32' : 'f32');
  }

  /** The memory the next call will see (zeros before the first call), by input name. */
  memory(name: string): Tensor | undefined {
    return this.state.get(name);
  }

  /** Forgets the memory: the next call starts from zeros again. */
  reset(): void {
    this.state.clear();
  }

  /** Runs one segment: `inputs` are the model's other inputs; memory inputs come from the session. */
  async run(inputs: Record<string, Tensor>): Promise<Map<string, Tensor>> {
    const feed: Record<string, Tensor> = { ...inputs };
    for (const m of this.memories) {
      if (m.input in inputs) throw new PtmError({ ...diag.unknown_input(noSpan('<session>'), m.input), message: `'${m.input}' is a memory the session carries from call to call; pass the model's other inputs only` });
      feed[m.input] = this.state.get(m.input) ?? zeros(m, this.runner.graph, inputs, this.precision);
    }
    const outputs = await this.runner.run(feed);
    const result = new Map<string, Tensor>();
    const nexts = new Set(this.memories.map((m) => m.next));
    for (const m of this.memories) this.state.set(m.input, outputs.get(m.next)!);
    for (const [name, t] of outputs) if (!nexts.has(name)) result.set(name, t);
    return result;
  }
}

/** Zero memory of the declared shape, symbolic sizes (batch) read off the inputs that use them. */
function zeros(m: MemoryState, graph: Graph, inputs: Record<string, Tensor>, precision: Precision): Tensor {
  const shape = m.shape.map((d) => (typeof d === 'number' ? d : symbolSize(d, graph, inputs, m.input)));
  const dtype = graph.inputs.find((i) => i.name === m.input)!.value.type.dtype;
  return tensor(dtype, shape, undefined, precision);
}

function symbolSize(symbol: string, graph: Graph, inputs: Record<string, Tensor>, memory: string): number {
  for (const i of graph.inputs) {
    const t = inputs[i.name];
    const axis = i.value.type.shape.indexOf(symbol);
    if (t && axis >= 0 && t.shape[axis] !== undefined) return t.shape[axis]!;
  }
  throw new PtmError({ ...diag.missing_input(noSpan('<session>'), memory), message: `the session cannot size the memory '${memory}': its axis '${symbol}' is the size of no input given` });
}
