// ptm's public API: parse and elaborate .ptm specs, inspect and transform the graph IR, run it on
// the CPU reference runtime and export it to ONNX. See README.md for an example.
export { compileGraph } from './api.js';
export type { CompileGraphOptions, CompiledGraph } from './api.js';
export { parse, loadSource } from './parser/index.js';
export type * from './parser/ast.js';
export { elaborate, parseOverrides, LIMITS } from './ir/elaborate/index.js';
export type { ElaborateOptions, ElaborateResult, ConfigOverride, ConfigValue } from './ir/elaborate/index.js';
export * from './ir/index.js';
export { printDot } from './ir/print-dot.js';
export * from './diagnostics/index.js';
export * from './runtime/index.js';
export { exportOnnx } from './codegen/onnx/index.js';
