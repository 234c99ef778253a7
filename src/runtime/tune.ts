// `ptm tune`: times each template variant on the WebGPU adapter at hand and caches the fastest per
// adapter, because what is fast differs by device (lavapipe rewards register tiles without barriers,
// real GPUs workgroup-memory tiles). Without a cache entry, compilation uses the templates' defaults.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { evalGrid } from '../codegen/kernel-ir/interpret.js';
import { packParams, renderWgsl } from '../codegen/render/wgsl.js';
import type { KernelInstance } from '../codegen/templates/instance.js';
import { matmulKernel, MATMUL_VARIANTS, DEFAULT_MATMUL_VARIANT } from '../codegen/templates/matmul.js';
import type { MatmulVariant } from '../codegen/templates/matmul.js';
import { attentionKernel, ATTENTION_VARIANTS, DEFAULT_ATTENTION_VARIANT } from '../codegen/templates/attention.js';
import type { AttentionVariant } from '../codegen/templates/attention.js';
import { maskBin, maskVar } from '../ir/mask.js';
import { evalDim } from '../ir/dim.js';
import type { GpuContext } from './webgpu/index.js';
import { timeDispatches } from './webgpu/index.js';

export interface TuneEntry {
  adapter: string;
  matmul: string;
  attention: string;
  /** Microseconds per launch of each variant, as measured. */
  timings: { matmul: Record<string, number>; attention: Record<string, number> };
  date: string;
}

type TuneCache = Record<string, TuneEntry>;

/** $PTM_CACHE_DIR, else $XDG_CACHE_HOME/ptm, else ~/.cache/ptm. */
export function tuneCachePath(): string {
  const base = process.env.PTM_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'ptm');
  return join(base, 'tune.json');
}

export const adapterKey = (info: { vendor: string; architecture: string; description: string }): string =>
  [info.vendor, info.architecture, info.description].join(' | ');

function readCache(): TuneCache {
  const path = tuneCachePath();
  if (!existsSync(path)) return {};
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as TuneCache;
  } catch {
    return {}; // a damaged cache only costs a re-tune
  }
}

/** The variants to compile with for this adapter: tuned if cached, else the defaults. */
export function variantsFor(adapter: string | undefined): { matmul: MatmulVariant; attention: AttentionVariant; source: string } {
  const entry = adapter ? readCache()[adapter] : undefined;
  const matmul = entry && MATMUL_VARIANTS[entry.matmul];
  const attention = entry && ATTENTION_VARIANTS[entry.attention];
  if (entry && matmul && attention) return { matmul, attention, source: `tuned on this adapter ${entry.date}: matmul ${entry.matmul}, attention ${entry.attention}` };
  return { matmul: DEFAULT_MATMUL_VARIANT, attention: DEFAULT_ATTENTION_VARIANT, source: 'defaults (run `ptm tune` to measure this adapter)' };
}

/** Times every variant, by default on GPT-2-shaped work ([128, 768] @ [768, 3072]; causal attention 12 x 128 x 64). */
export interface TuneShapes { m: number; k: number; n: number; heads: number; t: number; d: number }
export const GPT2_SHAPES: TuneShapes = { m: 128, k: 768, n: 3072, heads: 12, t: 128, d: 64 };

/** `only` restricts the variants timed (tests); by default every variant of every template. */
export async function tune(ctx: GpuContext, log: (line: string) => void = () => {}, shapes: TuneShapes = GPT2_SHAPES, only?: { matmul: string[]; attention: string[] }): Promise<TuneEntry> {
  const adapter = adapterKey(ctx.adapterInfo);
  const { m, k, n } = shapes;
  const matmul: Record<string, number> = {};
  for (const [name, variant] of Object.entries(MATMUL_VARIANTS).filter(([n]) => !only || only.matmul.includes(n))) {
    const instance = matmulKernel({
      batch: [], m, n, k, inputs: [{ storage: 'f32', shape: [m, k] }, { storage: 'f32', shape: [k, n] }],
      a: { input: 0, layout: { offset: 0, strides: [k, 1] } }, b: { input: 1, layout: { offset: 0, strides: [n, 1] } },
      epilogue: { kind: 'acc' }, epilogueLayouts: {}, out: { offset: 0, strides: [n, 1] }, variant, locs: [],
    });
    matmul[name] = await timeInstance(ctx, instance, [m * k, k * n], [m * n]);
    log(`matmul ${name.padEnd(14)} ${matmul[name]!.toFixed(0).padStart(8)} us  (${((2 * m * n * k) / matmul[name]! / 1e3).toFixed(2)} GFLOP/s)`);
  }
  const { heads, t, d } = shapes;
  const attention: Record<string, number> = {};
  const layout = { offset: 0, strides: [heads * t * d, t * d, d, 1] };
  for (const [name, variant] of Object.entries(ATTENTION_VARIANTS).filter(([n]) => !only || only.attention.includes(n))) {
    const instance = attentionKernel({
      batch: 1, heads, tq: t, tk: t, d, dv: d, scale: 0.125,
      inputs: [0, 1, 2].map(() => ({ storage: 'f32' as const, shape: [1, heads, t, d] })),
      q: { input: 0, layout }, k: { input: 1, layout }, v: { input: 2, layout }, out: layout,
      mask: maskBin('<=', maskVar('k'), maskVar('q')), maskInputs: {}, variant, locs: [],
    });
    attention[name] = await timeInstance(ctx, instance, [heads * t * d, heads * t * d, heads * t * d], [heads * t * d]);
    log(`attention ${name.padEnd(11)} ${attention[name]!.toFixed(0).padStart(8)} us`);
  }
  const fastest = (xs: Record<string, number>) => Object.entries(xs).sort((a, b) => a[1] - b[1])[0]![0];
  const entry: TuneEntry = { adapter, matmul: fastest(matmul), attention: fastest(attention), timings: { matmul, attention }, date: new Date().toISOString().slice(0, 10) };
  const cache = { ...readCache(), [adapter]: entry };
  const path = tuneCachePath();
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, JSON.stringify(cache, null, 2) + '\n');
  renameSync(`${path}.tmp`, path);
  return entry;
}

/** Microseconds per launch: GPU time from timestamp queries when available, else wall time. */
async function timeInstance(ctx: GpuContext, instance: KernelInstance, inputs: number[], outputs: number[]): Promise<number> {
  const { kernel } = instance;
  const buffers = [...inputs, ...outputs].map((elements, i) => {
    const buffer = ctx.device.createBuffer({ size: elements * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
    const fill = new Float32Array(elements);
    for (let j = 0; j < elements; j++) fill[j] = Math.sin(j * 0.37 + i);
    ctx.device.queue.writeBuffer(buffer, 0, fill);
    return buffer;
  });
  const bindings = instance.bind.map((b) => ({ buffer: buffers[b.kind === 'input' ? b.index : inputs.length + b.index]! }));
  const params = Object.fromEntries(Object.entries(instance.params).map(([name, dim]) => [name, evalDim(dim, new Map())]));
  const wgsl = renderWgsl(kernel);
  const grid = evalGrid(kernel, params);
  const timing = await timeDispatches(ctx, (executor) => executor.dispatch(kernel, wgsl, bindings, params, grid), { packParams, runs: 3 });
  buffers.forEach((b) => b.destroy());
  return timing.gpuNs !== null ? timing.gpuNs / 1000 / timing.dispatches : timing.wallUsPerDispatch;
}
