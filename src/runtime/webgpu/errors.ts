// Errors raised by the WebGPU backend: a stable snake_case code, and for kernel failures the kernel's
// name and the .ptm spans it computes, so a failure on the device points back at the source.
import type { Span } from '../../diagnostics/span.js';
import { formatLoc } from '../../diagnostics/span.js';
import type { Kernel } from '../../codegen/kernel-ir/types.js';

export type WebGpuErrorCode =
  | 'webgpu_unavailable'
  | 'device_lost'
  | 'binding_too_large'
  | 'binding_misaligned'
  | 'binding_out_of_range'
  | 'binding_count'
  | 'binding_alias'
  | 'grid_too_large'
  | 'wgsl_compile_error'
  | 'pipeline_error'
  | 'dispatch_error'
  | 'missing_grid';

export class WebGpuError extends Error {
  override readonly name = 'WebGpuError';
  constructor(
    readonly code: WebGpuErrorCode,
    message: string,
    /** The kernel at fault, where one is known. */
    readonly kernel?: string,
    readonly locs: readonly Span[] = [],
  ) {
    super(message);
  }
}

/** `kernel 'softmax_f32' (model.ptm:12:5, model.ptm:13:3)`: how every kernel error names its culprit. */
export function describeKernel(kernel: Pick<Kernel, 'name' | 'locs'>): string {
  const locs = uniqueLocs(kernel.locs);
  return locs.length ? `kernel '${kernel.name}' (${locs.join(', ')})` : `kernel '${kernel.name}' (no .ptm location)`;
}

function uniqueLocs(spans: readonly Span[]): string[] {
  return [...new Set(spans.map(formatLoc))];
}

export function kernelError(code: WebGpuErrorCode, kernel: Pick<Kernel, 'name' | 'locs'>, message: string): WebGpuError {
  return new WebGpuError(code, `webgpu: ${describeKernel(kernel)}: ${message}`, kernel.name, kernel.locs);
}
