// `ptm generate FILE --prompt 1,2,3`: autoregressive generation, streaming each new token id to stdout
// as it is chosen. Key/value cache by default (derive-decode-step, split-static), `--no-cache` to
// recompute the whole sequence per token; greedy, or seeded top-k/temperature sampling.
import { PtmError } from '../../diagnostics/diagnostic.js';
import { diag } from '../../diagnostics/catalogue.js';
import type { Graph } from '../../ir/types.js';
import { lazyInitParams, loadParams, randomInputs, readInputsJson } from '../../runtime/index.js';
import type { ParamSource, Tensor } from '../../runtime/index.js';
import { Generator } from '../../runtime/generate/index.js';
import type { GenerateBackend, Sampling } from '../../runtime/generate/index.js';
import { WebGpuDevice } from '../../runtime/program/webgpu-device.js';
import { probeWebGpu } from '../../runtime/webgpu/index.js';
import { adapterKey, variantsFor } from '../../runtime/tune.js';
import { loadModel } from '../load.js';
import type { Io } from '../main.js';
import { WEBGPU_MAX_BINDING_BYTES } from './compile.js';
import { seedOption, symbolSizes } from './run.js';

const cli = { file: '<command line>', line: 0, col: 0, offset: 0, end: 0 };
const bad = (message: string) => new PtmError(diag.invalid_generation(cli, message));

export interface GenerateCliOptions {
  prompt: string;
  maxTokens: string;
  topK?: string;
  temperature?: string;
  seed: string;
  eos?: string;
  backend: 'cpu' | 'webgpu';
  set?: string[];
  weights?: string;
  inputs?: string;
  random?: boolean;
  dim?: string[];
  tokensInput?: string;
  logits?: string;
  /** commander's `--no-cache`: false when given. */
  cache: boolean;
  json?: boolean;
}

function integer(option: string, text: string, min: number): number {
  const n = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(n) || n < min) throw bad(`${option} ${text}: expected an integer of at least ${min}`);
  return n;
}

function promptIds(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.some((p) => !/^\d+$/.test(p))) throw bad(`--prompt ${text}: expected token ids separated by commas, e.g. --prompt 464,2068,7586`);
  return parts.map(Number);
}

function sampling(opts: GenerateCliOptions, seed: number): Sampling | undefined {
  if (opts.topK === undefined && opts.temperature === undefined) return undefined;
  const temperature = opts.temperature === undefined ? 1 : Number(opts.temperature);
  if (!(Number.isFinite(temperature) && temperature > 0)) throw bad(`--temperature ${opts.temperature}: expected a positive number`);
  return { ...(opts.topK !== undefined ? { topK: integer('--top-k', opts.topK, 1) } : {}), temperature, seed };
}

/** The model's inputs other than the tokens: from --inputs, or seeded random ones. */
function otherInputs(graph: Graph, tokens: string, opts: GenerateCliOptions, seed: number): Record<string, Tensor> {
  const others: Graph = { ...graph, inputs: graph.inputs.filter((i) => i.name !== tokens) };
  if (opts.inputs && opts.random) throw bad('--inputs and --random: choose one');
  if (opts.inputs) return readInputsJson(opts.inputs, others);
  if (others.inputs.length === 0) return {};
  if (!opts.random) throw new PtmError(diag.missing_argument(cli, 'ptm generate', `--inputs <file.json> or --random (for the inputs ${others.inputs.map((i) => `'${i.name}'`).join(', ')})`));
  return randomInputs(others, seed, symbolSizes(graph, opts.dim ?? []));
}

async function backendFor(name: GenerateCliOptions['backend']): Promise<GenerateBackend> {
  if (name === 'cpu') return { kind: 'cpu' };
  const probe = await probeWebGpu();
  if (!probe.ok) throw new PtmError(diag.backend_unavailable(cli, 'webgpu', probe.reason));
  const device = await WebGpuDevice.create();
  const variants = variantsFor(adapterKey(device.ctx.adapterInfo));
  return { kind: 'kernels', device, lower: { maxBindingBytes: WEBGPU_MAX_BINDING_BYTES, matmulVariant: variants.matmul, attentionVariant: variants.attention } };
}

export async function generateCommand(file: string, opts: GenerateCliOptions, io: Io): Promise<number> {
  const prompt = promptIds(opts.prompt);
  const maxNewTokens = integer('--max-tokens', opts.maxTokens, 1);
  const eos = opts.eos === undefined ? undefined : integer('--eos', opts.eos, 0);
  const seed = seedOption(opts.seed);
  const { graph } = loadModel(file, opts.set);
  const params = opts.weights ? loadParams(graph, opts.weights) : memoized(lazyInitParams(graph, seed));
  const started = performance.now();
  const generator = new Generator(graph, params, {
    ...(opts.tokensInput !== undefined ? { tokens: opts.tokensInput } : {}),
    ...(opts.logits !== undefined ? { logits: opts.logits } : {}),
    backend: await backendFor(opts.backend),
    cache: opts.cache,
  });
  const inputs = otherInputs(graph, generator.tokens.name, opts, seed);
  const prepared = performance.now() - started;
  const result = await generator.generate({
    prompt, maxNewTokens, inputs,
    ...(eos !== undefined ? { eos } : {}),
    ...(() => { const s = sampling(opts, seed); return s ? { sampling: s } : {}; })(),
    onToken: opts.json ? undefined : (token) => io.out(String(token)),
  });
  const perToken = result.ms.tokens.length ? result.ms.tokens.reduce((a, b) => a + b, 0) / result.ms.tokens.length : undefined;
  const mode = opts.cache ? 'key/value cache' : 'no cache (whole sequence per token)';
  if (opts.json) {
    io.out(JSON.stringify({
      ok: true, backend: opts.backend, cache: opts.cache, tokensInput: generator.tokens.name, logits: generator.logits.name,
      prompt, tokens: result.tokens, stop: result.stop,
      ms: { prepare: round(prepared), prologue: round(result.ms.prologue), prompt: round(result.ms.prompt), perToken: perToken === undefined ? null : round(perToken) },
    }, null, 2));
    return 0;
  }
  const stop = result.stop === 'eos' ? `stopped at --eos ${eos}` : 'stopped at --max-tokens';
  const timing = `prepare ${prepared.toFixed(0)} ms, ${result.ms.prologue ? `prologue ${result.ms.prologue.toFixed(1)} ms, ` : ''}prompt ${result.ms.prompt.toFixed(1)} ms${perToken === undefined ? '' : `, ${perToken.toFixed(1)} ms per further token`}`;
  io.err(`${result.tokens.length} tokens on ${opts.backend === 'cpu' ? 'cpu (the reference interpreter)' : 'webgpu (f32 kernels)'} with ${mode}; ${stop}; ${timing}`);
  return 0;
}

/** Each parameter generated on first use and kept: a model that is refused costs no init, and steps reuse it. */
function memoized(source: ParamSource): ParamSource {
  const made = new Map<string, Tensor | undefined>();
  return {
    ...(source.label !== undefined ? { label: source.label } : {}),
    get: (name) => {
      if (!made.has(name)) made.set(name, source.get(name));
      return made.get(name);
    },
    ...(source.keys ? { keys: () => source.keys!() } : {}),
  };
}

const round = (ms: number) => Math.round(ms * 100) / 100;
