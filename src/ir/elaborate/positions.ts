// Position encodings (REFERENCE.md §7.4, §8.6): the sinusoidal table of Vaswani et al. 2017, rotary
// positions (RoFormer, Su et al. 2021, rotate-half form of GPT-NeoX/LLaMA), T5's learned relative
// bias (Raffel et al. 2020) and Transformer-XL's relative positions (Dai et al. 2019). Tables are built from iota/sin/cos graph ops, never stored as seq-sized
// constants; the attention's positions are an `iota` over its sequence, so decoding can start it at `past`.
import { PtmError } from '../../diagnostics/diagnostic.js';
import { diag } from '../../diagnostics/catalogue.js';
import type { Span } from '../../diagnostics/span.js';
import type { Dim } from '../dim.js';
import type { MaskExpr } from '../mask.js';
import { maskBin, maskConst, maskDim, maskRead, maskVar } from '../mask.js';
import { dimAdd, dimMul, dimSub } from '../dim.js';
import { isInt } from '../types.js';
import type { DType, Value } from '../types.js';
import type { Args, BoundArg } from './args.js';
import type { Elaborator } from './elaborate.js';
import type { FunctionFn } from './functions.js';
import type { LayerFn } from './layers.js';
import { layerName } from './naming.js';
import type { EValue, ModuleValue, SpannedInt } from './values.js';
import { asDim, kindName } from './values.js';

type Tensor = EValue & { kind: 'tensor' };

/** Initial spread of a relative bias table, as for the other weights. */
const BIAS_STD = 0.02;

function positiveNumber(args: Args, name: string, fallback: number): number {
  const a = args.get(undefined, name);
  if (!a) return fallback;
  if (a.value.kind !== 'number' || !(a.value.value > 0)) throw new PtmError(diag.kind_mismatch(a.span, `a positive number for '${name}' of ${args.callee}`, kindName(a.value)));
  return a.value.value;
}

function intArg(a: BoundArg, what: string): SpannedInt {
  const n = asDim(a.value);
  if (typeof n !== 'number') throw new PtmError(diag.kind_mismatch(a.span, `an integer for ${what}`, kindName(a.value)));
  if (n < 1) throw new PtmError(diag.invalid_dimension(a.span, `${what} must be at least 1, got ${n}`));
  return { value: n, span: a.span };
}

/**
 * angles[..., i] = pos[...] · base^(-2i/n) for i < n/2, as f32 `[...pos.shape, n/2]`: the angles of
 * both the sinusoidal table and rotary positions. The exponent -2i/n is one correctly rounded division.
 */
function angles(el: Elaborator, pos: Tensor, n: number, base: number, span: Span): Tensor {
  const c = (v: number): Tensor => el.constant(v, 'f32', span);
  const i = el.emit('cast', [el.emit('iota', [], { length: n / 2, dtype: 'i32' }, span)], { to: 'f32' }, span);
  const exponent = el.emit('div', [el.emit('mul', [i, c(-2)], {}, span), c(n)], {}, span);
  const inverse = el.emit('pow', [c(base), exponent], {}, span); // [n/2]
  const p = el.emit('cast', [pos], { to: 'f32' }, span);
  const column = el.emit('reshape', [p], { shape: [...p.value.type.shape, 1] }, span);
  return el.emit('mul', [column, inverse], {}, span);
}

/**
 * `sinusoidal(pos, d, base: 10000)`: PE[..., 2i] = sin(p / base^(2i/d)), PE[..., 2i+1] = cos(...) for
 * integer positions `pos` of any shape, giving f32 `[...pos.shape, d]` (§8.6).
 */
export const sinusoidal: FunctionFn = (el, args) => {
  const posArg = args.require(0, 'pos');
  const pos = args.tensor(0, 'pos');
  const dArg = args.require(1, 'd');
  const base = positiveNumber(args, 'base', 10000);
  args.done(['pos', 'd']);
  if (!isInt(pos.value.type.dtype)) {
    throw new PtmError(diag.dtype_mismatch(posArg.span, `sinusoidal(pos, d) needs integer positions (i32 or i64), got ${kindName(pos)}`));
  }
  const d = el.positiveDim(dArg.value, dArg.span, 'the size d of sinusoidal(pos, d)');
  if (d % 2 !== 0) throw new PtmError(diag.invalid_dimension(dArg.span, `sinusoidal(pos, d) pairs a sine with a cosine, so d must be even, got ${d}`));
  const span = args.span;
  const a = angles(el, pos, d, base, span);
  const shape = a.value.type.shape;
  const column = (op: 'sin' | 'cos'): Tensor => el.emit('reshape', [el.emit(op, [a], {}, span)], { shape: [...shape, 1] }, span);
  const pairs = el.emit('concat', [column('sin'), column('cos')], { axis: shape.length }, span); // [..., d/2, 2]
  return el.emit('reshape', [pairs], { shape: [...pos.value.type.shape, d] }, span);
};

/** `rotary(base: 10000, dims: n)`: a position encoding for `Attention(..., position: ...)` (§7.4). */
export const rotary: FunctionFn = (_el, args) => {
  const base = positiveNumber(args, 'base', 10000);
  const dimsArg = args.get(undefined, 'dims');
  args.done([]);
  const dims = dimsArg && intArg(dimsArg, "rotary's dims");
  if (dims && dims.value % 2 !== 0) {
    throw new PtmError(diag.invalid_dimension(dims.span, `rotary positions rotate pairs of features (i, i + dims/2), so dims must be even, got ${dims.value}`));
  }
  return { kind: 'position', encoding: 'rotary', base, ...(dims ? { dims } : {}), span: args.span };
};

/** Bucket settings of a t5_bias, checked so that T5's bucket formula is defined (mask.ts t5BucketThresholds). */
function t5Settings(args: Args): { buckets: number; maxDistance: number; bidirectional: boolean } {
  const bucketsArg = args.get(undefined, 'buckets');
  const maxArg = args.get(undefined, 'max_distance');
  const bidirectional = args.bool(undefined, 'bidirectional', true);
  const buckets = bucketsArg ? intArg(bucketsArg, "t5_bias's buckets").value : 32;
  const maxDistance = maxArg ? intArg(maxArg, "t5_bias's max_distance").value : 128;
  // Half of the buckets (per direction when bidirectional) are exact distances 0, 1, ...; at least one.
  const half = bidirectional ? Math.floor(buckets / 2) : buckets;
  const exact = Math.floor(half / 2);
  if (exact < 1) {
    throw new PtmError(diag.invalid_dimension(bucketsArg?.span ?? args.span, `t5_bias needs at least ${bidirectional ? 4 : 2} buckets${bidirectional ? ' when bidirectional' : ''}, got ${buckets}`));
  }
  if (maxDistance <= exact) {
    throw new PtmError(diag.invalid_dimension(maxArg?.span ?? args.span, `t5_bias's max_distance must exceed its ${exact} exact-distance buckets, got ${maxDistance}`));
  }
  return { buckets, maxDistance, bidirectional };
}

/**
 * `t5_bias(heads: h, buckets: 32, max_distance: 128, bidirectional: true)` (§7.4). Bound by assignment
 * (`rel = t5_bias(...)`) it is a module with the table `rel.weight: [buckets, heads]`, shared by every
 * attention given `position: rel`; inline in `position:` it is made per attention, as `rel_bias.weight`.
 */
export const t5_bias: LayerFn = (el, args, hint) => {
  const headsArg = args.get(undefined, 'heads');
  const heads = headsArg && { value: el.positiveDim(headsArg.value, headsArg.span, "t5_bias's heads"), span: headsArg.span };
  const settings = t5Settings(args);
  if (hint === undefined) {
    const name = args.string(undefined, 'name');
    args.done([]);
    return { kind: 'position', encoding: 't5_bias', ...(heads ? { heads } : {}), ...settings, ...(name !== undefined ? { name } : {}), span: args.span };
  }
  // Bound to a name, the table is made now, before any attention says how many heads it has.
  if (!heads) throw new PtmError(diag.missing_argument(args.span, 't5_bias', 'heads'));
  const local = layerName(el, args, 't5_bias', hint);
  args.done([]);
  const weight = el.within(local, () => el.param('weight', [settings.buckets, heads.value], { kind: 'normal', std: BIAS_STD }, args.span));
  const { buckets, maxDistance, bidirectional } = settings;
  return { kind: 'module', layer: 't5_bias', name: el.naming.prefix + local, params: { weight }, settings: { buckets, max_distance: maxDistance, bidirectional }, span: args.span };
};

// ---- applying a position encoding inside Attention ---------------------------------------------

/** A `position:` checked against its attention; the t5 table is made (or found) by relativeBias. */
export type AttentionPosition =
  | { encoding: 'rotary'; base: number; dims: number; span: Span }
  | { encoding: 't5_bias'; buckets: number; maxDistance: number; bidirectional: boolean; heads: number; shared?: Value; name: string; span: Span };

/**
 * Checks `position:` (§7.4) against the attention: rotary dims even and within the head size, a
 * t5_bias table with the attention's head count, and both on self-attention only (not with `kv:`).
 */
export function attentionPosition(el: Elaborator, arg: BoundArg | undefined, heads: SpannedInt, headDim: number, kv: BoundArg | undefined): AttentionPosition | undefined {
  if (!arg) return undefined;
  const p = arg.value;
  const isT5Module = p.kind === 'module' && p.layer === 't5_bias';
  if (p.kind !== 'position' && !isT5Module) {
    throw new PtmError(diag.kind_mismatch(arg.span, "a position encoding for 'position' of Attention (rotary(...), t5_bias(...) or xl_relative(...))", kindName(p)));
  }
  if (kv) {
    throw new PtmError(diag.conflicting_arguments(arg.span, 'position: relates the positions of queries and keys in one sequence, so it applies to self-attention only, not with kv:', [{ message: 'keys and values come from another sequence here', span: kv.span }]));
  }
  if (p.kind === 'module') return sharedTable(el, p as ModuleValue, arg.span, heads);
  if (p.encoding === 'rotary') {
    const dims = p.dims?.value ?? headDim;
    const at = p.dims?.span ?? p.span;
    if (dims > headDim) throw new PtmError(diag.invalid_dimension(at, `rotary dims ${dims} exceed the head size ${headDim}`));
    if (dims % 2 !== 0) throw new PtmError(diag.invalid_dimension(at, `rotary positions rotate pairs of features, so they need an even number of dimensions; the head size is ${headDim}, so give rotary(dims: n) with an even n`));
    return { encoding: 'rotary', base: p.base, dims, span: p.span };
  }
  if (p.heads && p.heads.value !== heads.value) throw new PtmError(headsMismatch(p.heads.span, `t5_bias(heads: ${p.heads.value})`, heads));
  const { buckets, maxDistance, bidirectional } = p;
  return { encoding: 't5_bias', buckets, maxDistance, bidirectional, heads: heads.value, name: p.name ?? 'rel_bias', span: p.span };
}

function sharedTable(el: Elaborator, m: ModuleValue, at: Span, heads: SpannedInt): AttentionPosition {
  const weight = m.params.weight!;
  const tableHeads = weight.type.shape[1] as number;
  if (tableHeads !== heads.value) {
    const madeAt = el.b.paramList.find((p) => p.value.id === weight.id)?.loc;
    throw new PtmError(headsMismatch(at, `${m.name}.weight [${weight.type.shape.join(', ')}]`, heads, madeAt));
  }
  const s = m.settings;
  return { encoding: 't5_bias', buckets: s.buckets as number, maxDistance: s.max_distance as number, bidirectional: s.bidirectional as boolean, heads: heads.value, shared: weight, name: m.name, span: at };
}

function headsMismatch(at: Span, table: string, heads: SpannedInt, madeAt?: Span) {
  const notes = [{ message: `the attention has ${heads.value} heads`, span: heads.span }];
  if (madeAt) notes.push({ message: 'the table is made here', span: madeAt });
  return diag.shape_mismatch(at, `the relative bias table ${table} has one column per head, but the attention has ${heads.value} heads`, notes);
}

/** cos and sin of the rotary angles, `[seq, dims]` each (the dims/2 angles twice, for rotate-half). */
export function rotaryTables(el: Elaborator, seq: Dim, p: { base: number; dims: number }, dtype: DType, span: Span): { cos: Tensor; sin: Tensor } {
  const positions = el.emit('iota', [], { length: seq, dtype: 'i32' }, span); // token positions 0..seq-1
  const a = angles(el, positions, p.dims, p.base, span);
  const table = (op: 'cos' | 'sin'): Tensor => {
    const half = el.emit(op, [a], {}, span);
    const full = el.emit('concat', [half, half], { axis: 1 }, span);
    return dtype === 'f32' ? full : el.emit('cast', [full], { to: dtype }, span);
  };
  return { cos: table('cos'), sin: table('sin') };
}

/**
 * Rotates `x: [B, H, T, Dh]` by its positions (rotate-half): for i < dims/2 the pair (x_i, x_{i+dims/2})
 * turns by angle_i; features from dims on pass through.
 */
export function rotate(el: Elaborator, x: Tensor, tables: { cos: Tensor; sin: Tensor }, dims: number, headDim: number, span: Span): Tensor {
  const slice = (t: Tensor, start: number, end: number): Tensor => el.emit('slice', [t], { axis: 3, start, end, step: 1 }, span);
  const part = dims < headDim ? slice(x, 0, dims) : x;
  const half = dims / 2;
  const turned = el.emit('concat', [el.emit('neg', [slice(part, half, dims)], {}, span), slice(part, 0, half)], { axis: 3 }, span);
  const rotated = el.emit('add', [el.emit('mul', [part, tables.cos], {}, span), el.emit('mul', [turned, tables.sin], {}, span)], {}, span);
  return dims < headDim ? el.emit('concat', [rotated, slice(x, dims, headDim)], { axis: 3 }, span) : rotated;
}

/**
 * T5's relative bias for the attention op: the table (shared, or made now under the attention's
 * name) and the score bias `table[t5_bucket(k - q, ...), h]` reading it as operand `operand`.
 */
export function relativeBias(el: Elaborator, p: AttentionPosition & { encoding: 't5_bias' }, operand: number, span: Span): { table: Tensor; bias: MaskExpr } {
  const table = p.shared ?? el.within(p.name, () => el.param('weight', [p.buckets, p.heads], { kind: 'normal', std: BIAS_STD }, p.span));
  const rel = maskBin('-', maskVar('k'), maskVar('q'));
  const bucket: MaskExpr = { kind: 't5_bucket', rel, buckets: p.buckets, maxDistance: p.maxDistance, bidirectional: p.bidirectional };
  return { table: { kind: 'tensor', value: table, span }, bias: maskRead(operand, [bucket, maskVar('h')]) };
}

// ---- Transformer-XL's relative positions (Dai et al. 2019, §3.3) --------------------------------

/**
 * `xl_relative(heads: h, head_dim: dh)` (§7.4): the learned u and v of Transformer-XL, `[heads, head_dim]`
 * each, initialized normal(0.02). Bound to a name (`rel = xl_relative(...)`) one pair `rel.u`, `rel.v`
 * is shared by every attention given `position: rel`, as in the paper and its code (untie_r=False);
 * inline in `position:` each attention gets its own pair `rel.u`, `rel.v` under its name (XLNet's
 * untie_r=True). W_r (`r.weight [d, d]`) is always per attention.
 */
export const xl_relative: LayerFn = (el, args, hint) => {
  const headsArg = args.get(undefined, 'heads');
  const dimArg = args.get(undefined, 'head_dim');
  const heads = headsArg && { value: el.positiveDim(headsArg.value, headsArg.span, "xl_relative's heads"), span: headsArg.span };
  const headDim = dimArg && { value: el.positiveDim(dimArg.value, dimArg.span, "xl_relative's head_dim"), span: dimArg.span };
  if (hint === undefined) {
    args.done([]);
    const settings: Record<string, number> = {};
    if (heads) settings.heads = heads.value;
    if (headDim) settings.head_dim = headDim.value;
    return { kind: 'module', layer: 'xl_relative', name: 'xl_relative(...)', params: {}, settings, span: args.span };
  }
  if (!heads) throw new PtmError(diag.missing_argument(args.span, 'xl_relative', 'heads'));
  if (!headDim) throw new PtmError(diag.missing_argument(args.span, 'xl_relative', 'head_dim'));
  const local = layerName(el, args, 'xl_relative', hint);
  args.done([]);
  const params = el.within(local, () => ({
    u: el.param('u', [heads.value, headDim.value], { kind: 'normal', std: BIAS_STD }, args.span),
    v: el.param('v', [heads.value, headDim.value], { kind: 'normal', std: BIAS_STD }, args.span),
  }));
  return { kind: 'module', layer: 'xl_relative', name: el.naming.prefix + local, params, settings: { heads: heads.value, head_dim: headDim.value }, span: args.span };
};

/** An `xl_relative` given to an attention: shared u, v (bound by name) or made under the attention. */
export interface XlRelative {
  shared?: { u: Value; v: Value };
  span: Span;
}

/** The `position:` argument when it is an xl_relative, checked against the attention's heads and head size. */
export function xlRelativeOf(arg: BoundArg | undefined, heads: SpannedInt, headDim: number): XlRelative | undefined {
  if (!arg || arg.value.kind !== 'module' || arg.value.layer !== 'xl_relative') return undefined;
  const m = arg.value;
  const wantHeads = m.settings.heads as number | undefined, wantDim = m.settings.head_dim as number | undefined;
  if ((wantHeads !== undefined && wantHeads !== heads.value) || (wantDim !== undefined && wantDim !== headDim)) {
    throw new PtmError(diag.shape_mismatch(arg.span, `xl_relative's u and v are [${wantHeads ?? heads.value}, ${wantDim ?? headDim}] (heads, head_dim), but the attention has ${heads.value} heads of ${headDim}`, [{ message: `the attention has ${heads.value} heads`, span: heads.span }]));
  }
  return { ...(m.params.u ? { shared: { u: m.params.u, v: m.params.v! } } : {}), span: arg.span };
}

/**
 * Transformer-XL's score terms (Dai et al. 2019, §3.3) for queries `q: [B, H, T, Dh]` (projected,
 * unscaled) over `mlen` memory keys then the T segment keys:
 *   A_ij = (q_i + u)·k_j (terms a + c), B_ij = (q_i + v)·(W_r R_{i+mlen-j}) (terms b + d).
 * Returns q + u for the attention op and BD[b, h, i, p] = scale·(q_i + v)·(W_r R_{δ_p}) over the
 * distances δ_p = p − (T − 1), p < mlen + 2T − 1 (every (i, j) pair, future keys too, so a bias read
 * is never out of range), and the bias `BD[b, h, q, q − k + T − 1 + mlen]` reading it as `operand`.
 * R_δ = [sin(δ·f), cos(δ·f)] with f_i = 10000^(−2i/d), the halves concatenated as in the authors' code.
 */
export function xlRelativeScores(
  el: Elaborator, p: XlRelative, qs: Tensor[], shape: { d: number; heads: number; headDim: number; tq: Dim; mlen: number; scale: number; bias: boolean },
  operand: number, span: Span,
): { queries: Tensor[]; bd: Tensor[]; bias: MaskExpr } {
  const { d, heads, headDim, tq, mlen } = shape;
  const uv = p.shared ?? el.within('rel', () => ({
    u: el.param('u', [heads, headDim], { kind: 'normal', std: BIAS_STD }, p.span),
    v: el.param('v', [heads, headDim], { kind: 'normal', std: BIAS_STD }, p.span),
  }));
  const asHeads = (w: Value): Tensor => el.emit('reshape', [{ kind: 'tensor', value: w, span }], { shape: [heads, 1, headDim] }, span);
  const u = asHeads(uv.u), v = asHeads(uv.v);
  // δ_p = p − (T − 1) for p < mlen + 2T − 1, as i32, then R: [P, d].
  const count = dimAdd(dimMul(2, tq), mlen - 1);
  const p0 = el.emit('iota', [], { length: count, dtype: 'i32' }, span);
  const tLess1 = el.emit('iota', [], { length: 1, start: dimSub(tq, 1), dtype: 'i32' }, span); // [T − 1], T known at run time
  const delta = el.emit('sub', [p0, tLess1], {}, span);
  const a = angles(el, delta, d, 10000, span); // [P, d/2]
  const table = el.emit('concat', [el.emit('sin', [a], {}, span), el.emit('cos', [a], {}, span)], { axis: 1 }, span); // [P, d]
  const wr = el.within('r', () => el.param('weight', [d, d], { kind: 'normal', std: 0.02 }, span));
  const r = el.emit('matmul', [table, { kind: 'tensor', value: wr, span }], {}, span); // W_r R: [P, d]
  const rHeads = el.emit('transpose', [el.emit('reshape', [r], { shape: [count, heads, headDim] }, span)], { perm: [1, 2, 0] }, span); // [H, Dh, P]
  const scale = el.constant(shape.scale, 'f32', span);
  const queries = qs.map((q) => el.emit('add', [q, u], {}, span));
  const bd = qs.map((q) => el.emit('mul', [el.emit('matmul', [el.emit('add', [q, v], {}, span), rHeads], {}, span), scale], {}, span)); // [B, H, T, P]
  const index = maskBin('+', maskBin('-', maskVar('q'), maskVar('k')), maskBin('+', maskDim(tq), maskConst(mlen - 1)));
  return { queries, bd, bias: maskRead(operand, [maskVar('b'), maskVar('h'), maskVar('q'), index]) };
}
