// Artifacts for scripts/gpu-check.sh, a GPU machine without Node: per program its emitted CUDA build, and
// for the programs checked numerically their weights, inputs and CPU reference outputs as raw
// little-endian files indexed by data.json. All of it must travel to the lent machine in 64 MiB.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileGraph } from '../../api.js';
import { emitCuda } from '../../codegen/cuda/emit.js';
import type { Manifest } from '../../codegen/cuda/manifest.js';
import { lowerGraph } from '../../codegen/lower/lower.js';
import { maskBin, maskVar } from '../../ir/mask.js';
import type { Program } from '../../codegen/lower/program.js';
import type { StorageType } from '../../codegen/templates/instance.js';
import { FUSION_PIPELINE, runPipeline } from '../../passes/pipeline.js';
import { runGraph } from '../cpu/index.js';
import { initParams } from '../init.js';
import { randomInputs } from '../inputs.js';
import type { ParamSource } from '../param-source.js';
import type { Tensor } from '../tensor.js';
import { residentTensors, storageBytes } from '../program/resident.js';

/** What one call to the lent machine may carry: the working tree and the artifacts together. */
export const CARRY_LIMIT_BYTES = 64 * 1024 * 1024;

export interface GpuCheckProgram {
  dir: string;
  model: 'gpt2' | 'bert';
  /** Config overrides (`--set`). */
  set: Record<string, number>;
  /** check: weights, inputs and reference outputs shipped; timing: inputs only (weights random there). */
  role: 'check' | 'timing';
}

/**
 * Both models at exact width (d 768, 12 heads, ff 3072), one layer each, position tables cut to the
 * 128 positions used and vocabularies cut to a size with the full one's remainder mod 64 (the same
 * partial tiles and vector widths): 28 MB of f32 weights per layer is what 64 MiB allows for two models.
 * The full-size programs go along for timing, without weights.
 */
export const GPU_CHECK_PROGRAMS: readonly GpuCheckProgram[] = [
  { dir: 'gpt2', model: 'gpt2', set: { layers: 1, ctx: 128, vocab: 64 * 2 + (50257 % 64) }, role: 'check' },
  { dir: 'bert', model: 'bert', set: { layers: 1, ctx: 128, vocab: 64 * 2 + (30522 % 64) }, role: 'check' },
  { dir: 'gpt2-full', model: 'gpt2', set: {}, role: 'timing' },
  { dir: 'bert-full', model: 'bert', set: {}, role: 'timing' },
];

export interface PrepareOptions {
  /** The repository root (models/ lives there). */
  root: string;
  seed?: number;
  batch?: number;
  seq?: number;
  programs?: readonly GpuCheckProgram[];
  log?: (line: string) => void;
}

export interface PrepareResult {
  artifactBytes: number;
  programs: { dir: string; bytes: number; launches: number; kernels: number }[];
  /** Kernels of each full-size program that no checked program of the same model runs (should be none). */
  unchecked: Record<string, string[]>;
}

interface Entry { key: string; storage: string; shape: number[]; offset: number; bytes: number }

/** Writes blobs one after another into `file`, returning the index data.json keeps. */
function writeBlobs(path: string, items: { key: string; storage: string; shape: number[]; bytes: Uint8Array }[]): { file: string; entries: Entry[] } {
  let offset = 0;
  const entries = items.map((it) => {
    const e = { key: it.key, storage: it.storage, shape: it.shape, offset, bytes: it.bytes.byteLength };
    offset += it.bytes.byteLength;
    return e;
  });
  const all = new Uint8Array(offset);
  items.forEach((it, i) => all.set(it.bytes, entries[i]!.offset));
  writeFileSync(path, all);
  return { file: path.split('/').pop()!, entries };
}

function compileProgram(root: string, p: GpuCheckProgram) {
  const file = `models/${p.model}.ptm`;
  const { graph } = compileGraph(readFileSync(join(root, file), 'utf8'), { file, set: p.set });
  return { graph, program: lowerGraph(runPipeline(graph, FUSION_PIPELINE)) };
}

const storageOf = (t: Tensor): StorageType => (t.dtype === 'bool' ? 'u32' : t.dtype === 'i32' || t.dtype === 'i64' ? 'i32' : 'f32');

export interface ProgramArtifacts {
  role: 'check' | 'timing';
  /** Facts for data.json (model, set, seed). */
  meta: Record<string, unknown>;
  symbols: ReadonlyMap<string, number>;
  inputs: Record<string, Tensor>;
  /** For role check: the params (uploaded as the session would) and the CPU reference outputs. */
  params?: ParamSource;
  reference?: Map<string, Tensor>;
}

/** One program's folder: cuda/ (emitted files), inputs.bin, and for checks weights.bin and reference.bin, indexed by data.json. */
export function writeProgramArtifacts(dir: string, program: Program, a: ProgramArtifacts): Manifest {
  mkdirSync(join(dir, 'cuda'), { recursive: true });
  const { files, manifest } = emitCuda(program);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, 'cuda', name), content);
  const tensors = (m: Iterable<[string, Tensor]>) => [...m].map(([key, t]) => ({ key, storage: storageOf(t), shape: [...t.shape], bytes: storageBytes(t, storageOf(t)) }));
  const data: Record<string, unknown> = {
    ...a.meta, role: a.role, symbols: Object.fromEntries(a.symbols), inputs: writeBlobs(join(dir, 'inputs.bin'), tensors(Object.entries(a.inputs))),
  };
  if (a.role === 'check') {
    if (!a.params || !a.reference) throw new Error('writeProgramArtifacts: a check needs params and reference outputs');
    const resident = residentTensors(program, a.params);
    data.weights = writeBlobs(join(dir, 'weights.bin'), resident.map(({ buffer, tensor }) => ({ key: buffer.id, storage: buffer.storage, shape: [...tensor.shape], bytes: storageBytes(tensor, buffer.storage) })));
    data.reference = writeBlobs(join(dir, 'reference.bin'), tensors(a.reference));
  }
  writeFileSync(join(dir, 'data.json'), `${JSON.stringify(data, null, 1)}\n`);
  return manifest;
}

/** Writes ARTIFACTS (emptied first) for scripts/gpu-check.sh; see GPU_CHECK_PROGRAMS for what goes in. */
export function prepareGpuCheck(outDir: string, options: PrepareOptions): PrepareResult {
  const { root, seed = 0, batch = 1, seq = 128, log = () => {} } = options;
  const programs = options.programs ?? GPU_CHECK_PROGRAMS;
  const symbols = new Map([['batch', batch], ['seq', seq]]);
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const fingerprints = new Map<string, Map<string, string>>();
  const bench: unknown[] = [];
  const summary: PrepareResult['programs'] = [];
  for (const p of programs) {
    const dir = join(outDir, p.dir);
    const { graph, program } = compileProgram(root, p);
    const inputs = randomInputs(graph, seed, symbols);
    const params = p.role === 'check' ? initParams(graph, seed) : undefined;
    const reference = params && runGraph(graph, { inputs, params, precision: 'f32' }).outputs;
    const manifest = writeProgramArtifacts(dir, program, {
      role: p.role, meta: { model: `models/${p.model}.ptm`, set: p.set, seed }, symbols, inputs, ...(params ? { params, reference } : {}),
    });
    if (p.role === 'timing' && p.model === 'gpt2') bench.push(...benchLaunches(p.dir, program, symbols));
    fingerprints.set(p.dir, new Map(manifest.kernels.map((k) => [k.fingerprint, k.symbol])));
    const bytes = directoryBytes(dir);
    summary.push({ dir: p.dir, bytes, launches: program.launches.length, kernels: manifest.kernels.length });
    log(`${p.dir}: ${program.launches.length} launches, ${manifest.kernels.length} kernels, ${(bytes / 2 ** 20).toFixed(1)} MiB`);
  }
  const unchecked: Record<string, string[]> = {};
  for (const p of programs.filter((x) => x.role === 'timing')) {
    const checked = new Set(programs.filter((x) => x.role === 'check' && x.model === p.model).flatMap((x) => [...fingerprints.get(x.dir)!.keys()]));
    unchecked[p.dir] = [...fingerprints.get(p.dir)!].filter(([f]) => !checked.has(f)).map(([, symbol]) => symbol);
  }
  const index = { format: 'ptm-gpu-check/1', seed, symbols: Object.fromEntries(symbols), programs: programs.map((p) => ({ ...p })), bench, unchecked };
  writeFileSync(join(outDir, 'gpu-check.json'), `${JSON.stringify(index, null, 1)}\n`);
  return { artifactBytes: directoryBytes(outDir), programs: summary, unchecked };
}

/** The GPT-2 matmuls and the attention to time against PyTorch: the first launch of each shape. */
function benchLaunches(dir: string, program: Program, symbols: ReadonlyMap<string, number>): unknown[] {
  const ops = new Map(program.graph.ops.map((op) => [op.result.id, op]));
  const value = (d: unknown) => (typeof d === 'number' ? d : symbols.get(String(d)) ?? Number.NaN);
  const seen = new Set<string>();
  const out: unknown[] = [];
  program.launches.forEach((launch, index) => {
    const outId = launch.buffers[launch.instance.bind.findIndex((b) => b.kind === 'output')];
    const op = outId === undefined ? undefined : ops.get(outId);
    if (!op) return;
    if (op.op === 'fused_matmul') {
      const shape = op.result.type.shape;
      const m = shape.slice(0, -1).reduce<number>((a, d) => a * value(d), 1), n = value(shape[shape.length - 1]);
      const a = op.operands[0]!.type.shape, k = value(a[a.length - 1]);
      const key = `${m}x${k}x${n}`;
      if (seen.has(key)) return;
      seen.add(key);
      out.push({ kind: 'matmul', label: `${dir} #${index} matmul`, program: dir, launch: index, kernel: launch.instance.kernel.name, loc: `${launch.loc.file}:${launch.loc.line}`, m, k, n });
    } else if (op.op === 'attention' && op.attrs.bias === undefined && !seen.has('attention')) {
      // PyTorch's SDPA peer takes causal or all-visible masks without a score bias (T5's is not timed).
      seen.add('attention');
      const [b, h, t, dh] = op.operands[0]!.type.shape.map(value);
      const causal = JSON.stringify(op.attrs.mask) === JSON.stringify(maskBin('<=', maskVar('k'), maskVar('q')));
      out.push({ kind: 'attention', label: `${dir} #${index} attention`, program: dir, launch: index, kernel: launch.instance.kernel.name, loc: `${launch.loc.file}:${launch.loc.line}`, batch: b, heads: h, seq: t, dh, causal });
    }
  });
  return out;
}

function directoryBytes(dir: string): number {
  const out = execFileSync('du', ['-sb', dir], { encoding: 'utf8' });
  return Number(out.split(/\s/)[0]);
}

/** Bytes of the files a device call would carry from `root` (tracked and untracked, not ignored). */
export function workingTreeBytes(root: string): number {
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26 });
  return listed.split('\0').filter(Boolean).reduce((sum, f) => {
    try {
      return sum + statSync(join(root, f)).size;
    } catch {
      return sum;
    }
  }, 0);
}
