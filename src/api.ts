// The programmatic front door: source text -> graph IR in one call, with every diagnostic collected.
import type { Diagnostic } from './diagnostics/diagnostic.js';
import { PtmError } from './diagnostics/diagnostic.js';
import type { Span } from './diagnostics/span.js';
import { parse } from './parser/index.js';
import { elaborate } from './ir/elaborate/index.js';
import type { ConfigOverride, ConfigValue } from './ir/elaborate/index.js';
import type { Graph } from './ir/types.js';

export interface CompileGraphOptions {
  /** File name used in diagnostics. */
  file?: string;
  /** Config overrides, as `--set key=value` does: `{ layers: 2 }`. */
  set?: Record<string, number> | readonly ConfigOverride[];
}

export interface CompiledGraph {
  graph: Graph;
  config: ReadonlyMap<string, ConfigValue>;
}

/**
 * Parses and elaborates a .ptm source into the graph IR.
 * @throws PtmError carrying every diagnostic found (syntax errors first, then elaboration errors)
 */
export function compileGraph(source: string, options: CompileGraphOptions = {}): CompiledGraph {
  const file = options.file ?? '<input>';
  const { ast, diagnostics } = parse(source, file);
  const errors: Diagnostic[] = diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new PtmError(errors);
  const overrides = Array.isArray(options.set)
    ? (options.set as readonly ConfigOverride[])
    : Object.entries(options.set ?? {}).map(([key, value]): ConfigOverride => ({ key, value, span: commandLine }));
  return elaborate(ast, { overrides });
}

const commandLine: Span = { file: '<options>', line: 0, col: 0, offset: 0, end: 0 };

import { FUSION_PIPELINE, runPipeline } from './passes/pipeline.js';
import { lowerGraph } from './codegen/lower/lower.js';
import type { LowerOptions } from './codegen/lower/lower.js';
import type { Program } from './codegen/lower/program.js';

export interface CompileOptions extends CompileGraphOptions, LowerOptions {
  /** Run the verifier after every pass (on in tests; cheap enough to leave on). */
  verify?: boolean;
}

export interface Compiled extends CompiledGraph {
  /** The graph after the fusion passes: one op per kernel, plus views. */
  fused: Graph;
  program: Program;
  /** Milliseconds spent per stage, in order: parse+elaborate, each pass, lower. */
  stages: { name: string; ms: number }[];
}

/**
 * Source -> kernel program: parse, elaborate, fuse, lower to template instances. The result runs
 * on any KernelDevice (src/runtime/program) and renders to WGSL or CUDA.
 * @throws PtmError with every diagnostic found
 */
export function compile(source: string, options: CompileOptions = {}): Compiled {
  const stages: { name: string; ms: number }[] = [];
  let t = performance.now();
  const front = compileGraph(source, options);
  stages.push({ name: 'parse + elaborate', ms: performance.now() - t });
  const fused = runPipeline(front.graph, FUSION_PIPELINE, { verify: options.verify ?? true, onStage: (name, _g, ms) => stages.push({ name, ms }) });
  t = performance.now();
  const program = lowerGraph(fused, options);
  stages.push({ name: 'lower to kernels', ms: performance.now() - t });
  return { ...front, fused, program, stages };
}
