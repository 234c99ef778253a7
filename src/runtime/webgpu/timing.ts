// Timing for benchmarks: host cost of recording dispatches, wall time to run them, and the GPU's own
// time for the pass from timestamp queries where the device has them. One warm-up run compiles pipelines.
import type { GpuContext } from './device.js';
import { WebGpuExecutor, type ExecutorOptions } from './execute.js';

export interface DispatchTiming {
  /** Dispatches recorded per run. */
  dispatches: number;
  /** Host time to record them, per dispatch (µs); best of the runs. */
  recordUsPerDispatch: number;
  /** Record + submit + wait for the device, per dispatch (µs); best of the runs. */
  wallUsPerDispatch: number;
  /** GPU time of the whole pass (ns), best of the runs; null without timestamp-query. */
  gpuNs: number | null;
}

/** Runs `record` (which calls executor.dispatch) `runs` times after a warm-up and times each run. */
export async function timeDispatches(
  ctx: GpuContext,
  record: (executor: WebGpuExecutor) => void,
  options: ExecutorOptions & { runs?: number } = {},
): Promise<DispatchTiming> {
  const executor = new WebGpuExecutor(ctx, { ...options, timestamps: options.timestamps ?? ctx.features.has('timestamp-query') });
  record(executor);
  await executor.sync();
  let best = { record: Infinity, wall: Infinity, gpu: Infinity, dispatches: 0 };
  for (let run = 0; run < (options.runs ?? 3); run++) {
    const t0 = performance.now();
    record(executor);
    const dispatches = executor.pending;
    const t1 = performance.now();
    await executor.sync();
    const t2 = performance.now();
    best = {
      record: Math.min(best.record, ((t1 - t0) * 1000) / dispatches),
      wall: Math.min(best.wall, ((t2 - t0) * 1000) / dispatches),
      gpu: Math.min(best.gpu, executor.lastGpuTimeNs ?? Infinity),
      dispatches,
    };
  }
  return { dispatches: best.dispatches, recordUsPerDispatch: best.record, wallUsPerDispatch: best.wall, gpuNs: Number.isFinite(best.gpu) ? best.gpu : null };
}
