// Segment recurrence (Transformer-XL, Dai et al. 2019; REFERENCE.md §7.6): `memory` declarations become
// graph inputs `mem.<i>` and an attention given `memory: mem[i]` attends over concat(mem.<i>, x), its
// new memory (the last mlen rows of that concat) becoming the output `mem.<i>.next`. Also XLNet's
// query stream (`query:`), which shares the content stream's weights and keys (Yang et al. 2019, §2.3).
import type { Expr, MemoryDecl } from '../../parser/ast.js';
import { PtmError } from '../../diagnostics/diagnostic.js';
import { diag } from '../../diagnostics/catalogue.js';
import type { Span } from '../../diagnostics/span.js';
import type { Dim } from '../dim.js';
import { dimAdd, shapeToString } from '../dim.js';
import type { MaskExpr } from '../mask.js';
import { maskBin, maskConst, maskOr, maskRead, maskVar } from '../mask.js';
import { DTYPES, isFloat, isInt } from '../types.js';
import type { Attrs, DType, Value } from '../types.js';
import type { Args, BoundArg } from './args.js';
import type { Elaborator } from './elaborate.js';
import { bindKeyLength, shiftReads } from './masks.js';
import type { XlRelative } from './positions.js';
import { xlRelativeScores } from './positions.js';
import type { EValue, MaskValue } from './values.js';
import { kindName } from './values.js';

type Tensor = EValue & { kind: 'tensor' };

/** One memory tensor: graph input `input`, whose next value is the output `input + '.next'`. */
interface MemorySlot {
  input: string;
  length: number;
  usedAt?: Span;
  declaredAt: Span;
}

const slots = new WeakMap<Elaborator, Map<string, MemorySlot>>();

function slotsOf(el: Elaborator): Map<string, MemorySlot> {
  let m = slots.get(el);
  if (!m) slots.set(el, (m = new Map()));
  return m;
}

/** The suffix of the output that carries a memory's next value (`mem.0` -> `mem.0.next`). */
export const NEXT_SUFFIX = '.next';

/**
 * `memory mem[count]: f32[batch, mlen, d]`: `count` graph inputs `mem.0` ... (or one input `mem` without
 * `[count]`), bound to `mem` as a list (or a tensor). The length `mlen` must be a known integer.
 */
export function declareMemory(
  el: Elaborator, item: MemoryDecl, dim: (e: Expr) => Dim, evalCount: (e: Expr) => EValue, bind: (name: string, v: EValue) => void,
): void {
  const dtype = item.type.dtype.name;
  if (!(DTYPES as readonly string[]).includes(dtype) || !isFloat(dtype as DType)) {
    throw new PtmError(diag.dtype_mismatch(item.type.dtype.span, `a memory holds hidden states, so its dtype must be a float type (f32, f16, ...), got ${dtype}`));
  }
  const shape = item.type.dims.map(dim);
  if (shape.length !== 3) throw new PtmError(diag.rank_mismatch(item.type.span, `a memory is [batch, mlen, features], got ${shapeToString(shape)}`));
  const length = shape[1]!;
  if (typeof length !== 'number') {
    throw new PtmError(diag.invalid_dimension(item.type.dims[1]!.span, `the memory length must be a known integer (a config value), got '${length}'`));
  }
  const count = item.count && el.positiveDim(evalCount(item.count), item.count.span, 'the number of memories');
  const make = (input: string): Tensor => {
    const value = el.b.input(input, { dtype: dtype as DType, shape }, item.name.span);
    slotsOf(el).set(value.id, { input, length, declaredAt: item.name.span });
    return { kind: 'tensor', value, span: item.name.span };
  };
  const name = item.name.name;
  if (count === undefined) bind(name, make(name));
  else bind(name, { kind: 'list', items: Array.from({ length: count }, (_, i) => make(`${name}.${i}`)), span: item.name.span });
}

/** Every declared memory must be given to exactly one attention, else its next value is unknown. */
export function checkMemoriesUsed(el: Elaborator): void {
  for (const slot of slotsOf(el).values()) {
    if (!slot.usedAt) {
      throw new PtmError(diag.memory_unused(slot.declaredAt, slot.input, `Attention(x, memory: ${slot.input.replace(/\.(\d+)$/, '[$1]')}, ...)`));
    }
  }
}

/** The segment-level arguments of Attention, when any is given. */
export interface SegmentArgs {
  memory?: { value: Value; slot: MemorySlot; span: Span };
  query?: { x: Tensor; mask: MaskValue; span: Span };
  /** XLNet's relative segment encoding: integer segment ids `[batch, seq]` (`segments:`). */
  segments?: { ids: Tensor; span: Span };
}

/** Reads `memory:`, `query:` and `query_mask:` of Attention (§7.6); undefined when none is given. */
export function segmentArgs(el: Elaborator, args: Args, kv: BoundArg | undefined): SegmentArgs | undefined {
  const memArg = args.get(undefined, 'memory');
  const queryArg = args.get(undefined, 'query');
  const queryMask = args.mask(undefined, 'query_mask');
  const segArg = args.get(undefined, 'segments');
  if (queryMask && !queryArg) throw new PtmError(diag.conflicting_arguments(queryMask.span, 'query_mask: is the mask of the query stream, so it needs query:'));
  if (!memArg && !queryArg && !segArg) return undefined;
  if (kv) {
    const what = memArg ? 'memory:' : queryArg ? 'query:' : 'segments:';
    throw new PtmError(diag.conflicting_arguments(kv.span, `${what} is self-attention over a segment (and its memory), so it cannot take keys and values from kv:`, [{ message: `${what} is given here`, span: (memArg ?? queryArg ?? segArg)!.span }]));
  }
  const out: SegmentArgs = {};
  if (memArg) {
    const v = memArg.value;
    const slot = v.kind === 'tensor' ? slotsOf(el).get(v.value.id) : undefined;
    if (v.kind !== 'tensor' || !slot) {
      throw new PtmError(diag.kind_mismatch(memArg.span, "a declared memory for 'memory' of Attention (mem[i] of `memory mem[n]: ...`)", kindName(v)));
    }
    if (slot.usedAt) {
      throw new PtmError(diag.conflicting_arguments(memArg.span, `the memory '${slot.input}' is already given to another attention; each memory holds one attention's inputs`, [{ message: 'first used here', span: slot.usedAt }]));
    }
    slot.usedAt = memArg.span;
    out.memory = { value: v.value, slot, span: memArg.span };
  }
  if (queryArg) {
    if (queryArg.value.kind !== 'tensor') throw new PtmError(diag.kind_mismatch(queryArg.span, "a tensor for 'query' of Attention (XLNet's query stream)", kindName(queryArg.value)));
    if (!queryMask) throw new PtmError(diag.missing_argument(queryArg.span, 'Attention with query:', 'query_mask'));
    out.query = { x: queryArg.value, mask: queryMask, span: queryArg.span };
  }
  if (segArg) {
    const v = segArg.value;
    if (v.kind !== 'tensor' || v.value.type.shape.length !== 2 || !isInt(v.value.type.dtype)) {
      throw new PtmError(diag.kind_mismatch(segArg.span, "integer segment ids [batch, seq] for 'segments' of Attention (XLNet's relative segment encoding)", kindName(v)));
    }
    out.segments = { ids: v, span: segArg.span };
  }
  return out;
}

/** What Attention has worked out before handing a segment attention over. */
export interface SegmentAttention {
  x: Tensor;
  heads: number;
  headDim: number;
  d: number;
  scale: number;
  bias: boolean;
  mask: MaskValue;
  position?: XlRelative;
  /** The `position:` and `kv:` arguments, to report what cannot go with a segment attention. */
  positionArg?: BoundArg;
  kvArg?: BoundArg;
  segment: SegmentArgs;
  local: string;
  span: Span;
}

/**
 * The attention of one segment: keys and values over concat(memory, x) (`[B, mlen + T, d]`), one
 * attention op per stream (content, and XLNet's query stream) sharing the q, k, v, o (and W_r)
 * weights. Masks are written in segment positions; memory keys are visible to every query:
 * mask'(q, k) = k < mlen | mask(q, k − mlen). Returns the content stream, or [content, query].
 */
export function segmentAttention(el: Elaborator, a: SegmentAttention): EValue {
  const { x, heads, headDim, d, span } = a;
  const [batch, tq] = x.value.type.shape as [Dim, Dim];
  if (a.positionArg && !a.position) {
    throw new PtmError(diag.conflicting_arguments(a.positionArg.span, 'an attention over memory (memory:, query:) takes position: xl_relative(...) or no position:; rotary and T5 positions would not see the memory\'s offset'));
  }
  if (a.position && a.kvArg) {
    throw new PtmError(diag.conflicting_arguments(a.positionArg!.span, 'position: relates the positions of queries and keys in one sequence, so it applies to self-attention only, not with kv:', [{ message: 'keys and values come from another sequence here', span: a.kvArg.span }]));
  }
  if (a.segment.segments && !a.position) {
    throw new PtmError(diag.conflicting_arguments(a.segment.segments.span, "segments: is XLNet's relative segment encoding, a term of the relative scores, so it needs position: xl_relative(...)"));
  }
  const memory = a.segment.memory;
  const mlen = memory?.slot.length ?? 0;
  if (memory) {
    const ms = memory.value.type.shape;
    if (ms[0] !== batch || ms[2] !== d || memory.value.type.dtype !== x.value.type.dtype) {
      throw new PtmError(diag.shape_mismatch(memory.span, `the memory ${memory.value.type.dtype}${shapeToString(ms)} must hold rows of the attention's input ${x.value.type.dtype}${shapeToString(x.value.type.shape)}`, [{ message: 'the memory is declared here', span: memory.slot.declaredAt }]));
    }
  }
  const streams: Array<{ x: Tensor; mask: MaskValue }> = [{ x, mask: a.mask }];
  if (a.segment.query) {
    const g = a.segment.query.x;
    if (shapeToString(g.value.type.shape) !== shapeToString(x.value.type.shape)) {
      throw new PtmError(diag.shape_mismatch(a.segment.query.span, `the query stream ${shapeToString(g.value.type.shape)} must have the content stream's shape ${shapeToString(x.value.type.shape)}`, [{ message: 'the content stream', span: x.span }]));
    }
    streams.push({ x: g, mask: a.segment.query.mask });
  }
  return el.within(a.local, () => {
    let kvSource = x;
    if (memory) {
      kvSource = el.emit('concat', [{ kind: 'tensor', value: memory.value, span: memory.span }, x], { axis: 1 }, span); // [B, mlen + T, d]
      // The new memory: the last mlen rows (a constant for gradients: ptm has no backward pass through it).
      const next = el.emit('slice', [kvSource], { axis: 1, start: tq, end: dimAdd(tq, mlen), step: 1 }, span);
      el.b.output(memory.slot.input + NEXT_SUFFIX, next.value, memory.span);
    }
    const tk = dimAdd(tq, mlen);
    const project = projector(el, d, a.bias, span);
    const split = (t: Tensor, len: Dim): Tensor => el.emit('transpose', [el.emit('reshape', [t], { shape: [batch, len, heads, headDim] }, span)], { perm: [0, 2, 1, 3] }, span);
    const k = split(project(kvSource, 'k'), tk);
    const v = split(project(kvSource, 'v'), tk);
    let queries = streams.map((s) => split(project(s.x, 'q'), tq));
    let rel: { bd: Tensor[]; bias: MaskExpr; extra?: Tensor[] } | undefined;
    if (a.position) {
      // The BD operand follows q, k, v and the stream's mask tensors.
      const scores = xlRelativeScores(el, a.position, queries, { d, heads, headDim, tq, mlen, scale: a.scale, bias: a.bias }, 0, a.position.span);
      if (a.segment.segments) {
        const seg = segmentEncoding(el, a.segment.segments, queries, scores, { batch, heads, headDim, tq, mlen, scale: a.scale }, a.segment.segments.span);
        queries = scores.queries;
        rel = seg;
      } else {
        queries = scores.queries;
        rel = scores;
      }
    }
    const outs = streams.map((s, i) => {
      const maskTensors = s.mask.tensors.map((value): Tensor => ({ kind: 'tensor', value, span: s.mask.span }));
      const operands = [queries[i]!, k, v, ...maskTensors];
      // Masks speak of segment keys (random_blocks picks among the segment's key blocks), then move past the memory.
      const attrs: Attrs = { scale: a.scale, mask: shiftReads(withMemory(bindKeyLength(s.mask.expr, tq), mlen), 3) };
      if (rel) {
        attrs.bias = shiftReads(rel.bias, operands.length);
        operands.push(rel.bd[i]!, ...(rel.extra ?? []));
      }
      const o = el.emit('attention', operands, attrs, span); // [B, H, T, Dh]
      const merged = el.emit('reshape', [el.emit('transpose', [o], { perm: [0, 2, 1, 3] }, span)], { shape: [batch, tq, d] }, span);
      return project(merged, 'o');
    });
    return outs.length === 1 ? outs[0]! : { kind: 'list', items: outs, span };
  });
}

/**
 * A mask over segment keys moved onto concat(memory, segment) keys: memory keys are always visible.
 * k becomes k − mlen; inside a tensor read it becomes (k − mlen)·(k >= mlen), so that the read stays
 * inside the tensor for memory keys too (its value is not used there, but ONNX's Gather would fail).
 */
function withMemory(m: MaskExpr, mlen: number): MaskExpr {
  if (mlen === 0) return m;
  const segmentKey = maskBin('-', maskVar('k'), maskConst(mlen));
  const clamped = maskBin('*', segmentKey, maskBin('>=', maskVar('k'), maskConst(mlen)));
  const shift = (e: MaskExpr, inRead: boolean): MaskExpr => {
    switch (e.kind) {
      case 'var': return e.name === 'k' ? (inRead ? clamped : segmentKey) : e;
      case 'read': return { ...e, indices: e.indices.map((i) => shift(i, true)) };
      case 'binary': return { ...e, left: shift(e.left, inRead), right: shift(e.right, inRead) };
      case 'not': return { ...e, operand: shift(e.operand, inRead) };
      case 't5_bucket': return { ...e, rel: shift(e.rel, inRead) };
      default: return e;
    }
  };
  return maskOr(maskBin('<', maskVar('k'), maskConst(mlen)), shift(m, false));
}

/** Linear projections `name.weight [d, d]` (+ `name.bias`) made once and applied to every stream. */
function projector(el: Elaborator, d: number, bias: boolean, span: Span): (x: Tensor, name: string) => Tensor {
  const made = new Map<string, { w: Tensor; b?: Tensor }>();
  return (x, name) => {
    let p = made.get(name);
    if (!p) {
      p = el.within(name, () => ({
        w: { kind: 'tensor' as const, value: el.param('weight', [d, d], { kind: 'normal', std: 0.02 }, span), span },
        ...(bias ? { b: { kind: 'tensor' as const, value: el.param('bias', [d], { kind: 'zeros' }, span), span } } : {}),
      }));
      made.set(name, p);
    }
    const y = el.emit('matmul', [x, p.w], {}, span);
    return p.b ? el.emit('add', [y, p.b], {}, span) : y;
  };
}

/**
 * XLNet's relative segment encoding (Yang et al. 2019 §2.5): keys of the query's segment score
 * (q_i + b)·s_+ , others (q_i + b)·s_−, with s = `seg.weight [2, heads, head_dim]` (row 0 same segment,
 * row 1 different, as the authors' one_hot of `seg_i != seg_j`) and b = `seg.bias [heads, head_dim]`,
 * per attention. Memory rows count as segment 0, as the authors' code pads them. The term joins the
 * position table: BD'[b, h, i, p, s] = BD[b, h, i, p] + scale·EF[b, h, i, s], read at
 * s = (seg[b, q] != seg of key k), the segment ids being the attention's last operand.
 */
function segmentEncoding(
  el: Elaborator, segments: { ids: Tensor; span: Span }, qs: Tensor[], rel: { bd: Tensor[]; bias: MaskExpr },
  shape: { batch: Dim; heads: number; headDim: number; tq: Dim; mlen: number; scale: number }, span: Span,
): { bd: Tensor[]; bias: MaskExpr; extra: Tensor[] } {
  const { batch, heads, headDim, tq, mlen } = shape;
  const ids = segments.ids;
  if (ids.value.type.shape[0] !== batch || ids.value.type.shape[1] !== tq) {
    throw new PtmError(diag.shape_mismatch(segments.span, `segment ids must be [batch, seq] of the attention's input, [${batch}, ${tq}], got ${shapeToString(ids.value.type.shape)}`, [{ message: 'the segment ids', span: ids.span }]));
  }
  const { embed, bias } = el.within('seg', () => ({
    embed: { kind: 'tensor' as const, value: el.param('weight', [2, heads, headDim], { kind: 'normal', std: 0.02 }, span), span },
    bias: { kind: 'tensor' as const, value: el.param('bias', [heads, headDim], { kind: 'normal', std: 0.02 }, span), span },
  }));
  const embedHeads = el.emit('transpose', [embed], { perm: [1, 2, 0] }, span); // [H, Dh, 2]
  const b = el.emit('reshape', [bias], { shape: [heads, 1, headDim] }, span);
  const scale = el.constant(shape.scale, 'f32', span);
  const bd = qs.map((q, i) => {
    const ef = el.emit('mul', [el.emit('matmul', [el.emit('add', [q, b], {}, span), embedHeads], {}, span), scale], {}, span); // [B, H, T, 2]
    const positions = rel.bd[i]!;
    const count = positions.value.type.shape[3]!;
    const column = el.emit('reshape', [positions], { shape: [batch, heads, tq, count, 1] }, span);
    return el.emit('add', [column, el.emit('reshape', [ef], { shape: [batch, heads, tq, 1, 2] }, span)], {}, span); // [B, H, T, P, 2]
  });
  // rel.bias reads operand 0 (the table); the segment ids are operand 1, right after it.
  const segOf = (index: MaskExpr): MaskExpr => maskRead(1, [maskVar('b'), index]);
  const segmentKey = maskBin('-', maskVar('k'), maskConst(mlen));
  const keySegment = mlen === 0 ? segOf(maskVar('k'))
    : maskBin('*', segOf(maskBin('*', segmentKey, maskBin('>=', maskVar('k'), maskConst(mlen)))), maskBin('>=', maskVar('k'), maskConst(mlen)));
  const different = maskBin('!=', segOf(maskVar('q')), keySegment);
  if (rel.bias.kind !== 'read') throw new Error('internal: the relative bias is a table read');
  return { bd, bias: { ...rel.bias, indices: [...rel.bias.indices, different] }, extra: [ids] };
}
