// ptm's public API: parse and elaborate .ptm specs, inspect and transform the graph IR, run it on
// the CPU reference runtime and export it to ONNX. See README.md for an example.
export { compileGraph, compile } from './api.js';
export type { CompileGraphOptions, CompiledGraph, CompileOptions, Compiled } from './api.js';
export { parse, loadSource } from './parser/index.js';
export type * from './parser/ast.js';
export { elaborate, parseOverrides, LIMITS } from './ir/elaborate/index.js';
export type { ElaborateOptions, ElaborateResult, ConfigOverride, ConfigValue } from './ir/elaborate/index.js';
export * from './ir/index.js';
export { printDot } from './ir/print-dot.js';
export * from './diagnostics/index.js';
export * from './runtime/index.js';
export { exportOnnx } from './codegen/onnx/index.js';
export { lowerGraph } from './codegen/lower/lower.js';
export type { Program, ProgramBuffer, Launch } from './codegen/lower/program.js';
export { planMemory } from './codegen/lower/memory-plan.js';
export type { MemoryPlan } from './codegen/lower/memory-plan.js';
export { renderWgsl } from './codegen/render/wgsl.js';
export { renderCuda } from './codegen/render/cuda.js';
export { FUSION_PIPELINE, runPipeline } from './passes/pipeline.js';
export { ProgramSession } from './runtime/program/session.js';
export type { KernelDevice } from './runtime/program/session.js';
export { InterpreterDevice } from './runtime/program/interpreter-device.js';
export { WebGpuDevice } from './runtime/program/webgpu-device.js';
