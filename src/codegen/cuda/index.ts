// The CUDA target: emitted files (kernels.cu with a C ABI, manifest.json, Makefile) from a Program.
export { emitCuda, kernelFingerprint, CUDA_ALIGNMENT, CUDA_ARCH, LIBRARY_NAME, NVCC_FLAGS } from './emit.js';
export type { CudaEmit, CudaEmitOptions } from './emit.js';
export { ABI_PROTOTYPES, ABI_VERSION } from './host-abi.js';
export { MANIFEST_FORMAT, bindManifestSymbols, evalDimString, evalGridExpr } from './manifest.js';
export type { GridExpr, Manifest, ManifestBuffer, ManifestKernel, ManifestLaunch, ManifestTensor } from './manifest.js';
