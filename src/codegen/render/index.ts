// Renderers of kernel IR: WGSL and CUDA C++ spellings over one shared C-like printer.
export { renderWgsl, packParams } from './wgsl.js';
export { renderCuda } from './cuda.js';
export { printKernel, f32Decimal, type Spellings, type Printed, type KernelNames } from './c-like.js';
