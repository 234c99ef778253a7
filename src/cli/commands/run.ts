// `ptm run FILE`: execute on a backend (the CPU reference for now) with JSON or seeded random inputs,
// then print each output's shape, summary and checksum, or save them as .npy/.safetensors.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { PtmError } from '../../diagnostics/diagnostic.js';
import { diag } from '../../diagnostics/catalogue.js';
import type { Graph } from '../../ir/types.js';
import type { Tensor } from '../../runtime/index.js';
import { initParams, loadParams, randomInputs, readInputsJson, runGraph, summarize, writeNpy, writeSafetensors } from '../../runtime/index.js';
import { loadModel } from '../load.js';
import { compileFile } from './compile.js';
import { ProgramSession } from '../../runtime/program/session.js';
import { WebGpuDevice } from '../../runtime/program/webgpu-device.js';
import { probeWebGpu } from '../../runtime/webgpu/index.js';
import { probeCuda } from '../../runtime/cuda/index.js';
import { adapterKey, tuneCachePath, variantsFor } from '../../runtime/tune.js';
import { CudaDevice } from '../../runtime/cuda/index.js';
import { emitCuda } from '../../codegen/cuda/emit.js';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { dirname } from 'node:path';
import { writeFileSync } from 'node:fs';
import { num } from '../format.js';
import { runSegments, segmentCount, splitSegments, withoutMemories } from './run-segments.js';
import type { Io } from '../main.js';

const cli = { file: '<command line>', line: 0, col: 0, offset: 0, end: 0 };

export interface RunOptions {
  backend: 'auto' | 'cpu' | 'webgpu' | 'cuda';
  inputs?: string;
  random?: boolean;
  seed: string;
  dim?: string[];
  weights?: string;
  precision: 'f32' | 'f64';
  save?: string;
  force?: boolean;
  set?: string[];
  json?: boolean;
  /** `--segments N`: feed the input in N segments through a session carrying memory (run-segments.ts). */
  segments?: string;
}

export function seedOption(text: string): number {
  const seed = Number(text);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new PtmError(diag.invalid_override(cli, `--seed ${text} (expected a non-negative integer)`));
  return seed;
}

/** Parameters from a safetensors file, or a seeded init. */
export function parameters(graph: Graph, weights: string | undefined, seed: number): Map<string, Tensor> {
  return weights ? loadParams(graph, weights) : initParams(graph, seed);
}

/** Sizes of symbolic dimensions: batch=1 and every other symbol `others` unless --dim says. */
export function symbolSizes(graph: Graph, dims: readonly string[], others = 16): Map<string, number> {
  const sizes = new Map(graph.symbols.map((s) => [s, s === 'batch' ? 1 : others]));
  for (const text of dims) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=([0-9]+)$/.exec(text.trim());
    if (!m || Number(m[2]) < 1) throw new PtmError(diag.invalid_override(cli, `--dim ${text} (expected name=positive integer)`));
    if (!sizes.has(m[1]!)) throw new PtmError(diag.unknown_name(cli, m[1]!, undefined));
    sizes.set(m[1]!, Number(m[2]));
  }
  return sizes;
}

/**
 * The backend to run on: as asked, or the best available. A software WebGPU adapter (llvmpipe,
 * SwiftShader) is not chosen by default: it is slower than the CPU reference.
 */
async function chooseBackend(asked: RunOptions['backend']): Promise<{ backend: 'cpu' | 'webgpu' | 'cuda'; why: string }> {
  if (asked === 'cuda') {
    const probe = probeCuda();
    if (!probe.ok) throw new PtmError(diag.backend_unavailable(cli, 'cuda', probe.reason));
    return { backend: 'cuda', why: `as asked (${probe.reason})` };
  }
  if (asked === 'webgpu') {
    const probe = await probeWebGpu();
    if (!probe.ok) throw new PtmError(diag.backend_unavailable(cli, 'webgpu', probe.reason));
    return { backend: 'webgpu', why: 'as asked' };
  }
  if (asked === 'cpu') return { backend: 'cpu', why: 'as asked' };
  const cuda = probeCuda();
  const webgpu = await probeWebGpu();
  if (cuda.ok) return { backend: 'cuda', why: `the best available: ${cuda.reason}` };
  if (webgpu.ok && !/llvmpipe|lavapipe|swiftshader|software/i.test(`${webgpu.info.description} ${webgpu.info.vendor} ${webgpu.info.architecture}`)) {
    return { backend: 'webgpu', why: `the best available: ${webgpu.info.description || webgpu.info.vendor}${cuda.ok ? '' : `; cuda: ${cuda.reason}`}` };
  }
  const soft = webgpu.ok ? `WebGPU here is a software adapter (${webgpu.info.description || webgpu.info.vendor}), slower than the CPU reference; --backend webgpu uses it anyway` : `webgpu: ${webgpu.reason}`;
  return { backend: 'cpu', why: `the best available: ${soft}; cuda: ${cuda.reason}` };
}

export async function runCommand(file: string, opts: RunOptions, io: Io): Promise<number> {
  const { backend, why } = await chooseBackend(opts.backend);
  if (backend !== 'cpu' && opts.precision === 'f64') throw new PtmError(diag.invalid_override(cli, `--precision f64 on ${backend} (kernels compute in f32; f64 is a CPU-reference mode)`));
  const { graph } = loadModel(file, opts.set);
  if (!opts.inputs && !opts.random) {
    throw new PtmError(diag.missing_argument(cli, 'ptm run', '--inputs <file.json> or --random'));
  }
  if (opts.inputs && opts.random) throw new PtmError(diag.invalid_override(cli, '--inputs and --random (choose one)'));
  const seed = seedOption(opts.seed);
  if (opts.segments !== undefined) {
    // Memory models fed segment by segment through a session (run-segments.ts); the session supplies the memory inputs.
    const count = segmentCount(opts.segments);
    if (backend === 'cuda') throw new PtmError(diag.backend_unavailable(cli, 'cuda', '--segments runs sessions on the CPU reference or WebGPU only, for now'));
    if (opts.save) throw new PtmError(diag.invalid_override(cli, '--save with --segments (save is per run; print the segments instead)'));
    const fed = withoutMemories(graph);
    const whole = opts.inputs ? readInputsJson(opts.inputs, fed) : randomInputs(fed, seed, symbolSizes(fed, opts.dim ?? []));
    return runSegments(graph, parameters(graph, opts.weights, seed), splitSegments(fed, whole, count), { backend, precision: opts.precision, json: opts.json }, io);
  }
  const inputs = opts.inputs ? readInputsJson(opts.inputs, graph) : randomInputs(graph, seed, symbolSizes(graph, opts.dim ?? []));
  const params = parameters(graph, opts.weights, seed);
  const started = performance.now();
  let outputs: Map<string, Tensor>;
  if (backend === 'webgpu') {
    const device = await WebGpuDevice.create();
    const variants = variantsFor(adapterKey(device.ctx.adapterInfo));
    const { program } = compileFile(file, { set: opts.set, target: 'webgpu', variants });
    const session = ProgramSession.create(program, params, device);
    outputs = await session.run(inputs);
  } else if (backend === 'cuda') {
    const { program } = compileFile(file, { set: opts.set, target: 'cuda' });
    outputs = await ProgramSession.create(program, params, buildCuda(program)).run(inputs);
  } else outputs = runGraph(graph, { inputs, params, precision: opts.precision }).outputs;
  const seconds = (performance.now() - started) / 1000;
  if (opts.save) saveOutputs(opts.save, outputs, opts.force);

  const rows = [...outputs].map(([name, t]) => ({ name, ...summarize(t) }));
  if (opts.json) {
    io.out(JSON.stringify({ ok: true, backend, precision: backend === 'cpu' ? opts.precision : 'f32', outputs: rows }, null, 2));
    return 0;
  }
  const what = backend === 'cpu' ? `cpu (${opts.precision}, the reference interpreter)` : `${backend} (f32 kernels)`;
  io.err(`backend: ${what}, ${why}; ran in ${seconds.toFixed(2)} s${backend === 'webgpu' ? ' (compile and pipeline creation included)' : ''}`);
  for (const r of rows) {
    const stats = `min ${num(r.min)}  max ${num(r.max)}  mean ${num(r.mean)}  std ${num(r.std)}`;
    io.out(`${r.name}: ${r.dtype}[${r.shape.join(', ')}]  ${stats}  checksum ${r.checksum}${r.nonFinite ? `  (${r.nonFinite} non-finite!)` : ''}`);
  }
  return 0;
}

/** Emits the program's CUDA to a cache folder keyed by its manifest, builds it with nvcc once, and opens it. */
function buildCuda(program: Parameters<typeof emitCuda>[0]): CudaDevice {
  const { files } = emitCuda(program);
  const key = createHash('sha256').update(files['kernels.cu'] as string).digest('hex').slice(0, 16);
  const dir = join(dirname(tuneCachePath()), 'cuda', key);
  if (!existsSync(join(dir, 'libptm_kernels.so'))) {
    mkdirSync(dir, { recursive: true });
    for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data);
    const built = spawnSync('make', ['-C', dir], { encoding: 'utf8' });
    if (built.status !== 0) throw new PtmError(diag.backend_unavailable(cli, 'cuda', `building the kernels with nvcc failed in ${dir}:\n${(built.stderr || built.stdout || String(built.error)).slice(-2000)}`));
  }
  return CudaDevice.open(dir);
}

/** `x.safetensors` holds every output; a `.npy` path holds the only output; a directory gets `<name>.npy` each. */
function saveOutputs(path: string, outputs: Map<string, Tensor>, force?: boolean): void {
  const ext = extname(path).toLowerCase();
  if (ext === '.safetensors') return writeSafetensors(path, outputs, { force });
  if (ext === '.npy') {
    if (outputs.size !== 1) throw new PtmError(diag.invalid_override(cli, `--save ${path}: the model has ${outputs.size} outputs; give a directory or a .safetensors file`));
    return writeNpy(path, [...outputs.values()][0]!, { force });
  }
  if (existsSync(path) && !statSync(path).isDirectory()) throw new PtmError(diag.output_exists(cli, path));
  mkdirSync(path, { recursive: true });
  for (const [name, t] of outputs) writeNpy(join(path, `${name}.npy`), t, { force });
}
