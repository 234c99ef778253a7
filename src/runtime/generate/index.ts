// Generation with a key/value cache (or by recomputing the whole sequence), on the CPU reference or kernels.
export { Generator, generate } from './generate.js';
export type { GeneratorOptions, GenerateRequest, GenerateResult } from './generate.js';
export type { GenerateBackend, GraphRunner } from './runners.js';
export { compileToProgram, graphRunner } from './runners.js';
export { tokenInput, logitsOutput } from './model-io.js';
export { argmax, topK, sampleTopK, TokenChooser } from './sampling.js';
export type { Sampling } from './sampling.js';
