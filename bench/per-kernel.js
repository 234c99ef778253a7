// Diagnostic mode of the benchmark: a KernelDevice that runs every launch of a ProgramSession in a
// compute pass of its own and waits for it, so each kernel gets its own GPU time (timestamp
// queries, where the device has them) and wall time; or, with perLaunch = false, all launches in
// one timed pass, to compare the GPU's busy time with the wall time of a run. Never used for the
// warm numbers. Launches arrive in program.launches order, so timings[i] belongs to launches[i].
import { WebGpuExecutor } from '../dist/runtime/webgpu/index.js';
import { packParams, renderWgsl } from '../dist/codegen/render/wgsl.js';
import { evalGrid } from '../dist/codegen/kernel-ir/interpret.js';

export class PerLaunchDevice {
  /** @param inner a WebGpuDevice: buffers, uploads and downloads go through it. */
  constructor(inner) {
    this.inner = inner;
    this.name = `${inner.name}, one pass per launch`;
    this.alignment = inner.alignment;
    this.bufferPerSlot = true;
    this.timestamps = inner.ctx.features.has('timestamp-query');
    // Its own executor, so the timed passes never mix with the inner device's batches; pipelines
    // come from the context's shared cache, already compiled by the warm runs.
    this.executor = new WebGpuExecutor(inner.ctx, { packParams, timestamps: this.timestamps });
    this.wgsl = new WeakMap();
    this.pending = [];
    /** One entry per launch of the last flushed run: { kernel, params, gpuMs (null without timestamps), wallMs }. */
    this.timings = [];
    /** false: every launch in one pass, as WebGpuDevice does; then batchedGpuMs is that pass's GPU time. */
    this.perLaunch = true;
    this.batchedGpuMs = null;
  }

  get maxBindingBytes() {
    return this.inner.maxBindingBytes;
  }

  alloc(bytes, label) {
    return this.inner.alloc(bytes, label);
  }

  write(buffer, data, offset) {
    this.inner.write(buffer, data, offset);
  }

  read(buffer, offset, bytes) {
    return this.inner.read(buffer, offset, bytes);
  }

  free(buffer) {
    this.inner.free(buffer);
  }

  dispatch(kernel, bindings, params) {
    this.pending.push({ kernel, bindings, params });
  }

  async flush() {
    const launches = this.pending;
    this.pending = [];
    if (!this.perLaunch) {
      for (const launch of launches) this.record(launch);
      await this.executor.sync();
      this.batchedGpuMs = this.timestamps ? this.executor.lastGpuTimeNs / 1e6 : null;
      return;
    }
    this.timings = [];
    for (const launch of launches) {
      const t0 = performance.now();
      this.record(launch);
      await this.executor.sync();
      const wallMs = performance.now() - t0;
      this.timings.push({ kernel: launch.kernel.name, params: launch.params, gpuMs: this.timestamps ? this.executor.lastGpuTimeNs / 1e6 : null, wallMs });
    }
  }

  record({ kernel, bindings, params }) {
    let text = this.wgsl.get(kernel);
    if (text === undefined) this.wgsl.set(kernel, (text = renderWgsl(kernel)));
    const gpuBindings = bindings.map((b) => ({ buffer: b.buffer, offset: b.offset, size: Math.ceil(b.size / 4) * 4 }));
    this.executor.dispatch(kernel, text, gpuBindings, params, evalGrid(kernel, params));
  }
}

/** Nominal floating-point operations of one launch, from its numeric parameters (0 when unknown). */
export function launchFlops(op, kernelName, params) {
  if (op === 'fused_matmul' || op === 'matmul') return 2 * params.m * params.n * params.k;
  if (op === 'attention') {
    const dh = Number(/_d(\d+)/.exec(kernelName)?.[1] ?? 0);
    // Q·Kᵀ and P·V over every (query, key) pair; a causal kernel may skip about half of them.
    return 4 * params.batch * params.heads * params.tq * params.tk * dh;
  }
  return 0;
}
