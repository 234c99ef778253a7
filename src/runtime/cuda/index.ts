// The CUDA backend: a KernelDevice over an emitted, nvcc-built library (through koffi), and probeCuda().
export { CudaDevice, CudaError } from './device.js';
export { openCudaLibrary, probeCuda } from './library.js';
export type { CudaLibrary, CudaProbe } from './library.js';
export { residentTensors, storageBytes } from '../program/resident.js';
