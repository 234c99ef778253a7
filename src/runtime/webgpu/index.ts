// The WebGPU backend: device acquisition and diagnosis, tensor buffers, cached pipelines, a batching
// executor for kernel IR rendered to WGSL, and `ptm doctor`'s report on every backend.
export { acquireDevice, probeWebGpu } from './device.js';
export type { GpuContext, AdapterInfo, Limits, ProbeResult } from './device.js';
export { WebGpuError, describeKernel } from './errors.js';
export type { WebGpuErrorCode } from './errors.js';
export {
  createStorageBuffer, uploadTensor, writeTensor, downloadTensor, bindRange, checkBindingSize, storageOffsetAlignment, alignTo,
} from './buffers.js';
export type { ElementType, HostArray } from './buffers.js';
export { PipelineCache, sharedPipelineCache, fnv1a64 } from './pipelines.js';
export type { CompiledKernel } from './pipelines.js';
export { WebGpuExecutor } from './execute.js';
export type { ExecutorOptions, ParamPacker } from './execute.js';
export { timeDispatches } from './timing.js';
export type { DispatchTiming } from './timing.js';
export { doctor, formatDoctor } from './doctor.js';
export type { BackendReport } from './doctor.js';
