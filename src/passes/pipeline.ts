// The compile pipeline, one line per stage. Each stage is a pure Graph -> Graph pass; in tests
// (and with `verify`), the verifier runs after every stage and names the pass that broke the graph.
import { PtmError } from '../diagnostics/diagnostic.js';
import { diag } from '../diagnostics/catalogue.js';
import { noSpan } from '../diagnostics/span.js';
import type { Graph } from '../ir/types.js';
import { verifyGraph } from '../ir/verify.js';
import type { Pass, PassContext } from './pass.js';
import { eliminateDeadCode } from './eliminate-dead-code.js';
import { foldIotaOffset } from './fold-iota-offset.js';
import { fuseSiblingMatmuls } from './fuse-sibling-matmuls.js';
import { fuseMatmul } from './fuse-matmul.js';
import { fuseRows } from './fuse-rows.js';
import { fuseElementwise } from './fuse-elementwise.js';

/** Graph -> fused graph: every remaining op but views and attention is one kernel. */
export const FUSION_PIPELINE: readonly Pass[] = [
  foldIotaOffset,
  eliminateDeadCode,
  fuseSiblingMatmuls,
  fuseMatmul,
  fuseRows,
  fuseElementwise,
  eliminateDeadCode,
];

export interface PipelineOptions {
  verify?: boolean;
  /** Called after each stage with its name, the graph and the milliseconds it took. */
  onStage?: (name: string, graph: Graph, ms: number) => void;
}

export function runPipeline(graph: Graph, passes: readonly Pass[], options: PipelineOptions = {}, ctx: PassContext = {}): Graph {
  let g = graph;
  for (const pass of passes) {
    const started = performance.now();
    g = pass.run(g, ctx, {} as never);
    options.onStage?.(pass.info.name, g, performance.now() - started);
    if (options.verify) {
      const problems = verifyGraph(g);
      if (problems.length > 0) {
        throw new PtmError(diag.internal_error(problems[0]!.span ?? noSpan(), `pass '${pass.info.name}' left an invalid graph: ${problems.map((p) => p.message).join('; ')}`));
      }
    }
  }
  return g;
}
