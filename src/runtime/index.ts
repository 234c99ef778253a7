// The runtime's public API: host tensors, the cpu reference interpreter, seeded parameters and
// inputs, and tensor files (safetensors, .npy, JSON inputs).
export type { Tensor, TensorData, Precision, TensorSummary } from './tensor.js';
export { tensor, size, strides, allocate, withPrecision, summarize, checksum } from './tensor.js';
export { f32ToF16Bits, f16BitsToF32, f32ToBf16Bits, bf16BitsToF32, roundToHalf } from './half.js';
export type { ParamSource } from './param-source.js';
export { runGraph } from './cpu/index.js';
export type { RunOptions, RunResult } from './cpu/index.js';
export { initParam, initParams, lazyInitParams } from './init.js';
export { RandomStream } from './random.js';
export type { SafetensorsFile, SafetensorsEntry } from './safetensors.js';
export { readSafetensors, readSafetensorsBytes, writeSafetensors, safetensorsBytes, parseSafetensorsHeader } from './safetensors.js';
export { loadParams, LoadedParams } from './load-params.js';
export { readNpy, parseNpy, writeNpy, npyBytes } from './npy.js';
export { readInputsJson, randomInputs } from './inputs.js';
