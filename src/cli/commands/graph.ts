// `ptm graph FILE --format text|dot|onnx`: the graph for people (text, DOT) and for tools (ONNX).
import { PtmError } from '../../diagnostics/diagnostic.js';
import { diag } from '../../diagnostics/catalogue.js';
import { printGraph } from '../../ir/print.js';
import { printDot } from '../../ir/print-dot.js';
import { dirname, join } from 'node:path';
import { exportOnnx, writeOnnx } from '../../codegen/onnx/index.js';
import { loadModel } from '../load.js';
import type { Io } from '../main.js';
import { refuseOverwrite, writeOutput } from './output-file.js';
import { parameters, seedOption } from './run.js';

export function graphCommand(
  file: string,
  opts: { format: 'text' | 'dot' | 'onnx'; output?: string; weights?: string; seed: string; force?: boolean; set?: string[] },
  io: Io,
): number {
  const { graph } = loadModel(file, opts.set);
  if (opts.format !== 'onnx') {
    const text = opts.format === 'dot' ? printDot(graph) : printGraph(graph);
    if (opts.output) writeOutput(opts.output, text, opts.force);
    else io.out(text);
    return 0;
  }
  if (!opts.output) {
    throw new PtmError(diag.missing_argument({ file: '<command line>', line: 0, col: 0, offset: 0, end: 0 }, 'ptm graph --format onnx', '-o <file.onnx>'));
  }
  refuseOverwrite(opts.output, opts.force);
  const params = parameters(graph, opts.weights, seedOption(opts.seed));
  const exported = exportOnnx(graph, params);
  if (exported.externalData) refuseOverwrite(join(dirname(opts.output), exported.externalData.location), opts.force);
  io.err(`wrote ${writeOnnx(opts.output, exported).join(', ')}`);
  return 0;
}
