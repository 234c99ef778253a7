// `ptm run --segments N`: feed a long input through a Session (src/runtime/session) in N segments,
// memory carried from each segment to the next (REFERENCE.md §7.6), printing each segment's outputs.
import { PtmError } from '../../diagnostics/diagnostic.js';
import { diag } from '../../diagnostics/catalogue.js';
import type { Graph } from '../../ir/types.js';
import type { Tensor } from '../../runtime/index.js';
import { summarize, tensor } from '../../runtime/index.js';
import { WebGpuDevice } from '../../runtime/program/webgpu-device.js';
import { graphMemories, Session } from '../../runtime/session/index.js';
import { num } from '../format.js';
import type { Io } from '../main.js';

const cli = { file: '<command line>', line: 0, col: 0, offset: 0, end: 0 };

/** The count of `--segments`, checked: a positive integer. */
export function segmentCount(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new PtmError(diag.invalid_override(cli, `--segments ${text} (expected a positive integer)`));
  return n;
}

/** The graph as the user feeds it in segments: without the memory inputs the session supplies. */
export function withoutMemories(graph: Graph): Graph {
  const memories = new Set(graphMemories(graph).map((m) => m.input));
  if (memories.size === 0) {
    throw new PtmError(diag.invalid_override(cli, `--segments: the model '${graph.name}' declares no memory (\`memory mem[n]: ...\`), so there is nothing to carry between segments`));
  }
  return { ...graph, inputs: graph.inputs.filter((i) => !memories.has(i.name)) };
}

/**
 * Splits each input along the axis of the sequence symbol (axis 1 of the first input that has a
 * symbolic axis 1, e.g. `seq`) into `n` consecutive pieces of near-equal length; inputs without that
 * symbol go whole to every segment.
 */
export function splitSegments(fed: Graph, inputs: Record<string, Tensor>, n: number): Array<{ start: number; end: number; inputs: Record<string, Tensor> }> {
  const symbol = fed.inputs.map((i) => i.value.type.shape[1]).find((d) => typeof d === 'string');
  if (symbol === undefined) throw new PtmError(diag.invalid_override(cli, '--segments: no input has a symbolic sequence axis (axis 1) to split'));
  const axisOf = new Map(fed.inputs.map((i) => [i.name, i.value.type.shape.indexOf(symbol)]));
  const lengthInput = fed.inputs.find((i) => axisOf.get(i.name)! >= 0)!;
  const length = inputs[lengthInput.name]!.shape[axisOf.get(lengthInput.name)!]!;
  if (n > length) throw new PtmError(diag.invalid_override(cli, `--segments ${n}: the input is ${length} long along '${symbol}', so at most ${length} segments`));
  return Array.from({ length: n }, (_, s) => {
    const start = Math.floor((s * length) / n), end = Math.floor(((s + 1) * length) / n);
    const piece = Object.fromEntries(Object.entries(inputs).map(([name, t]) => {
      const axis = axisOf.get(name) ?? -1;
      return [name, axis >= 0 ? sliceAxis(t, axis, start, end) : t];
    }));
    return { start, end, inputs: piece };
  });
}

/** Rows [start, end) of `t` along `axis`, any dtype. */
function sliceAxis(t: Tensor, axis: number, start: number, end: number): Tensor {
  const outer = t.shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = t.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const len = t.shape[axis]!;
  const Data = t.data.constructor as new (n: number) => typeof t.data;
  const data = new Data(outer * (end - start) * inner);
  for (let o = 0; o < outer; o++) data.set(t.data.subarray((o * len + start) * inner, (o * len + end) * inner), o * (end - start) * inner);
  const shape = [...t.shape];
  shape[axis] = end - start;
  return tensor(t.dtype, shape, data, t.data instanceof Float64Array ? 'f64' : 'f32');
}

export interface SegmentRun {
  backend: 'cpu' | 'webgpu';
  precision: 'f32' | 'f64';
  json?: boolean;
}

/** Runs the segments through one session and prints each segment's outputs (or JSON of them all). */
export async function runSegments(graph: Graph, params: Map<string, Tensor>, segments: ReturnType<typeof splitSegments>, opts: SegmentRun, io: Io): Promise<number> {
  const backend = opts.backend === 'webgpu' ? { kind: 'kernels' as const, device: await WebGpuDevice.create() } : { kind: 'cpu' as const, precision: opts.precision };
  const session = Session.create(graph, params, backend);
  const results = [];
  for (const [index, s] of segments.entries()) {
    const outputs = await session.run(s.inputs);
    results.push({ segment: index, start: s.start, end: s.end, outputs: [...outputs].map(([name, t]) => ({ name, ...summarize(t) })) });
  }
  if (opts.json) {
    io.out(JSON.stringify({ ok: true, backend: opts.backend, precision: opts.backend === 'cpu' ? opts.precision : 'f32', memories: session.memories.map((m) => m.input), segments: results }, null, 2));
    return 0;
  }
  io.err(`backend: ${opts.backend}; ${segments.length} segments through one session, memory carried in ${session.memories.map((m) => m.input).join(', ')} (zeros before the first)`);
  for (const r of results) {
    io.out(`segment ${r.segment} [${r.start}, ${r.end}):`);
    for (const o of r.outputs) {
      io.out(`  ${o.name}: ${o.dtype}[${o.shape.join(', ')}]  min ${num(o.min)}  max ${num(o.max)}  mean ${num(o.mean)}  std ${num(o.std)}  checksum ${o.checksum}${o.nonFinite ? `  (${o.nonFinite} non-finite!)` : ''}`);
    }
  }
  return 0;
}
