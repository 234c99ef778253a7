// `ptm compile FILE --emit ir`: the elaborated, verified graph IR as text.
import { printGraph } from '../../ir/print.js';
import { assertValid } from '../../ir/verify.js';
import { loadModel } from '../load.js';
import type { Io } from '../main.js';
import { writeOutput } from './output-file.js';

export function compileCommand(file: string, opts: { emit: string; output?: string; force?: boolean; set?: string[] }, io: Io): number {
  const { graph } = loadModel(file, opts.set);
  assertValid(graph);
  const text = printGraph(graph);
  if (opts.output) {
    writeOutput(opts.output, text, opts.force);
    io.err(`wrote ${opts.output} (${graph.ops.length} ops)`);
  } else io.out(text);
  return 0;
}
