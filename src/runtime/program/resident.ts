// The device-resident values of a Program: every bound param (chunks of split ones sliced by rows)
// and folded buffer (computed on the CPU from the params). ProgramSession uploads these; the GPU check
// artifacts ship them.
import { PtmError } from '../../diagnostics/diagnostic.js';
import { diag } from '../../diagnostics/catalogue.js';
import { noSpan } from '../../diagnostics/span.js';
import type { Program, ProgramBuffer } from '../../codegen/lower/program.js';
import { runGraph } from '../cpu/index.js';
import type { ParamSource } from '../param-source.js';
import type { Tensor } from '../tensor.js';

/** Bound param and folded buffers in program order, with their values. */
export function residentTensors(program: Program, params: ParamSource): { buffer: ProgramBuffer; tensor: Tensor }[] {
  const folded = program.folded.ops.length > 0 ? runGraph(program.folded, { inputs: {}, params, precision: 'f32' }).outputs : new Map<string, Tensor>();
  const bound = new Set(program.launches.flatMap((l) => l.buffers));
  const out: { buffer: ProgramBuffer; tensor: Tensor }[] = [];
  for (const b of program.buffers) {
    if ((b.kind !== 'param' && b.kind !== 'folded') || !bound.has(b.id)) continue;
    let t: Tensor | undefined;
    if (b.kind === 'folded') t = folded.get(b.id);
    else if (b.chunk) {
      const whole = params.get(b.chunk.param)!;
      const row = whole.data.length / whole.shape[0]!;
      t = { dtype: whole.dtype, shape: [b.chunk.rows, ...whole.shape.slice(1)], data: whole.data.subarray(b.chunk.rowStart * row, (b.chunk.rowStart + b.chunk.rows) * row) } as Tensor;
    } else t = params.get(b.name!);
    if (!t) throw new PtmError(diag.internal_error(noSpan(program.name), `no value for parameter buffer ${b.id}`));
    out.push({ buffer: b, tensor: t });
  }
  return out;
}

/** Little-endian bytes of a tensor in GPU storage: f32, i32, or u32 0/1 for bools. */
export function storageBytes(t: Tensor, storage: ProgramBuffer['storage']): Uint8Array {
  const n = t.data.length;
  const out = storage === 'f32' ? new Float32Array(n) : storage === 'i32' ? new Int32Array(n) : new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = Number(t.data[i]);
  return new Uint8Array(out.buffer);
}
