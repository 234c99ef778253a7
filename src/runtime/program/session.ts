// Runs a compiled Program on a KernelDevice: parameters uploaded once (folded weights computed on
// the CPU first), then per run: bind symbols from the input shapes, plan memory (cached per
// binding), upload inputs, dispatch every launch, read the outputs back.
import { PtmError } from '../../diagnostics/diagnostic.js';
import { diag } from '../../diagnostics/catalogue.js';
import { evalDim } from '../../ir/dim.js';
import type { Program, ProgramBuffer } from '../../codegen/lower/program.js';
import type { MemoryPlan } from '../../codegen/lower/memory-plan.js';
import { planMemory } from '../../codegen/lower/memory-plan.js';
import type { Kernel } from '../../codegen/kernel-ir/types.js';
import type { FusedExpr } from '../../ir/fused.js';
import type { Input } from '../../ir/types.js';
import type { Dim } from '../../ir/dim.js';
import type { Span } from '../../diagnostics/span.js';
import type { Tensor } from '../tensor.js';
import { tensor } from '../tensor.js';
import type { ParamSource } from '../param-source.js';
import { residentTensors, storageBytes } from './resident.js';

export type DeviceBuffer = unknown;

/** A byte range of a device buffer, as one kernel binding. */
export interface Binding {
  buffer: DeviceBuffer;
  offset: number;
  size: number;
}

/** What a backend must provide to run programs. */
export interface KernelDevice {
  readonly name: string;
  /** Alignment of binding offsets (WebGPU: minStorageBufferOffsetAlignment). */
  readonly alignment: number;
  /** One buffer per memory-plan slot instead of one arena (WebGPU: no read/write aliasing within a dispatch). */
  readonly bufferPerSlot?: boolean;
  alloc(bytes: number, label: string): DeviceBuffer;
  write(buffer: DeviceBuffer, data: Uint8Array, offset?: number): void;
  read(buffer: DeviceBuffer, offset: number, bytes: number): Promise<Uint8Array>;
  dispatch(kernel: Kernel, bindings: Binding[], params: Record<string, number>): void;
  /** Waits for every dispatch so far. */
  flush(): Promise<void>;
  free?(buffer: DeviceBuffer): void;
}

function fromStorage(bytes: Uint8Array, b: ProgramBuffer, shape: number[]): Tensor {
  const copy = bytes.slice().buffer;
  const n = shape.reduce((a, d) => a * d, 1);
  const data = b.storage === 'f32' ? new Float32Array(copy, 0, n) : b.storage === 'i32' ? new Int32Array(copy, 0, n) : new Uint32Array(copy, 0, n);
  return tensor(b.dtype, shape, b.dtype === 'bool' ? Uint8Array.from(data) : data);
}

/**
 * Memory plans kept per session. A plan is made per binding of the symbols (batch, seq, past, ...);
 * generation binds a new `past` every token, so without a cap the slots of every step would stay.
 */
const MAX_PLANS = 4;

export class ProgramSession {
  private readonly resident = new Map<string, DeviceBuffer>();
  private readonly plans = new Map<string, { plan: MemoryPlan; slots: Binding[] }>();
  private readonly sizes = new Map<string, number>();
  /** Lookups the kernels would clamp silently, found once: checked on the host every run. */
  private readonly ids: ReturnType<typeof embeddingIds>;
  private readonly positions: ReturnType<typeof positionIds>;

  private constructor(readonly program: Program, readonly device: KernelDevice) {
    this.ids = embeddingIds(program);
    this.positions = positionIds(program);
  }

  /** Uploads parameters (chunks of split ones) and the folded weights. */
  static create(program: Program, params: ParamSource, device: KernelDevice): ProgramSession {
    const s = new ProgramSession(program, device);
    for (const { buffer: b, tensor: t } of residentTensors(program, params)) {
      const bytes = storageBytes(t, b.storage);
      const buffer = device.alloc(bytes.byteLength, b.name ?? b.id);
      device.write(buffer, bytes);
      s.resident.set(b.id, buffer);
      s.sizes.set(b.id, bytes.byteLength);
    }
    return s;
  }

  async run(inputs: Record<string, Tensor>): Promise<Map<string, Tensor>> {
    const { program, device } = this;
    const symbols = this.bindSymbols(inputs);
    this.checkIds(inputs, symbols);
    const key = program.symbols.map((s) => symbols.get(s)).join(',');
    let planned = this.plans.get(key);
    if (planned) this.plans.delete(key); // re-inserted below: the map's order is least recently used first
    else {
      this.evictPlans(MAX_PLANS - 1);
      const plan = planMemory(program, symbols, device.alignment);
      let slots: Binding[];
      if (device.bufferPerSlot) slots = plan.slotBytes.map((bytes, i) => ({ buffer: device.alloc(bytes, `${program.name} slot ${i}`), offset: 0, size: bytes }));
      else {
        const arena = device.alloc(Math.max(plan.arenaBytes, 4), `${program.name} arena`);
        let offset = 0;
        slots = plan.slotBytes.map((bytes) => ({ buffer: arena, offset: (offset += bytes) - bytes, size: bytes }));
      }
      planned = { plan, slots };
    }
    this.plans.set(key, planned);
    const { plan, slots } = planned;
    const arenaBuffers = new Set(slots.map((s) => s.buffer));
    const transient = new Map<string, Binding>();
    for (const b of program.buffers) {
      if (b.kind === 'input') {
        const bytes = storageBytes(inputs[b.name!]!, b.storage);
        const buffer = device.alloc(Math.max(bytes.byteLength, 4), b.name!);
        device.write(buffer, bytes);
        transient.set(b.id, { buffer, offset: 0, size: Math.max(bytes.byteLength, 4) });
      } else if (b.kind === 'output') {
        const size = plan.sizes.get(b.id)!;
        transient.set(b.id, { buffer: device.alloc(size, b.name ?? b.id), offset: 0, size });
      } else if (b.kind === 'temp' && plan.slotOf.has(b.id)) {
        const slot = slots[plan.slotOf.get(b.id)!]!;
        transient.set(b.id, { buffer: slot.buffer, offset: slot.offset, size: plan.sizes.get(b.id)! });
      }
    }
    const binding = (id: string): Binding => {
      const t = transient.get(id);
      if (t) return t;
      const r = this.resident.get(id);
      if (r) return { buffer: r, offset: 0, size: this.sizes.get(id)! };
      throw new PtmError(diag.internal_error(program.launches[0]!.loc, `buffer ${id} is not bound`));
    };
    for (const launch of program.launches) {
      const params = Object.fromEntries(Object.entries(launch.instance.params).map(([name, d]) => [name, evalDim(d, symbols)]));
      device.dispatch(launch.instance.kernel, launch.buffers.map(binding), params);
    }
    await device.flush();
    const outputs = new Map<string, Tensor>();
    for (const out of program.outputs) {
      const b = program.buffers.find((x) => x.id === out.buffer)!;
      const shape = out.shape.map((d) => evalDim(d, symbols));
      const bind = binding(out.buffer);
      outputs.set(out.name, fromStorage(await device.read(bind.buffer, bind.offset, shape.reduce((a, d) => a * d, 1) * 4), b, shape));
    }
    for (const [id, bnd] of transient) if (!arenaBuffers.has(bnd.buffer) && !this.resident.has(id)) device.free?.(bnd.buffer);
    return outputs;
  }

  /**
   * Embedding ids must index their table. Kernels clamp a bad id to stay in bounds, which would be a
   * silent wrong answer, so ids are checked here, on the host, as the CPU reference does.
   */
  /** Memory plans held (one per distinct binding of the symbols, at most MAX_PLANS). */
  get planCount(): number {
    return this.plans.size;
  }

  /** Frees the least recently used plans' buffers until at most `keep` remain. Runs are sequential. */
  private evictPlans(keep: number): void {
    for (const [key, { slots }] of this.plans) {
      if (this.plans.size <= keep) return;
      this.plans.delete(key);
      for (const buffer of new Set(slots.map((s) => s.buffer))) this.device.free?.(buffer);
    }
  }

  private checkIds(inputs: Record<string, Tensor>, symbols: Map<string, number>): void {
    for (const { start, length, rows, loc } of this.positions) {
      const first = evalDim(start, symbols), n = evalDim(length, symbols);
      const from = start === 0 ? '' : ` from ${start} = ${first}`;
      if (first + n > rows) throw new PtmError(diag.input_mismatch(loc, `positions run to ${first + n - 1} (length ${length} = ${n}${from}), but the position table has ${rows} rows`));
    }
    for (const { input, rows, loc } of this.ids) {
      const t = inputs[input.name]!;
      for (let i = 0; i < t.data.length; i++) {
        const id = Number(t.data[i]);
        if (!(id >= 0 && id < rows)) {
          throw new PtmError(diag.input_mismatch(loc, `input '${input.name}' holds ${id} at position ${i}, but it indexes a table of ${rows} rows (ids must be in [0, ${rows}))`));
        }
      }
    }
  }

  /** Symbol values from input shapes, checked against every declared dimension. */
  private bindSymbols(inputs: Record<string, Tensor>): Map<string, number> {
    const symbols = new Map<string, number>();
    for (const input of this.program.graph.inputs) {
      const t = inputs[input.name];
      if (!t) throw new PtmError(diag.missing_input(input.loc, input.name));
      const dims = input.value.type.shape;
      if (t.shape.length !== dims.length) throw new PtmError(diag.input_mismatch(input.loc, `input '${input.name}' has rank ${t.shape.length}, the model needs ${dims.length}`));
      dims.forEach((d, i) => {
        if (typeof d === 'string' && /^[A-Za-z_]\w*$/.test(d) && !symbols.has(d)) symbols.set(d, t.shape[i]!);
      });
      dims.forEach((d, i) => {
        const want = evalDim(d, symbols);
        if (want !== t.shape[i]) throw new PtmError(diag.input_mismatch(input.loc, `input '${input.name}' has size ${t.shape[i]} in axis ${i}, the model needs ${d} = ${want}`));
      });
    }
    return symbols;
  }
}

/** Graph inputs used as embedding ids in fused bodies, with the number of rows they index. */
function embeddingIds(program: Program): { input: Input; rows: number; loc: Span }[] {
  const inputs = new Map(program.graph.inputs.map((i) => [i.value.id, i]));
  const out: { input: Input; rows: number; loc: Span }[] = [];
  for (const op of program.graph.ops) {
    const walk = (e: FusedExpr): void => {
      if (e.kind === 'gather' && e.ids.kind === 'input') {
        const input = inputs.get(op.operands[e.ids.index]!.id);
        const rows = e.tables.reduce((n, t) => n + (op.operands[t]!.type.shape[0] as number), 0);
        if (input) out.push({ input, rows, loc: op.loc });
      } else if (e.kind === 'op') e.args.forEach(walk);
    };
    for (const attr of ['expr', 'x', 'epilogue'] as const) if (op.attrs[attr]) walk(op.attrs[attr] as FusedExpr);
  }
  return out;
}

/** Lookups whose ids are positions (arange from start, 0 or `past`): start + length must not exceed the table. */
function positionIds(program: Program): { start: Dim; length: Dim; rows: number; loc: Span }[] {
  const out: { start: Dim; length: Dim; rows: number; loc: Span }[] = [];
  for (const op of program.graph.ops) {
    const walk = (e: FusedExpr): void => {
      if (e.kind === 'gather' && e.ids.kind === 'iota') out.push({ start: e.ids.start ?? 0, length: e.shape[0]!, rows: e.tables.reduce((n, t) => n + (op.operands[t]!.type.shape[0] as number), 0), loc: op.loc });
      else if (e.kind === 'op') e.args.forEach(walk);
    };
    for (const attr of ['expr', 'x', 'epilogue'] as const) if (op.attrs[attr]) walk(op.attrs[attr] as FusedExpr);
  }
  return out;
}
