// Lowering: a fused graph (after src/passes/pipeline.ts) -> a Program of template instances.
// Views fold into strides; ops over parameters only are folded on the CPU at load; parameters
// larger than one binding allows are split into row chunks (gather tables, a tied LM head).
import { PtmError } from '../../diagnostics/diagnostic.js';
import { diag } from '../../diagnostics/catalogue.js';
import type { Dim } from '../../ir/dim.js';
import { dimAdd, dimMul, dimProduct } from '../../ir/dim.js';
import type { FusedExpr } from '../../ir/fused.js';
import type { MaskExpr } from '../../ir/mask.js';
import { maskOperands } from '../../ir/mask.js';
import type { Graph, Op, Value } from '../../ir/types.js';
import { elementwiseKernel } from '../templates/elementwise.js';
import { rowReduceKernel } from '../templates/row-reduce.js';
import { matmulKernel, DEFAULT_MATMUL_VARIANT } from '../templates/matmul.js';
import type { MatmulVariant } from '../templates/matmul.js';
import { attentionKernel, DEFAULT_ATTENTION_VARIANT } from '../templates/attention.js';
import type { AttentionVariant } from '../templates/attention.js';
import { copyKernel } from '../templates/copy.js';
import { expertMatmulKernel, moeAuxLossKernel, moeChoicesKernel, moeRouteKernel } from '../templates/moe.js';
import { linearAttentionKernel } from '../templates/linear-attention.js';
import type { KernelInstance, Strided } from '../templates/instance.js';
import type { Launch, Program, ProgramBuffer } from './program.js';
import { STORAGE_BYTES, storageOf } from './program.js';
import type { View } from './views.js';
import { broadcastLayout, contiguousStrides, isContiguous, ownView, reshapeView, sliceView, transposeView } from './views.js';

export interface LowerOptions {
  /** Largest buffer one binding may cover, in bytes (WebGPU: the adapter's maxStorageBufferBindingSize). */
  maxBindingBytes?: number;
  matmulVariant?: MatmulVariant;
  attentionVariant?: AttentionVariant;
}

const VIEW_OPS = new Set(['reshape', 'transpose', 'slice']);

export function lowerGraph(g: Graph, options: LowerOptions = {}): Program {
  return new Lowering(g, options).run();
}

class Lowering {
  private readonly buffers = new Map<string, ProgramBuffer>();
  private readonly views = new Map<string, View>();
  private readonly launches: Launch[] = [];
  private readonly foldedOps: Op[] = [];
  private readonly foldedIds = new Set<string>();
  /** Chunks of a split parameter: buffer ids and rows per chunk. */
  private readonly chunks = new Map<string, { ids: string[]; rowsPerChunk: number }>();
  private copies = 0;

  constructor(private readonly g: Graph, private readonly options: LowerOptions) {}

  run(): Program {
    const g = this.g;
    const outputs = new Set(g.outputs.map((o) => o.value.id));
    for (const input of g.inputs) this.own(input.value, 'input', input.name);
    for (const p of g.params) {
      this.own(p.value, 'param', p.name);
      this.maybeSplit(p.value, p.name);
    }
    for (const op of g.ops) {
      if (this.isFoldable(op)) {
        this.foldedOps.push(op);
        this.foldedIds.add(op.result.id);
        this.own(op.result, 'folded', op.result.id);
        continue;
      }
      if (VIEW_OPS.has(op.op)) {
        this.view(op);
        continue;
      }
      this.own(op.result, outputs.has(op.result.id) ? 'output' : 'temp');
      this.launch(op);
    }
    const programOutputs = g.outputs.map((o) => {
      let v = this.views.get(o.value.id)!;
      if (!(isContiguous(v) && v.layout.offset === 0) || this.buffers.get(v.base)!.kind !== 'output') v = this.materialize(o.value, v, 'output', o.name);
      const buffer = this.buffers.get(v.base)!;
      buffer.name = o.name;
      return { name: o.name, buffer: v.base, shape: [...o.value.type.shape], dtype: o.value.type.dtype };
    });
    const foldedParams = g.params.filter((p) => this.foldedOps.some((op) => op.operands.some((v) => v.id === p.value.id)));
    const folded: Graph = {
      name: `${g.name}_folded`, symbols: [], inputs: [], params: foldedParams, ops: this.foldedOps,
      outputs: this.foldedOps.map((op) => ({ name: op.result.id, value: op.result, loc: op.loc })),
    };
    return { name: g.name, symbols: g.symbols, graph: g, buffers: [...this.buffers.values()], folded, launches: this.launches, outputs: programOutputs, views: this.views };
  }

  // ---- buffers and views ---------------------------------------------------------------------------

  private own(v: Value, kind: ProgramBuffer['kind'], name?: string): void {
    this.buffers.set(v.id, { id: v.id, kind, storage: storageOf(v.type.dtype), dtype: v.type.dtype, elements: dimProduct(v.type.shape), ...(name ? { name } : {}) });
    this.views.set(v.id, ownView(v.id, v.type.shape));
  }

  /** Ops over parameters (and folded values) only, e.g. concatenated q/k/v weights: computed once on the CPU. */
  private isFoldable(op: Op): boolean {
    if (op.operands.length === 0 || VIEW_OPS.has(op.op)) return false;
    const params = new Set(this.g.params.map((p) => p.value.id));
    return op.operands.every((v) => params.has(v.id) || this.foldedIds.has(v.id)) && op.result.type.shape.every((d) => typeof d === 'number');
  }

  private view(op: Op): void {
    const src = this.views.get(op.operands[0]!.id)!;
    const shape = op.result.type.shape;
    let v: View | undefined;
    if (op.op === 'transpose') v = transposeView(src, op.attrs.perm as number[]);
    else if (op.op === 'slice') v = sliceView(src, op.attrs.axis as number, op.attrs.start as Dim, op.attrs.end as Dim, op.attrs.step as number, shape);
    else v = reshapeView(src, shape) ?? reshapeView(this.materialize(op.operands[0]!, src, 'temp'), shape);
    this.views.set(op.result.id, v!);
  }

  /** A contiguous copy of `v` (a strided-copy kernel) when a kernel cannot read it through strides. */
  private materialize(value: Value, v: View, kind: 'temp' | 'output', name?: string): View {
    const id = `${value.id}.copy${this.copies++}`;
    this.buffers.set(id, { id, kind, storage: storageOf(value.type.dtype), dtype: value.type.dtype, elements: dimProduct(v.shape), ...(name ? { name } : {}) });
    const instance = copyKernel({ storage: storageOf(value.type.dtype), shape: v.shape, src: v.layout, dst: { offset: 0, strides: contiguousStrides(v.shape) }, locs: [] });
    this.launches.push({ instance, buffers: [v.base, id], op: 'copy', loc: this.g.ops.find((o) => o.result.id === value.id)?.loc ?? this.g.outputs[0]!.loc });
    const out = ownView(id, v.shape);
    return out;
  }

  /** A contiguous, offset-0 view of an operand for templates that index by shape only. */
  private dense(v: Value): string {
    let view = this.views.get(v.id)!;
    if (!(isContiguous(view) && view.layout.offset === 0)) view = this.materialize(v, view, 'temp');
    return view.base;
  }

  /** Splits a parameter over the binding limit into row chunks (each its own buffer). */
  private maybeSplit(v: Value, name: string): void {
    const limit = this.options.maxBindingBytes;
    const bytes = (dimProduct(v.type.shape) as number) * STORAGE_BYTES;
    if (!limit || bytes <= limit) return;
    const [rows, ...rest] = v.type.shape as number[];
    const rowBytes = rest.reduce((a, d) => a * d, 1) * STORAGE_BYTES;
    const rowsPerChunk = Math.floor(limit / rowBytes);
    if (rest.length === 0 || rowsPerChunk < 1) throw new PtmError(diag.size_limit(this.g.params.find((p) => p.value.id === v.id)!.loc, `parameter '${name}'`, `${bytes} bytes`, `${limit} bytes per binding`));
    const ids: string[] = [];
    for (let start = 0, c = 0; start < rows!; start += rowsPerChunk, c++) {
      const id = `${v.id}#${c}`;
      const n = Math.min(rowsPerChunk, rows! - start);
      this.buffers.set(id, { id, kind: 'param', storage: storageOf(v.type.dtype), dtype: v.type.dtype, elements: n * rowBytes / STORAGE_BYTES, name, chunk: { param: name, rowStart: start, rows: n } });
      ids.push(id);
    }
    this.chunks.set(v.id, { ids, rowsPerChunk });
    this.buffers.get(v.id)!.kind = 'param'; // the whole tensor stays for the CPU fold; it is never bound
  }

  // ---- launches ------------------------------------------------------------------------------------

  private launch(op: Op): void {
    switch (op.op) {
      case 'fused_elementwise':
      case 'fused_row':
        return this.launchDense(op);
      case 'fused_matmul':
        return this.launchMatmul(op);
      case 'attention':
        return this.launchAttention(op);
      case 'linear_attention':
        return this.launchLinearAttention(op);
      case 'concat':
        return this.launchConcat(op);
      case 'iota':
        return this.launchIota(op);
      case 'moe_route':
      case 'moe_aux_loss':
      case 'moe_choices':
      case 'expert_matmul':
        return this.launchMoe(op);
      default:
        throw new PtmError(diag.unsupported(op.loc, `the op '${op.op}' on the kernel backends (it runs on --backend cpu)`));
    }
  }

  private push(op: Op, instance: KernelInstance, inputs: string[], outputs: string[]): void {
    const buffers = instance.bind.map((b) => (b.kind === 'input' ? inputs[b.index]! : outputs[b.index]!));
    this.launches.push({ instance, buffers, op: op.op, loc: op.loc });
  }

  /** Operand buffers of a fused body, with split tables expanded into their chunks (appended as extra inputs). */
  private withChunks(op: Op, bodies: FusedExpr[]): { inputs: string[]; bodies: FusedExpr[] } {
    const inputs = op.operands.map((v) => (this.chunks.has(v.id) ? v.id : this.dense(v)));
    const expand = (e: FusedExpr): FusedExpr => {
      if (e.kind === 'gather' && e.tables.length === 1 && this.chunks.has(op.operands[e.tables[0]!]!.id)) {
        const split = this.chunks.get(op.operands[e.tables[0]!]!.id)!;
        const tables = split.ids.map((id) => inputs.push(id) - 1);
        return { ...e, tables, rowsPerChunk: split.rowsPerChunk };
      }
      return e.kind === 'op' ? { ...e, args: e.args.map(expand) } : e;
    };
    return { inputs, bodies: bodies.map(expand) };
  }

  private launchDense(op: Op): void {
    const shapes = (inputs: string[]) => inputs.map((id, i) => ({ storage: this.buffers.get(id)!.storage, shape: i < op.operands.length ? [...op.operands[i]!.type.shape] : this.chunkShape(id) }));
    if (op.op === 'fused_elementwise') {
      const { inputs, bodies } = this.withChunks(op, [op.attrs.expr as FusedExpr]);
      const instance = elementwiseKernel({ inputs: shapes(inputs), out: { storage: storageOf(op.result.type.dtype), shape: [...op.result.type.shape] }, expr: bodies[0]!, locs: [op.loc] });
      return this.push(op, instance, inputs, [op.result.id]);
    }
    const { inputs, bodies } = this.withChunks(op, [op.attrs.x as FusedExpr, op.attrs.epilogue as FusedExpr]);
    const weight = op.attrs.weight as number, bias = op.attrs.bias as number;
    const instance = rowReduceKernel({
      kind: op.attrs.kind as 'softmax', inputs: shapes(inputs), x: bodies[0]!, ...(weight >= 0 ? { weight } : {}), ...(bias >= 0 ? { bias } : {}),
      eps: op.attrs.eps as number, out: { shape: [...op.result.type.shape] }, epilogue: bodies[1]!, locs: [op.loc],
    });
    this.push(op, instance, inputs, [op.result.id]);
  }

  /**
   * An iota that fusion left standing (read by a matmul or an epilogue, or a graph output): an
   * elementwise kernel whose body is the iota leaf. Integer iotas are stored as i32, float ones as f32.
   */
  private launchIota(op: Op): void {
    const storage = storageOf(op.result.type.dtype);
    if (storage === 'u32') throw new PtmError(diag.unsupported(op.loc, `an iota of ${op.result.type.dtype} on the kernel backends`));
    const start = op.attrs.start as Dim | undefined;
    const expr: FusedExpr = { kind: 'iota', shape: [op.attrs.length as Dim], axis: 0, ...(start !== undefined && start !== 0 ? { start } : {}), dtype: storage };
    const instance = elementwiseKernel({ inputs: [], out: { storage, shape: [...op.result.type.shape] }, expr, locs: [op.loc] });
    this.push(op, instance, [], [op.result.id]);
  }

  /** MoE routing and expert rows (templates/moe.ts) over contiguous operands; [..., E] is the experts axis. */
  private launchMoe(op: Op): void {
    const shape = op.operands[0]!.type.shape;
    const experts = shape[shape.length - 1] as number, tokens = dimProduct(shape.slice(0, -1));
    const locs = [op.loc];
    if (op.op === 'expert_matmul') {
      const [x, w, idx] = op.operands as [Value, Value, Value];
      const [, din, dout] = w.type.shape as [number, number, number];
      const k = idx.type.shape[idx.type.shape.length - 1] as number;
      const split = op.operands.find((v) => this.chunks.has(this.views.get(v.id)!.base));
      if (split) throw new PtmError(diag.unsupported(op.loc, `stacked expert weights '${this.views.get(split.id)!.base}' larger than one buffer binding (${this.options.maxBindingBytes} bytes) on the kernel backends`));
      const instance = expertMatmulKernel({ rows: dimProduct(idx.type.shape), k, xRows: x.type.shape[x.type.shape.length - 2] as number, din, dout, bias: op.operands.length > 3, locs });
      return this.push(op, instance, op.operands.map((v) => this.dense(v)), [op.result.id]);
    }
    const instance = op.op === 'moe_route' ? moeRouteKernel({ experts, tokens, topK: op.attrs.top_k as 1 | 2, capacity: op.attrs.capacity as number, locs })
      : op.op === 'moe_choices' ? moeChoicesKernel({ experts, tokens, topK: op.attrs.top_k as number, locs })
      : moeAuxLossKernel({ experts, tokens, locs });
    this.push(op, instance, [this.dense(op.operands[0]!)], [op.result.id]);
  }

  /** concat: one launch per operand, copying it (through its view) into its region of the output. */
  private launchConcat(op: Op): void {
    const out = op.result.type.shape;
    const axis = (op.attrs.axis as number) < 0 ? (op.attrs.axis as number) + out.length : (op.attrs.axis as number);
    const strides = ownView(op.result.id, out).layout.strides;
    let start: Dim = 0;
    for (const x of op.operands) {
      const view = this.views.get(x.id)!;
      if (this.chunks.has(view.base)) throw new PtmError(diag.unsupported(op.loc, `concatenating the split parameter '${view.base}' with computed values on the kernel backends`));
      const dst = { offset: dimMul(start, strides[axis]!), strides };
      this.push(op, copyKernel({ storage: storageOf(x.type.dtype), shape: [...x.type.shape], src: view.layout, dst, locs: [op.loc] }), [view.base], [op.result.id]);
      start = dimAdd(start, x.type.shape[axis]!);
    }
  }

  private chunkShape(id: string): Dim[] {
    const b = this.buffers.get(id)!;
    const param = this.g.params.find((p) => p.name === b.chunk!.param)!;
    return [b.chunk!.rows, ...param.value.type.shape.slice(1)];
  }

  private launchMatmul(op: Op): void {
    const [a, b] = op.operands as [Value, Value];
    const out = op.result.type.shape;
    const rank = out.length;
    const m = out[rank - 2]!, n = out[rank - 1]!;
    const k = a.type.shape[a.type.shape.length - 1]!;
    let batch = out.slice(0, rank - 2);
    const epilogue = op.attrs.epilogue as FusedExpr;
    const normWeight = op.attrs.norm_weight as number, normBias = op.attrs.norm_bias as number;
    const reserved = new Set([0, 1, normWeight, normBias]);
    const inputs = op.operands.map((v, i) => (reserved.has(i) && i > 1 ? this.dense(v) : this.views.get(v.id)!.base));
    const aView = this.views.get(a.id)!, bView = this.views.get(b.id)!;
    let aLayout = broadcastLayout(aView, [...batch, m, k]);
    let bLayout = broadcastLayout(bView, [...batch, k, n]);
    const epilogueLayouts: Record<number, Strided> = {};
    for (let i = 2; i < op.operands.length; i++) if (!reserved.has(i)) epilogueLayouts[i] = broadcastLayout(this.views.get(op.operands[i]!.id)!, out);
    let outLayout: Strided = { offset: 0, strides: ownView(op.result.id, out).layout.strides };
    let rows: Dim = m;
    // Fold the batch axes into m when B does not vary over them: one [B*T, K] @ [K, N] matmul.
    if (batch.length > 0 && bLayout.strides.slice(0, batch.length).every((s) => s === 0)) {
      const merged = mergeRows(aLayout, [...batch, m, k], batch.length);
      const mergedEpi = Object.entries(epilogueLayouts).map(([i, l]) => [Number(i), mergeRows(l, out, batch.length)] as const);
      const mergedOut = mergeRows(outLayout, out, batch.length);
      if (merged && mergedOut && mergedEpi.every(([, l]) => l)) {
        rows = dimProduct([...batch, m]);
        aLayout = merged;
        outLayout = mergedOut;
        for (const [i, l] of mergedEpi) epilogueLayouts[i] = l!;
        bLayout = { offset: bLayout.offset, strides: bLayout.strides.slice(batch.length) };
        batch = [];
      }
    }
    const spec = (bInput: number, nSize: Dim, bL: Strided, oL: Strided, epi: Record<number, Strided>, ids: string[] = inputs) => matmulKernel({
      batch, m: rows, n: nSize, k, inputs: ids.map((id, i) => ({ storage: this.buffers.get(id)!.storage, shape: i < op.operands.length ? [...op.operands[i]!.type.shape] : this.chunkShape(id) })),
      a: { input: 0, layout: aLayout }, b: { input: bInput, layout: bL },
      ...(op.attrs.norm !== 'none' ? { aNorm: { kind: op.attrs.norm as 'layer_norm', weight: normWeight, ...(normBias >= 0 ? { bias: normBias } : {}), eps: op.attrs.eps as number } } : {}),
      epilogue, epilogueLayouts: epi, out: oL, variant: this.options.matmulVariant ?? DEFAULT_MATMUL_VARIANT, locs: [op.loc],
    });
    const split = this.chunks.get(bView.base);
    if (!split) return this.push(op, spec(1, n, bLayout, outLayout, epilogueLayouts), inputs, [op.result.id]);
    // B's columns are rows of a split parameter (x @ table^T): one launch per chunk, each writing its columns.
    const nAxisStride = bLayout.strides[bLayout.strides.length - 1]!;
    const rowStride = dimProduct(this.g.params.find((p) => p.value.id === bView.base)!.value.type.shape.slice(1));
    if (nAxisStride !== rowStride || bLayout.offset !== 0) throw new PtmError(diag.unsupported(op.loc, `reading the split parameter '${bView.base}' this way on the kernel backends`));
    split.ids.forEach((chunkId, c) => {
      const start = c * split.rowsPerChunk;
      const rowsHere = this.buffers.get(chunkId)!.chunk!.rows;
      const shift = (l: Strided): Strided => ({ offset: dimAdd(l.offset, dimMul(start, l.strides[l.strides.length - 1]!)), strides: l.strides });
      const epi = Object.fromEntries(Object.entries(epilogueLayouts).map(([i, l]) => [i, shift(l)]));
      const chunkInputs = [...inputs, chunkId];
      const instance = spec(chunkInputs.length - 1, rowsHere, bLayout, shift(outLayout), epi, chunkInputs);
      this.push(op, instance, chunkInputs, [op.result.id]);
    });
  }

  private launchAttention(op: Op): void {
    const [q, k, v] = op.operands as [Value, Value, Value];
    const [batch, heads, tq, d] = q.type.shape as [Dim, Dim, Dim, number];
    const tk = k.type.shape[2]!;
    const dv = v.type.shape[3] as number;
    const mask = op.attrs.mask as MaskExpr, bias = op.attrs.bias as MaskExpr | undefined;
    const inputs = op.operands.map((x) => this.views.get(x.id)!.base);
    const layout = (x: Value) => this.views.get(x.id)!.layout;
    const reads = new Set([...maskOperands(mask), ...(bias ? maskOperands(bias) : [])]);
    const maskInputs = Object.fromEntries([...reads].map((i) => [i, { input: i, layout: layout(op.operands[i]!) }]));
    const instance = attentionKernel({
      batch, heads, tq, tk, d, dv, scale: op.attrs.scale as number,
      inputs: inputs.map((id, i) => ({ storage: this.buffers.get(id)!.storage, shape: [...op.operands[i]!.type.shape] })),
      q: { input: 0, layout: layout(q) }, k: { input: 1, layout: layout(k) }, v: { input: 2, layout: layout(v) },
      out: this.attentionOutLayout(op), mask, ...(bias ? { bias } : {}), maskInputs,
      variant: this.options.attentionVariant ?? DEFAULT_ATTENTION_VARIANT, locs: [op.loc],
    });
    this.push(op, instance, inputs, [op.result.id]);
  }

  /** linear_attention (templates/linear-attention.ts): φq, φk and v read through their views; the result contiguous. */
  private launchLinearAttention(op: Op): void {
    const [q, key, v] = op.operands as [Value, Value, Value];
    const [batch, heads, tq, features] = q.type.shape as [Dim, Dim, Dim, Dim];
    const dv = v.type.shape[3]!;
    if (typeof features !== 'number' || typeof dv !== 'number') throw new PtmError(diag.unsupported(op.loc, 'linear attention with a symbolic feature or value size on the kernel backends'));
    const inputs = op.operands.map((x) => this.views.get(x.id)!.base);
    const layout = (x: Value) => this.views.get(x.id)!.layout;
    const instance = linearAttentionKernel({
      batch, heads, tq, tk: key.type.shape[2]!, features, dv, causal: op.attrs.causal as boolean,
      inputs: inputs.map((id, i) => ({ storage: this.buffers.get(id)!.storage, shape: [...op.operands[i]!.type.shape] })),
      q: { input: 0, layout: layout(q) }, k: { input: 1, layout: layout(key) }, v: { input: 2, layout: layout(v) },
      out: { offset: 0, strides: ownView(op.result.id, op.result.type.shape).layout.strides }, locs: [op.loc],
    });
    this.push(op, instance, inputs, [op.result.id]);
  }

  /**
   * The attention result [B, H, Tq, Dv] is stored as [B, Tq, H, Dv] when its reader transposes it
   * back (the usual head merge), so the merge is a free view instead of a copy.
   */
  private attentionOutLayout(op: Op): Strided {
    const [b, h, t, d] = op.result.type.shape as [Dim, Dim, Dim, Dim];
    const reader = this.g.ops.find((o) => o.operands.some((x) => x.id === op.result.id));
    if (reader?.op === 'transpose' && (reader.attrs.perm as number[]).join() === '0,2,1,3') {
      const stored = ownView(op.result.id, [b, t, h, d]);
      const strides = stored.layout.strides;
      this.views.set(op.result.id, { base: op.result.id, shape: [b, h, t, d], layout: { offset: 0, strides: [strides[0]!, strides[2]!, strides[1]!, strides[3]!] } });
      return this.views.get(op.result.id)!.layout;
    }
    return this.views.get(op.result.id)!.layout;
  }
}

/** Merges the first `count + 1` axes of a layout over `shape` into one, if the strides allow it. */
function mergeRows(l: Strided, shape: readonly Dim[], count: number): Strided | undefined {
  const merged = reshapeView({ base: '', shape: [...shape], layout: l }, [dimProduct(shape.slice(0, count + 1)), ...shape.slice(count + 1)]);
  if (merged) return merged.layout;
  // Broadcast (stride 0) over all merged axes also merges.
  if (l.strides.slice(0, count + 1).every((s) => s === 0)) return { offset: l.offset, strides: [0, ...l.strides.slice(count + 1)] };
  return undefined;
}

