// The pass interface: every pass is one file exporting a `Pass`, pure (Graph, ctx, options) -> Graph.
import type { Graph } from '../ir/types.js';

export interface PassInfo {
  /** verb-object, kebab-case: `decompose-high-level`, `fuse-elementwise`. */
  name: string;
  summary: string;
}

export interface PassContext {
  /** Diagnostics a pass wants to report without failing (warnings, notes). */
  warn?(message: string): void;
}

export interface Pass<Options = Record<string, never>> {
  info: PassInfo;
  run(graph: Graph, ctx: PassContext, options: Options): Graph;
}
