// `ptm check FILE`: diagnostics, then the parameter count and the memory the weights need.
import { shapeToString } from '../../ir/dim.js';
import type { DType, Graph } from '../../ir/types.js';
import { loadModel } from '../load.js';
import { bytes, withCommas } from '../format.js';
import type { Io } from '../main.js';

export const DTYPE_BYTES: Record<DType, number> = { f32: 4, f16: 2, bf16: 2, f64: 8, i32: 4, i64: 8, bool: 1 };

export function parameterStats(g: Graph): { count: number; bytes: number } {
  let count = 0;
  let total = 0;
  for (const p of g.params) {
    const n = p.value.type.shape.reduce<number>((a, d) => a * (d as number), 1);
    count += n;
    total += n * DTYPE_BYTES[p.value.type.dtype];
  }
  return { count, bytes: total };
}

export function checkCommand(file: string, opts: { set?: string[]; json?: boolean }, io: Io): number {
  const { graph } = loadModel(file, opts.set);
  const stats = parameterStats(graph);
  const sig = (v: { name: string; value: { type: { dtype: string; shape: (number | string)[] } } }) =>
    `${v.name}: ${v.value.type.dtype}${shapeToString(v.value.type.shape)}`;
  if (opts.json) {
    io.out(JSON.stringify({
      ok: true, model: graph.name, parameters: stats.count, weightBytes: stats.bytes, ops: graph.ops.length,
      inputs: graph.inputs.map(sig), outputs: graph.outputs.map(sig), diagnostics: [],
    }, null, 2));
    return 0;
  }
  io.out([
    `${file}: model ${graph.name} is valid`,
    `  parameters: ${withCommas(stats.count)} (${bytes(stats.bytes)} of weights)`,
    `  inputs:     ${graph.inputs.map(sig).join(', ')}`,
    `  outputs:    ${graph.outputs.map(sig).join(', ')}`,
    `  graph:      ${withCommas(graph.ops.length)} ops`,
  ].join('\n'));
  return 0;
}
