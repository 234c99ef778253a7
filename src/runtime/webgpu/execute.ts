// Runs kernels on a WebGPU device. Dispatches are recorded into one compute pass and submitted
// together at flush() (one submit for hundreds of kernels); dispatches in a pass run in order, each
// seeing the writes of those before. Errors name the kernel and its .ptm locations.
/// <reference types="@webgpu/types" />
import { evalGrid } from '../../codegen/kernel-ir/interpret.js';
import type { Kernel } from '../../codegen/kernel-ir/types.js';
import { packParams as packWgslParams, renderWgsl } from '../../codegen/render/wgsl.js';
import type { GpuContext } from './device.js';
import { WebGpuError, describeKernel, kernelError } from './errors.js';
import { downloadTensor, type ElementType, type HostArray } from './buffers.js';
import { PipelineCache, compileError, sharedPipelineCache, type CompiledKernel } from './pipelines.js';
import { UniformArena, uniformBindingSize } from './uniforms.js';

/** Packs launch parameters into the kernel's uniform struct (the WGSL renderer's packParams). */
export type ParamPacker = (kernel: Kernel, values: Record<string, number>) => ArrayBuffer;

export interface ExecutorOptions {
  /** Packs parameters given by name; default: the WGSL renderer's packParams (matches renderWgsl). */
  packParams?: ParamPacker;
  /** Where pipelines are cached; by default one cache per device, shared by its executors. */
  pipelines?: PipelineCache;
  /** Record each pass's GPU time (needs the timestamp-query feature); see lastGpuTimeNs. */
  timestamps?: boolean;
}

const MAX_BIND_GROUPS = 8192;
const rendered = new WeakMap<Kernel, string>();

interface Batch {
  encoder: GPUCommandEncoder;
  pass: GPUComputePassEncoder;
  kernels: Map<CompiledKernel, Kernel>;
  /** Errors from creating this batch's new bind groups (null: none). */
  checks: Promise<string | null>[];
  dispatches: number;
  lastPipeline: GPUComputePipeline | null;
}

export class WebGpuExecutor {
  readonly pipelines: PipelineCache;
  private readonly uniforms: UniformArena;
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 0;
  private batch: Batch | null = null;
  private readonly timer: { querySet: GPUQuerySet; resolve: GPUBuffer; read: GPUBuffer } | null;
  /** GPU time of the last flushed pass in nanoseconds, when created with `timestamps`. */
  lastGpuTimeNs: number | null = null;
  readonly stats = { dispatches: 0, submits: 0, bindGroupsCreated: 0 };

  constructor(
    readonly ctx: GpuContext,
    private readonly options: ExecutorOptions = {},
  ) {
    this.pipelines = options.pipelines ?? sharedPipelineCache(ctx);
    this.uniforms = new UniformArena(ctx);
    this.timer = options.timestamps ? this.createTimer() : null;
  }

  /** Dispatches recorded and not yet flushed. */
  get pending(): number {
    return this.batch?.dispatches ?? 0;
  }

  /** Records one launch of `kernel`, rendered by renderWgsl (once per kernel object); see dispatch. */
  launch(kernel: Kernel, bindings: readonly GPUBufferBinding[], params: Record<string, number>, grid?: readonly [number, number, number]): void {
    let wgsl = rendered.get(kernel);
    if (wgsl === undefined) rendered.set(kernel, (wgsl = renderWgsl(kernel)));
    this.dispatch(kernel, wgsl, bindings, params, grid);
  }

  /**
   * Records one launch of `kernel` (rendered as `wgsl`) over `grid` workgroups (default: kernel.grid
   * evaluated with `params`). `bindings` follow kernel.buffers; `params` are values by name (packed
   * by options.packParams) or already packed (then `grid` is required).
   */
  dispatch(kernel: Kernel, wgsl: string, bindings: readonly GPUBufferBinding[], params: Record<string, number> | ArrayBuffer | ArrayBufferView, grid?: readonly [number, number, number]): void {
    if (this.ctx.lost) throw kernelError('device_lost', kernel, `the device was lost: ${this.ctx.lost}`);
    this.checkBindings(kernel, bindings);
    if (!grid) {
      if (params instanceof ArrayBuffer || ArrayBuffer.isView(params)) throw kernelError('missing_grid', kernel, 'parameters were passed packed, so the grid must be given');
      grid = evalGrid(kernel, params);
    }
    this.checkGrid(kernel, grid);
    const compiled = this.pipelines.get(kernel, wgsl);
    if (compiled.problem) throw compileError(kernel, compiled.problem);
    const bytes = this.pack(kernel, params);
    const bindingSize = uniformBindingSize(bytes.byteLength);
    const slot = this.uniforms.push(bytes, bindingSize);
    const batch = (this.batch ??= this.beginBatch());
    const bindGroup = this.bindGroup(batch, compiled, kernel, bindings, slot.chunk.buffer, slot.chunk.id, bindingSize);
    batch.kernels.set(compiled, kernel);
    if (batch.lastPipeline !== compiled.pipeline) {
      batch.pass.setPipeline(compiled.pipeline);
      batch.lastPipeline = compiled.pipeline;
    }
    batch.pass.setBindGroup(0, bindGroup, [slot.offset]);
    batch.pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
    batch.dispatches++;
  }

  /**
   * Submits every recorded dispatch in one command buffer. Resolves once the device has validated
   * them (not when they finish running: downloads wait for that); throws a WebGpuError naming the
   * kernel at fault if a shader did not compile or a dispatch was invalid.
   */
  async flush(): Promise<void> {
    const batch = this.batch;
    if (!batch) return;
    this.batch = null;
    const { device } = this.ctx;
    // Everything up to submit is synchronous, so the next batch's parameters cannot overtake these.
    device.pushErrorScope('validation');
    batch.pass.end();
    if (this.timer) batch.encoder.resolveQuerySet(this.timer.querySet, 0, 2, this.timer.resolve, 0);
    if (this.timer) batch.encoder.copyBufferToBuffer(this.timer.resolve, 0, this.timer.read, 0, 16);
    const commands = batch.encoder.finish();
    this.uniforms.upload();
    device.queue.submit([commands]);
    const scope = device.popErrorScope();
    this.stats.submits++;
    this.stats.dispatches += batch.dispatches;
    const [problems, bindProblems, error] = await Promise.all([
      Promise.all([...batch.kernels.keys()].map((c) => c.checked)),
      Promise.all(batch.checks),
      scope,
    ]);
    const kernels = [...batch.kernels.values()];
    const bad = problems.findIndex((p) => p);
    if (bad >= 0) throw compileError(kernels[bad]!, problems[bad]!);
    const bindProblem = bindProblems.find((p) => p);
    if (bindProblem || error) throw this.dispatchError(kernels, batch.dispatches, bindProblem ?? error!.message);
    if (this.timer) await this.readTimer();
  }

  /** Flushes, then waits until the device has run everything submitted. */
  async sync(): Promise<void> {
    await this.flush();
    await this.ctx.device.queue.onSubmittedWorkDone();
  }

  /** Flushes, then reads a buffer or bound range back as `type`. */
  async download(source: GPUBuffer | GPUBufferBinding, type: ElementType): Promise<HostArray> {
    await this.flush();
    return downloadTensor(this.ctx, source, type);
  }

  /** Drops cached bind groups (they hold their buffers; call after freeing many buffers). */
  forgetBindGroups(): void {
    this.bindGroups.clear();
  }

  private beginBatch(): Batch {
    const encoder = this.ctx.device.createCommandEncoder({ label: 'ptm dispatches' });
    const timestampWrites = this.timer ? { querySet: this.timer.querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } : undefined;
    const pass = encoder.beginComputePass(timestampWrites ? { label: 'ptm kernels', timestampWrites } : { label: 'ptm kernels' });
    return { encoder, pass, kernels: new Map(), checks: [], dispatches: 0, lastPipeline: null };
  }

  private pack(kernel: Kernel, params: Record<string, number> | ArrayBuffer | ArrayBufferView): Uint8Array {
    if (params instanceof ArrayBuffer) return new Uint8Array(params);
    if (ArrayBuffer.isView(params)) return new Uint8Array(params.buffer, params.byteOffset, params.byteLength);
    return new Uint8Array((this.options.packParams ?? packWgslParams)(kernel, params));
  }

  private bufferId(buffer: GPUBuffer): number {
    let id = this.bufferIds.get(buffer);
    if (id === undefined) this.bufferIds.set(buffer, (id = this.nextBufferId++));
    return id;
  }

  private bindGroup(batch: Batch, compiled: CompiledKernel, kernel: Kernel, bindings: readonly GPUBufferBinding[], uniform: GPUBuffer, uniformId: number, uniformSize: number): GPUBindGroup {
    let key = `${compiled.id}|${uniformId}|${uniformSize}`;
    for (const b of bindings) key += `|${this.bufferId(b.buffer)}:${b.offset ?? 0}:${b.size ?? -1}`;
    const cached = this.bindGroups.get(key);
    if (cached) return cached;
    if (this.bindGroups.size >= MAX_BIND_GROUPS) this.bindGroups.clear();
    const { device } = this.ctx;
    const entries: GPUBindGroupEntry[] = bindings.map((resource, binding) => ({ binding, resource }));
    entries.push({ binding: bindings.length, resource: { buffer: uniform, offset: 0, size: uniformSize } });
    device.pushErrorScope('validation');
    const group = device.createBindGroup({ label: kernel.name, layout: compiled.bindGroupLayout, entries });
    batch.checks.push(device.popErrorScope().then((e) => (e ? e.message : null)));
    this.bindGroups.set(key, group);
    this.stats.bindGroupsCreated++;
    return group;
  }

  private checkBindings(kernel: Kernel, bindings: readonly GPUBufferBinding[]): void {
    if (bindings.length !== kernel.buffers.length) {
      throw kernelError('binding_count', kernel, `expects ${kernel.buffers.length} buffers (${kernel.buffers.map((b) => b.name).join(', ')}), got ${bindings.length}`);
    }
    const { minStorageBufferOffsetAlignment: alignment, maxStorageBufferBindingSize: limit } = this.ctx.limits;
    for (let i = 0; i < bindings.length; i++) {
      const b = bindings[i]!;
      const offset = b.offset ?? 0;
      const size = b.size ?? b.buffer.size - offset;
      const name = kernel.buffers[i]!.name;
      if (offset % alignment !== 0) throw kernelError('binding_misaligned', kernel, `buffer '${name}' is bound at offset ${offset}, not a multiple of minStorageBufferOffsetAlignment = ${alignment}`);
      if (size > limit) throw kernelError('binding_too_large', kernel, `buffer '${name}' binds ${size} bytes, over maxStorageBufferBindingSize = ${limit}; the compiler must split it`);
      for (let j = 0; j < i; j++) {
        // Dawn tracks usage per whole buffer: a read-only and a writable binding of one buffer in the
        // same dispatch are rejected even when their ranges do not overlap.
        if (bindings[j]!.buffer === b.buffer && kernel.buffers[j]!.access !== kernel.buffers[i]!.access) {
          throw kernelError('binding_alias', kernel, `buffers '${kernel.buffers[j]!.name}' and '${name}' are bound to the same GPUBuffer '${b.buffer.label}', one read-only and one writable; WebGPU forbids this within one dispatch`);
        }
      }
    }
  }

  private checkGrid(kernel: Kernel, grid: readonly [number, number, number]): void {
    const max = this.ctx.limits.maxComputeWorkgroupsPerDimension;
    for (let axis = 0; axis < 3; axis++) {
      const n = grid[axis]!;
      if (!Number.isInteger(n) || n < 0 || n > max) {
        throw kernelError('grid_too_large', kernel, `grid [${grid.join(', ')}] has ${n} workgroups on axis ${'xyz'[axis]}; this device allows 0..${max} (maxComputeWorkgroupsPerDimension) per axis`);
      }
    }
  }

  private dispatchError(kernels: Kernel[], dispatches: number, message: string): WebGpuError {
    const named = kernels.filter((k) => message.includes(`"${k.name}"`));
    const culprits = named.length ? named : kernels;
    const where = culprits.slice(0, 8).map(describeKernel).join('; ') + (culprits.length > 8 ? `; and ${culprits.length - 8} more` : '');
    const first = culprits[0];
    return new WebGpuError('dispatch_error', `webgpu: a batch of ${dispatches} dispatches was rejected, in ${where}:\n${message.trim()}`, first?.name, culprits.flatMap((k) => k.locs));
  }

  private createTimer() {
    if (!this.ctx.features.has('timestamp-query')) throw new WebGpuError('webgpu_unavailable', 'webgpu: timestamps need the timestamp-query feature, which this device lacks');
    const { device } = this.ctx;
    return {
      querySet: device.createQuerySet({ type: 'timestamp', count: 2 }),
      resolve: device.createBuffer({ size: 16, usage: 0x200 | 0x4 }), // QUERY_RESOLVE | COPY_SRC
      read: device.createBuffer({ size: 16, usage: 0x1 | 0x8 }), // MAP_READ | COPY_DST
    };
  }

  private async readTimer(): Promise<void> {
    const read = this.timer!.read;
    await read.mapAsync(0x1);
    const [begin, end] = new BigUint64Array(read.getMappedRange());
    this.lastGpuTimeNs = Number(end! - begin!);
    read.unmap();
  }
}
