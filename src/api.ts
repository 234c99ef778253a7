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
