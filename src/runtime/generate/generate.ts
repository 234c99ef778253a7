// Autoregressive generation. With the key/value cache (default): the prologue once (split-static),
// the step graph (derive-decode-step) on the prompt with past = 0, then one token per step with the
// step's `present.*` outputs fed back as `cache.*`. Without it (recompute): the whole model on the
// whole sequence per token, the oracle the cache is tested against. Batch 1.
import { PtmError } from '../../diagnostics/diagnostic.js';
import { diag } from '../../diagnostics/catalogue.js';
import { noSpan } from '../../diagnostics/span.js';
import type { Span } from '../../diagnostics/span.js';
import { dimSymbols, evalDim, shapeToString } from '../../ir/dim.js';
import type { Graph, Input, Output } from '../../ir/types.js';
import { decodeStep } from '../../passes/derive-decode-step.js';
import type { DecodeStep } from '../../passes/derive-decode-step.js';
import { splitStaticGraph } from '../../passes/split-static.js';
import type { StaticSplit } from '../../passes/split-static.js';
import type { ParamSource } from '../param-source.js';
import type { Tensor } from '../tensor.js';
import { tensor } from '../tensor.js';
import { graphRunner } from './runners.js';
import type { GenerateBackend, GraphRunner } from './runners.js';
import { logitsOutput, tokenInput } from './model-io.js';
import { TokenChooser } from './sampling.js';
import type { Sampling } from './sampling.js';

export interface GeneratorOptions {
  /** The token input (default: the integer [batch, seq] input feeding a causal self-attention). */
  tokens?: string;
  /** The logits output (default: the float [batch, seq, vocab] output). */
  logits?: string;
  /** Default: the CPU reference in f32. */
  backend?: GenerateBackend;
  /** `false`: no key/value cache, the whole model on the whole sequence for every token. Default true. */
  cache?: boolean;
}

export interface GenerateRequest {
  /** Token ids of the prompt (at least one). */
  prompt: readonly number[];
  maxNewTokens: number;
  /** Stop after producing this id (it is included in the result). */
  eos?: number;
  /** Seeded sampling; greedy when absent. */
  sampling?: Sampling;
  /** The model's other inputs (T5's source ids and mask), batch 1, without the time axis. */
  inputs?: Record<string, Tensor>;
  /** Called with each new token as soon as it is chosen (streaming). */
  onToken?: (token: number, index: number) => void | Promise<void>;
  /** Keep the logits row each token was chosen from (tests compare the cache with recompute). */
  keepLogits?: boolean;
}

export interface GenerateResult {
  /** The new tokens, without the prompt. */
  tokens: number[];
  stop: 'eos' | 'max_tokens';
  logits?: Float64Array[];
  /** Milliseconds: the prologue (0 without one), the prompt's step, and each further token's step. */
  ms: { prologue: number; prompt: number; tokens: number[] };
}

const options = noSpan('<generate options>');
const bad = (span: Span, message: string, notes: string[] = []) => new PtmError(diag.invalid_generation(span, message, notes));

/** A model prepared for generation: graphs derived and compiled once, then any number of `generate` calls. */
export class Generator {
  readonly tokens: Input;
  readonly logits: Output;
  /** The incremental step (cache mode only). */
  readonly step?: DecodeStep;
  /** The step split into prologue and per-token graph (cache mode only). */
  readonly split?: StaticSplit;
  private readonly runners: { model?: GraphRunner; prologue?: GraphRunner; step?: GraphRunner } = {};

  constructor(readonly graph: Graph, params: ParamSource, readonly opts: GeneratorOptions = {}) {
    this.tokens = tokenInput(graph, opts.tokens);
    this.logits = logitsOutput(graph, this.tokens, opts.logits);
    const backend = opts.backend ?? { kind: 'cpu' };
    if (opts.cache === false) {
      this.runners.model = graphRunner(graph, params, backend);
      return;
    }
    this.step = decodeStep(graph, { tokens: this.tokens.name });
    this.split = splitStaticGraph(this.step.graph, { dynamic: [this.tokens.name, ...this.step.caches.flatMap((c) => [c.k, c.v])] });
    if (this.split.prologue) this.runners.prologue = graphRunner(this.split.prologue, params, backend);
    this.runners.step = graphRunner(this.split.step, params, backend);
  }

  get time(): string {
    return this.tokens.value.type.shape[1] as string;
  }

  async generate(request: GenerateRequest): Promise<GenerateResult> {
    const inputs = this.checkRequest(request);
    const chooser = new TokenChooser(request.sampling);
    const result: GenerateResult = { tokens: [], stop: 'max_tokens', ms: { prologue: 0, prompt: 0, tokens: [] }, ...(request.keepLogits ? { logits: [] } : {}) };
    const next = this.runners.model ? this.recompute(request.prompt, inputs) : await this.cached(request.prompt, inputs, result);
    for (let i = 0; i < request.maxNewTokens; i++) {
      const started = performance.now();
      const row = await next(result.tokens.at(-1));
      if (i === 0) result.ms.prompt = performance.now() - started;
      else result.ms.tokens.push(performance.now() - started);
      const token = chooser.choose(row, i);
      result.logits?.push(row);
      result.tokens.push(token);
      await request.onToken?.(token, i);
      if (token === request.eos) {
        result.stop = 'eos';
        break;
      }
    }
    return result;
  }

  /** Each call runs the model on the prompt and every token so far; returns the last position's logits. */
  private recompute(prompt: readonly number[], inputs: Record<string, Tensor>): (last: number | undefined) => Promise<Float64Array> {
    const sequence = [...prompt];
    return async (last) => {
      if (last !== undefined) sequence.push(last);
      const ids = tensor(this.tokens.value.type.dtype, [1, sequence.length], sequence);
      const outputs = await this.runners.model!.run({ ...inputs, [this.tokens.name]: ids });
      return lastRow(outputs.get(this.logits.name)!);
    };
  }

  /** Runs the prologue, then returns a step function: the prompt first, then one token at a time. */
  private async cached(prompt: readonly number[], inputs: Record<string, Tensor>, result: GenerateResult): Promise<(last: number | undefined) => Promise<Float64Array>> {
    const step = this.step!, split = this.split!;
    let carried = new Map<string, Tensor>();
    if (this.runners.prologue) {
      const started = performance.now();
      carried = await this.runners.prologue.run(inputs);
      result.ms.prologue = performance.now() - started;
    }
    const fixed: Record<string, Tensor> = { ...inputs };
    for (const name of split.carried) fixed[name] = carried.get(name)!;
    const batch = new Map<string, number>([[step.time, prompt.length], [step.past, 0]]);
    const first = this.tokens.value.type.shape[0]!;
    if (typeof first === 'string' && dimSymbols(first).length === 1) batch.set(first, 1);
    let caches: Record<string, Tensor> = {};
    for (const c of step.caches) {
      const input = split.step.inputs.find((i) => i.name === c.k)!;
      const shape = c.shape.map((d) => evalDim(d, batch)); // [1, heads, 0, head_dim]
      caches[c.k] = tensor(input.value.type.dtype, shape);
      caches[c.v] = tensor(input.value.type.dtype, shape);
    }
    let pending: readonly number[] | undefined = prompt;
    return async (last) => {
      const ids = pending ?? [last!];
      pending = undefined;
      const outputs = await this.runners.step!.run({ ...fixed, ...caches, [this.tokens.name]: tensor(this.tokens.value.type.dtype, [1, ids.length], ids) });
      const next: Record<string, Tensor> = {};
      for (const c of step.caches) {
        next[c.k] = outputs.get(c.presentK)!;
        next[c.v] = outputs.get(c.presentV)!;
      }
      caches = next;
      return lastRow(outputs.get(this.logits.name)!);
    };
  }

  /** Validates a request; returns the other inputs. */
  private checkRequest(r: GenerateRequest): Record<string, Tensor> {
    const vocab = this.logits.value.type.shape[2] as number;
    if (r.prompt.length === 0) throw bad(options, 'the prompt is empty: give at least one token id');
    const badId = r.prompt.find((t) => !Number.isInteger(t) || t < 0 || t >= vocab);
    if (badId !== undefined) throw bad(options, `prompt token ${badId} is not an id of the vocabulary [0, ${vocab})`);
    if (!Number.isInteger(r.maxNewTokens) || r.maxNewTokens < 1) throw bad(options, `--max-tokens ${r.maxNewTokens}: expected a positive integer`);
    if (r.eos !== undefined && !(Number.isInteger(r.eos) && r.eos >= 0 && r.eos < vocab)) throw bad(options, `--eos ${r.eos}: expected a token id in [0, ${vocab})`);
    const s = r.sampling;
    if (s) {
      if (s.topK !== undefined && !(Number.isInteger(s.topK) && s.topK >= 1)) throw bad(options, `--top-k ${s.topK}: expected a positive integer`);
      if (s.temperature !== undefined && !(Number.isFinite(s.temperature) && s.temperature > 0)) throw bad(options, `--temperature ${s.temperature}: expected a positive number`);
      if (s.seed !== undefined && !(Number.isSafeInteger(s.seed) && s.seed >= 0)) throw bad(options, `--seed ${s.seed}: expected a non-negative integer`);
    }
    const given = { ...(r.inputs ?? {}) };
    if (this.tokens.name in given) throw bad(options, `input '${this.tokens.name}' holds the tokens: give them as the prompt, not as an input`);
    for (const input of this.graph.inputs) {
      if (input === this.tokens) continue;
      if (input.value.type.shape.some((d) => dimSymbols(d).includes(this.time))) {
        throw bad(input.loc, `input '${input.name}' ${shapeToString(input.value.type.shape)} runs over '${this.time}', which grows with every token; generation can only extend the token input`);
      }
      if (!given[input.name]) throw new PtmError(diag.missing_input(input.loc, input.name));
    }
    return given;
  }
}

/** Logits [1, T, V] -> the last position's row, as float64. */
function lastRow(logits: Tensor): Float64Array {
  const [, t, v] = logits.shape as [number, number, number];
  return Float64Array.from(logits.data.subarray((t - 1) * v, t * v));
}

/** One-shot: prepare `graph` and generate once. */
export async function generate(graph: Graph, params: ParamSource, request: GenerateRequest, opts: GeneratorOptions = {}): Promise<GenerateResult> {
  return new Generator(graph, params, opts).generate(request);
}
