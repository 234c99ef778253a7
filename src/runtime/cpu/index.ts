// The cpu reference backend: an interpreter of the Graph IR, one kernel per op.
export { runGraph } from './interpreter.js';
export type { RunOptions, RunResult } from './interpreter.js';
export { KERNELS } from './kernels.js';
export type { Kernel, KernelContext } from './kernel.js';
export { erf, erfc } from './erf.js';
