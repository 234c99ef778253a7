// `ptm weights FILE -o out.safetensors`: the seeded initial parameters, to share with other tools.
import { initParams, writeSafetensors } from '../../runtime/index.js';
import { loadModel } from '../load.js';
import type { Io } from '../main.js';
import { seedOption } from './run.js';

export function weightsCommand(file: string, opts: { output: string; seed: string; force?: boolean; set?: string[] }, io: Io): number {
  const { graph } = loadModel(file, opts.set);
  writeSafetensors(opts.output, initParams(graph, seedOption(opts.seed)), { force: opts.force });
  io.err(`wrote ${opts.output} (${graph.params.length} tensors)`);
  return 0;
}
