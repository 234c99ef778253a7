// Compute pipelines, cached by a stable hash of their WGSL. Each kernel gets an explicit layout
// (storage buffers 0..n-1 in kernel.buffers order, then its uniform struct with a dynamic offset),
// so one bind group serves every launch. WGSL errors name the kernel and its .ptm locations.
/// <reference types="@webgpu/types" />
import type { Kernel } from '../../codegen/kernel-ir/types.js';
import type { GpuContext } from './device.js';
import { kernelError, type WebGpuError } from './errors.js';

const COMPUTE_STAGE = 0x4; // GPUShaderStage.COMPUTE

/** FNV-1a 64 of the UTF-8 bytes of `text`, as 16 hex digits (stable across runs and machines). */
export function fnv1a64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  // 64-bit state in four 16-bit limbs, low first; prime = 2^40 + 0x1b3.
  let h0 = 0x2325, h1 = 0x8422, h2 = 0x9ce4, h3 = 0xcbf2;
  for (let i = 0; i < bytes.length; i++) {
    h0 ^= bytes[i]!;
    const t0 = h0 * 0x1b3;
    const t1 = h1 * 0x1b3 + (t0 >>> 16);
    const t2 = h2 * 0x1b3 + h0 * 0x100 + (t1 >>> 16);
    const t3 = h3 * 0x1b3 + h1 * 0x100 + (t2 >>> 16);
    h0 = t0 & 0xffff;
    h1 = t1 & 0xffff;
    h2 = t2 & 0xffff;
    h3 = t3 & 0xffff;
  }
  return [h3, h2, h1, h0].map((h) => h.toString(16).padStart(4, '0')).join('');
}

export interface CompiledKernel {
  /** Small integer unique in this cache (for bind group keys). */
  readonly id: number;
  /** fnv1a64 of the WGSL. */
  readonly key: string;
  readonly wgsl: string;
  readonly pipeline: GPUComputePipeline;
  readonly bindGroupLayout: GPUBindGroupLayout;
  /** The compiler's and validator's complaint once known; null when valid, undefined while checking. */
  problem: string | null | undefined;
  /** Resolves (never rejects) when `problem` is known. */
  readonly checked: Promise<string | null>;
}

const shared = new WeakMap<GpuContext, PipelineCache>();

/** The cache every executor on `ctx` uses unless given its own. */
export function sharedPipelineCache(ctx: GpuContext): PipelineCache {
  let cache = shared.get(ctx);
  if (!cache) shared.set(ctx, (cache = new PipelineCache(ctx)));
  return cache;
}

export class PipelineCache {
  private readonly byText = new Map<string, CompiledKernel>();
  private readonly byKernel = new WeakMap<Kernel, CompiledKernel>();
  private nextId = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly ctx: GpuContext) {}

  /** Number of distinct pipelines created. */
  get size(): number {
    return this.byText.size;
  }

  /**
   * The pipeline for `wgsl`, created on first use. Returns at once; a compile or validation error is
   * reported through `problem`/`checked` (WebGpuExecutor.flush throws it), or thrown by `compile`.
   */
  get(kernel: Kernel, wgsl: string): CompiledKernel {
    const known = this.byKernel.get(kernel);
    if (known && known.wgsl === wgsl) return this.hit(known);
    const shared = this.byText.get(wgsl);
    if (shared) {
      this.byKernel.set(kernel, shared);
      return this.hit(shared);
    }
    this.misses++;
    const compiled = this.create(kernel, wgsl);
    this.byText.set(wgsl, compiled);
    this.byKernel.set(kernel, compiled);
    return compiled;
  }

  /** Like get, but waits for the shader compiler and throws its errors (naming the kernel). */
  async compile(kernel: Kernel, wgsl: string): Promise<CompiledKernel> {
    const compiled = this.get(kernel, wgsl);
    const problem = await compiled.checked;
    if (problem) throw compileError(kernel, problem);
    return compiled;
  }

  private hit(compiled: CompiledKernel): CompiledKernel {
    this.hits++;
    return compiled;
  }

  private create(kernel: Kernel, wgsl: string): CompiledKernel {
    const { device } = this.ctx;
    const key = fnv1a64(wgsl);
    const label = kernel.name;
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ label, code: wgsl });
    const bindGroupLayout = device.createBindGroupLayout({ label, entries: layoutEntries(kernel) });
    const layout = device.createPipelineLayout({ label, bindGroupLayouts: [bindGroupLayout] });
    const pipeline = device.createComputePipeline({ label, layout, compute: { module, entryPoint: 'main' } });
    const scope = device.popErrorScope();
    const compiled: CompiledKernel = {
      id: this.nextId++,
      key,
      wgsl,
      pipeline,
      bindGroupLayout,
      problem: undefined,
      checked: Promise.all([module.getCompilationInfo(), scope]).then(
        ([info, error]) => describeProblem(wgsl, info, error),
        (e: unknown) => `pipeline creation failed: ${(e as Error).message}`,
      ),
    };
    void compiled.checked.then((problem) => (compiled.problem = problem));
    return compiled;
  }
}

/** The error for a kernel whose WGSL did not compile or whose pipeline did not validate. */
export function compileError(kernel: Kernel, problem: string): WebGpuError {
  return kernelError('wgsl_compile_error', kernel, `WGSL did not compile:\n${problem}`);
}

function layoutEntries(kernel: Kernel): GPUBindGroupLayoutEntry[] {
  const entries: GPUBindGroupLayoutEntry[] = kernel.buffers.map((b, binding) => ({
    binding,
    visibility: COMPUTE_STAGE,
    buffer: { type: b.access === 'read' ? 'read-only-storage' : 'storage' },
  }));
  // The uniform struct sits after the buffers. A layout may declare more than the shader uses, so
  // this entry is harmless for a kernel without parameters.
  entries.push({ binding: kernel.buffers.length, visibility: COMPUTE_STAGE, buffer: { type: 'uniform', hasDynamicOffset: true } });
  return entries;
}

/** Compiler errors with their WGSL line and a caret; else the validation error; null if neither. */
function describeProblem(wgsl: string, info: GPUCompilationInfo, error: GPUError | null): string | null {
  const lines = wgsl.split('\n');
  const errors = info.messages.filter((m) => m.type === 'error');
  if (errors.length) {
    return errors
      .map((m) => {
        const text = lines[m.lineNum - 1] ?? '';
        const caret = m.linePos > 0 ? `\n    ${' '.repeat(m.linePos - 1)}^` : '';
        return `  wgsl:${m.lineNum}:${m.linePos}: error: ${m.message}\n    ${text}${caret}`;
      })
      .join('\n');
  }
  return error ? `  ${error.message.trim()}` : null;
}
