// Flash attention template: one kernel, one workgroup per (query tile, head, batch); key tiles stream
// through workgroup memory with an online softmax, so no seq x seq matrix is ever stored. The mask
// predicate is inlined; each key tile is first classified masked / visible / partial (mask-tiles.ts)
// from values every thread computes alike (launch parameters, ids of the workgroup, read-only loads),
// so the class is uniform and a masked tile skips its barriers too. The key loop runs only over the
// keys the mask's linear comparisons allow (keyIntervals: window(w) walks O(w) keys per query tile).
// An optional score bias (T5's relative positions) is inlined too and added to visible keys' scores.
import type { Span } from '../../diagnostics/span.js';
import { noSpan } from '../../diagnostics/span.js';
import { PtmError, diag } from '../../diagnostics/index.js';
import type { Dim } from '../../ir/dim.js';
import type { MaskExpr, MaskVar } from '../../ir/mask.js';
import { maskChildren, maskOperands } from '../../ir/mask.js';
import type { BufferParam, Expr, SharedArray, Stmt } from '../kernel-ir/types.js';
import * as k from '../kernel-ir/build.js';
import { LaunchParams } from './indexing.js';
import type { BufferBind, KernelInstance, StorageType, Strided } from './instance.js';
import type { Bounds, RangeRead } from './mask-tiles.js';
import { i32Domain, keyIntervals, rangeReads, tileClassValue } from './mask-tiles.js';
import type { MaskEnv } from './mask-expr.js';
import { emitMask } from './mask-expr.js';

export interface AttentionVariant {
  /** Query rows per workgroup. */
  tileQ: number;
  /** Keys per staged tile (the template halves it, then tileQ, until workgroup memory fits 16 KiB). */
  tileK: number;
  /** Threads per query row (default 16): they split the keys of a tile and the dv output columns. */
  threadsPerRow?: number;
}

export const ATTENTION_VARIANTS: Record<string, AttentionVariant> = {
  q16k16t16: { tileQ: 16, tileK: 16, threadsPerRow: 16 },
  q8k32t32: { tileQ: 8, tileK: 32, threadsPerRow: 32 },
  q32k16t8: { tileQ: 32, tileK: 16, threadsPerRow: 8 },
  q32k16t4: { tileQ: 32, tileK: 16, threadsPerRow: 4 },
};

export const DEFAULT_ATTENTION_VARIANT: AttentionVariant = ATTENTION_VARIANTS.q16k16t16!;

export interface AttentionSpec {
  batch: Dim;
  heads: Dim;
  tq: Dim;
  tk: Dim;
  d: number;
  dv: number;
  scale: number;
  inputs: { storage: StorageType; shape: Dim[] }[];
  /** Strides for [b, h, t, d]. */
  q: { input: number; layout: Strided };
  k: { input: number; layout: Strided };
  v: { input: number; layout: Strided };
  /** Strides for [b, h, tq, dv]. */
  out: Strided;
  /** Reads name operands of the graph attention op: 0, 1, 2 are q, k, v; 3.. are mask tensors. */
  mask: MaskExpr;
  /** Added to scale * q·k of visible keys (T5's W[t5_bucket(k - q, ...), h]); may read f32 tensors. */
  bias?: MaskExpr;
  /** Graph operand index -> input and strides per axis of that tensor (every operand the mask or bias reads). */
  maskInputs: Record<number, { input: number; layout: Strided }>;
  variant: AttentionVariant;
  locs: Span[];
}

/** WebGPU's default maxComputeWorkgroupStorageSize (16 KiB) in 4-byte words. */
const SHARED_WORDS = 4096;
/** Score of a masked key: finite (WGSL may assume no infinities), below any real score, exp(NEG - x) = 0. */
const NEG = -3e38;

const u = (name: string) => k.ref(name, k.u32);
const iv = (name: string) => k.ref(name, k.i32);
const fv = (name: string) => k.ref(name, k.f32);

/** What the pieces of the kernel share: sizes, buffers, workgroup arrays, the mask's inputs. */
interface Ctx {
  spec: AttentionSpec;
  p: LaunchParams;
  fail(why: string): never;
  maskBuffers: Map<number, BufferParam>;
  qb: BufferParam;
  kb: BufferParam;
  vb: BufferParam;
  out: BufferParam;
  tq: Expr;
  tk: Expr;
  tileQ: number;
  tileK: number;
  /** Threads per query row, and per workgroup. */
  TPR: number;
  T: number;
  Qs: SharedArray;
  Ks: SharedArray;
  Ss: SharedArray;
  shared: SharedArray[];
  /** The mask variables as i32 (k is bound per key where it is used). */
  vars: Record<MaskVar, Expr>;
  /** Launch parameters of the `dim(...)` nodes, by dimension. */
  dims: Map<Dim, Expr>;
  /** Per-tile [min, max] of each range read, by RangeRead.key. */
  rangeBounds: Map<string, Bounds<Expr>>;
}

function strideTerm(p: LaunchParams, coord: Expr, stride: Dim, name: string): Expr | undefined {
  return stride === 0 ? undefined : stride === 1 ? coord : k.mul(coord, p.add(name, stride));
}
function sum(terms: (Expr | undefined)[]): Expr {
  const xs = terms.filter((x): x is Expr => x !== undefined);
  return xs.length === 0 ? k.u(0) : xs.reduce((s, x) => k.add(s, x));
}

/** Tile sizes that fit workgroup memory: Qs[tileQ*d] + Ks[tileK*(d+1)] + Ss[tileQ*tileK]. */
function fitTiles(v: AttentionVariant, d: number): { tileQ: number; tileK: number } {
  let { tileQ, tileK } = v;
  const words = () => tileQ * d + tileK * (d + 1) + tileQ * tileK;
  while (words() > SHARED_WORDS && (tileK > 4 || tileQ > 1)) {
    if (tileK > 4) tileK /= 2;
    else tileQ /= 2;
  }
  return { tileQ, tileK };
}

export function attentionKernel(spec: AttentionSpec): KernelInstance {
  const loc = spec.locs[0] ?? noSpan();
  const fail = (why: string): never => { throw new PtmError(diag.internal_error(loc, `attention template: ${why}`)); };
  const TPR = spec.variant.threadsPerRow ?? 16;
  const reads = rangeReads(spec.mask);
  const kReads = reads.filter((r) => r.along === 'k'), qReads = reads.filter((r) => r.along === 'q');
  const { tileQ, tileK } = fitTiles(spec.variant, spec.d);
  if (TPR * tileQ > 256 || !Number.isInteger(tileQ) || !Number.isInteger(tileK) || tileK < 1) fail(`variant ${JSON.stringify(spec.variant)} does not fit d = ${spec.d}`);
  const p = new LaunchParams();
  const buffers: BufferParam[] = [], bind: BufferBind[] = [];
  const input = (name: string, index: number, storage?: StorageType): BufferParam => {
    const b = k.buffer(name, { scalar: storage ?? spec.inputs[index]?.storage ?? fail(`input ${index} does not exist`), lanes: 1 });
    buffers.push(b);
    bind.push({ kind: 'input', index });
    return b;
  };
  const qb = input('q', spec.q.input, 'f32'), kb = input('k', spec.k.input, 'f32'), vb = input('v', spec.v.input, 'f32');
  const maskBuffers = new Map<number, BufferParam>();
  const predicateReads = new Set(maskOperands(spec.mask));
  for (const [operand, mi] of Object.entries(spec.maskInputs)) {
    const storage = spec.inputs[mi.input]?.storage ?? fail(`mask input ${mi.input} does not exist`);
    // A predicate over float elements would need float compares the tile bounds do not model; a bias may read floats.
    if (storage === 'f32' && predicateReads.has(Number(operand))) fail(`the mask reads operand ${operand}, a float tensor`);
    maskBuffers.set(Number(operand), input(`mask${operand}`, mi.input, storage));
  }
  const out = k.buffer('out', k.f32, 'read_write');
  buffers.push(out);
  bind.push({ kind: 'output', index: 0 });
  const Qs = k.shared('Qs', k.f32, tileQ * spec.d), Ks = k.shared('Ks', k.f32, tileK * (spec.d + 1)), Ss = k.shared('Ss', k.f32, tileQ * tileK);
  const ctx: Ctx = {
    spec, p, fail, maskBuffers, qb, kb, vb, out, tq: p.add('tq', spec.tq), tk: p.add('tk', spec.tk),
    tileQ, tileK, TPR, T: TPR * tileQ, Qs, Ks, Ss, shared: [Qs, Ks, Ss],
    vars: { b: k.toI32(u('bi')), h: k.toI32(u('hi')), q: k.toI32(u('qi')), k: k.i(0) },
    dims: new Map(), rangeBounds: new Map(),
  };
  const body: Stmt[] = [
    ...prologue(ctx),
    ...qReads.flatMap((r, n) => rangeBounds(ctx, r, n, u('q0'), ctx.tq, tileQ)),
    k.var_('m', k.f(NEG)), k.var_('l', k.f(0)),
  ];
  const J = Math.ceil(spec.dv / TPR);
  for (let j = 0; j < J; j++) body.push(k.var_(`acc${j}`, k.f(0)), k.let_(`cc${j}`, k.min(column(ctx, j), spec.dv - 1)));
  const tileBody = (): Stmt[] => [
    ...kReads.flatMap((r, n) => rangeBounds(ctx, r, n, u('k0'), ctx.tk, tileK)),
    ...tileClass(ctx), // cls: 0 masked (skip), 1 partial (test each key), 2 visible; uniform
    k.if_(k.ne(iv('cls'), 0), [
      ...stageKeys(ctx),
      k.barrier(),
      ...scores(ctx),
      k.barrier(),
      ...softmaxUpdate(ctx, J),
      k.barrier(), // the readers of Ks and Ss are done before the next tile stages
    ]),
  ];
  body.push(...keyLoops(ctx, tileBody));
  // out[b, h, qi, c] = acc / l, or 0 for a row that saw no visible key
  for (let j = 0; j < J; j++) {
    const c = column(ctx, j);
    body.push(k.if_(k.and(k.lt(u('qi'), ctx.tq), k.lt(c, spec.dv)), [
      k.store(out, at(ctx, 'out', spec.out, u('qi'), c), k.select(k.gt(fv('l'), 0), k.div(fv(`acc${j}`), fv('l')), k.f(0))),
    ]));
  }
  return {
    kernel: {
      name: `attention_${maskName(spec.mask)}${biasName(spec.bias)}_q${tileQ}k${tileK}t${TPR}_d${spec.d}`,
      workgroupSize: [TPR, tileQ, 1], buffers, params: p.uniforms, shared: ctx.shared, body,
      grid: [k.ceilDiv(ctx.tq, tileQ), p.add('heads', spec.heads), p.add('batch', spec.batch)],
      locs: spec.locs,
    },
    bind,
    params: p.values,
  };
}

/** Output column j of this thread: lane + j * TPR (adjacent threads, adjacent d). */
const column = (ctx: Ctx, j: number): Expr => (j === 0 ? u('lane') : k.add(u('lane'), j * ctx.TPR));

/** Element [t, c] of q/k/v/out within the current (b, h). */
function at(ctx: Ctx, name: string, l: Strided, t: Expr, c: Expr): Expr {
  return sum([u(`${name}_base`), strideTerm(ctx.p, t, l.strides[2]!, `${name}_s2`), strideTerm(ctx.p, c, l.strides[3]!, `${name}_s3`)]);
}

/** Ids, the (b, h) bases of q/k/v/out, and Qs = scale * the workgroup's query rows. */
function prologue(ctx: Ctx): Stmt[] {
  const { spec, p } = ctx;
  const base = (name: string, l: Strided): Stmt => k.let_(`${name}_base`, sum([
    l.offset === 0 ? undefined : p.add(`${name}_off`, l.offset),
    strideTerm(p, u('bi'), l.strides[0]!, `${name}_s0`), strideTerm(p, u('hi'), l.strides[1]!, `${name}_s1`),
  ]));
  return [
    k.let_('lane', k.localId(0)), k.let_('row', k.localId(1)), k.let_('lid', k.add(k.mul(k.localId(1), ctx.TPR), k.localId(0))),
    k.let_('bi', k.workgroupId(2)), k.let_('hi', k.workgroupId(1)),
    k.let_('q0', k.mul(k.workgroupId(0), ctx.tileQ)), k.let_('qi', k.add(u('q0'), u('row'))),
    base('q', spec.q.layout), base('k', spec.k.layout), base('v', spec.v.layout), base('out', spec.out),
    k.comment('Qs[r * d + c] = scale * q[b, h, q0 + r, c] (rows past tq clamp; they are never stored)'),
    ...cooperative(ctx.T, ctx.tileQ * spec.d, (e) => {
      const r = k.div(e, spec.d), c = k.mod(e, spec.d);
      const x = k.load(ctx.qb, at(ctx, 'q', spec.q.layout, k.min(k.add(u('q0'), r), k.sub(ctx.tq, 1)), c));
      return [k.sharedStore(ctx.Qs, e, k.mul(x, spec.scale))];
    }),
  ];
}

/**
 * A range read (one index q or k, the others tile-invariant): its min and max over the tile's valid
 * positions start .. min(start + size, limit) - 1, taken by every thread from global memory (the
 * same addresses for all, so the bounds and the tile class built on them are uniform).
 */
function rangeBounds(ctx: Ctx, r: RangeRead, n: number, start: Expr, limit: Expr, size: number): Stmt[] {
  const lo = `${r.along}r${n}_lo`, hi = `${r.along}r${n}_hi`, j = `${r.along}r${n}_j`, x = `${r.along}r${n}_x`;
  ctx.rangeBounds.set(r.key, { lo: iv(lo), hi: iv(hi) });
  const indices = r.indices.map((e, axis) => (axis === r.axis ? k.toI32(k.add(start, u(j))) : emitMask(e, maskEnv(ctx), 'int')));
  return [k.var_(lo, k.i(2147483647)), k.var_(hi, k.i(-2147483648)),
    k.for_(j, k.u(0), k.min(k.sub(limit, start), size), [
      k.let_(x, readMask(ctx, r.operand, indices)),
      k.assign(lo, k.min(iv(lo), iv(x))),
      k.assign(hi, k.max(iv(hi), iv(x))),
    ])];
}

/**
 * The loops over key tiles: one per interval of keys the mask allows some query of this workgroup
 * (keyIntervals), widened to whole tiles, each skipping the tiles an earlier loop walked; one loop
 * over 0 .. tk where the mask bounds no side. None when the mask hides every key from the whole
 * query tile (a row class over all keys, e.g. Longformer's global attention on non-global queries).
 */
function keyLoops(ctx: Ctx, tileBody: () => Stmt[]): Stmt[] {
  const stmts: Stmt[] = [];
  const q: [Expr, Expr] = [k.toI32(u('q0')), k.toI32(k.sub(k.min(k.add(u('q0'), ctx.tileQ), ctx.tq), 1))];
  const tk = k.toI32(ctx.tk);
  const reads = {
    exact: (operand: number, indices: Expr[]) => readMask(ctx, operand, indices),
    range: (r: RangeRead) => (r.along === 'q' ? ctx.rangeBounds.get(r.key) : undefined),
    unknown: (operand: number) => (ctx.maskBuffers.get(operand)?.type.scalar === 'u32' ? { lo: k.i(0), hi: k.i(1) } : undefined),
  };
  const env = { b: ctx.vars.b, h: ctx.vars.h, q, k: [k.i(0), k.sub(tk, k.i(1))] as [Expr, Expr], reads, dim: (d: Dim) => dimValue(ctx, d) };
  const rowClass = k.hoistShared(tileClassValue(ctx.spec.mask, i32Domain, env), stmts, 'row_');
  stmts.push(k.let_('row_live', k.ne(rowClass, 0)));
  const intervals = keyIntervals(ctx.spec.mask, i32Domain, env);
  const walked: [Expr, Expr, boolean][] = [];
  intervals.forEach((x, n) => {
    let begin: Expr = k.u(0), end: Expr = ctx.tk;
    if (x.lo !== undefined) {
      stmts.push(k.let_(`key_lo${n}`, k.min(k.max(x.lo, k.i(0)), tk)));
      begin = k.toU32(k.mul(k.div(iv(`key_lo${n}`), ctx.tileK), ctx.tileK));
    }
    if (x.hi !== undefined) {
      stmts.push(k.let_(`key_end${n}`, k.min(k.max(k.add(x.hi, k.i(1)), k.i(0)), tk)));
      end = k.toU32(iv(`key_end${n}`));
    }
    stmts.push(k.let_(`tiles_begin${n}`, begin), k.let_(`tiles_end${n}`, k.select(k.ref('row_live', k.bool), end, begin)));
    const from = u(`tiles_begin${n}`), to = u(`tiles_end${n}`);
    // A tile an earlier loop walked (its start inside that loop's [begin, end)) is not walked again.
    // (`k0 < 0u` is left out where a loop began at 0: nvcc -Werror rejects the pointless unsigned compare.)
    const fresh = walked.map(([b, e, fromZero]) => (fromZero ? k.ge(u('k0'), e) : k.or(k.lt(u('k0'), b), k.ge(u('k0'), e))));
    const guarded = fresh.length === 0 ? tileBody() : [k.if_(fresh.reduce((a, c) => k.and(a, c)), tileBody())];
    stmts.push(k.for_('k0', from, to, guarded, ctx.tileK));
    walked.push([from, to, x.lo === undefined]);
  });
  return stmts;
}

/** `cls`, the tile's class (i32 0/1/2) by interval arithmetic over q ∈ [q0, q1], k ∈ [k0, k1]. */
function tileClass(ctx: Ctx): Stmt[] {
  const last = (start: Expr, tile: number, size: Expr) => k.toI32(k.sub(k.min(k.add(start, tile), size), 1));
  const stmts: Stmt[] = [];
  const value = tileClassValue(ctx.spec.mask, i32Domain, {
    b: ctx.vars.b, h: ctx.vars.h,
    q: [k.toI32(u('q0')), last(u('q0'), ctx.tileQ, ctx.tq)],
    k: [k.toI32(u('k0')), last(u('k0'), ctx.tileK, ctx.tk)],
    reads: {
      exact: (operand, indices) => readMask(ctx, operand, indices),
      range: (r) => ctx.rangeBounds.get(r.key),
      unknown: (operand) => (ctx.maskBuffers.get(operand)?.type.scalar === 'u32' ? { lo: k.i(0), hi: k.i(1) } : undefined),
    },
    dim: (d) => dimValue(ctx, d),
  });
  const cls = k.hoistShared(value, stmts, 'cls_');
  return [...stmts, k.let_('cls', cls)];
}

/** Ks[key * (d + 1) + c] = k[b, h, k0 + key, c]; the +1 keeps a thread's rows apart in memory banks. */
function stageKeys(ctx: Ctx): Stmt[] {
  const { spec, tileK } = ctx;
  return cooperative(ctx.T, tileK * spec.d, (e) => {
    const key = k.div(e, spec.d), c = k.mod(e, spec.d);
    const x = k.load(ctx.kb, at(ctx, 'k', spec.k.layout, k.min(k.add(u('k0'), key), k.sub(ctx.tk, 1)), c));
    return [k.sharedStore(ctx.Ks, k.add(k.mul(key, spec.d + 1), c), x)];
  });
}

/** Ss[row, key] = q·k (scaled) + bias for this thread's keys lane + t * TPR, or NEG where the key is masked. */
function scores(ctx: Ctx): Stmt[] {
  const { spec, tileK, TPR } = ctx;
  const out: Stmt[] = [];
  for (let t = 0; t * TPR < tileK; t++) {
    const key = t === 0 ? u('lane') : k.add(u('lane'), t * TPR), kj = `kj${t}`, dot = `dot${t}`, seen = `seen${t}`, c = `c${t}`;
    const qk = k.mul(k.sharedLoad(ctx.Qs, k.add(k.mul(u('row'), spec.d), u(c))), k.sharedLoad(ctx.Ks, k.add(k.mul(key, spec.d + 1), u(c))));
    const env = maskEnv(ctx, k.toI32(u(kj)));
    // Subexpressions a T5 bucket or a read's bounds check repeat become lets (every read is guarded, so hoisting is safe).
    const maskStmts: Stmt[] = [], biasStmts: Stmt[] = [];
    const visible = k.hoistShared(emitMask(spec.mask, env, 'bool'), maskStmts, `m${t}_`);
    // The bias is read for keys past tk too (reads outside a tensor give 0); select keeps only visible ones.
    const score = spec.bias ? k.add(fv(dot), k.hoistShared(emitMask(spec.bias, env, 'f32'), biasStmts, `b${t}_`)) : fv(dot);
    const one: Stmt[] = [
      k.let_(kj, k.add(u('k0'), key)),
      k.var_(dot, k.f(0)),
      k.for_(c, k.u(0), spec.d, [k.assign(dot, k.add(fv(dot), qk))]),
      k.var_(seen, k.lt(u(kj), ctx.tk)),
      k.if_(k.eq(iv('cls'), 1), [...maskStmts, k.assign(seen, k.and(k.ref(seen, k.bool), visible))]),
      ...biasStmts,
      k.sharedStore(ctx.Ss, k.add(k.mul(u('row'), tileK), key), k.select(k.ref(seen, k.bool), score, k.f(NEG))),
    ];
    out.push(...(tileK % TPR === 0 ? one : [k.if_(k.lt(key, tileK), one)]));
  }
  return out;
}

/** Online softmax over the tile: m = running max, l = running sum, acc rescaled by exp(m_old - m_new). */
function softmaxUpdate(ctx: Ctx, J: number): Stmt[] {
  const { spec, tileK } = ctx;
  const score = (j: Expr) => k.sharedLoad(ctx.Ss, k.add(k.mul(u('row'), tileK), j));
  return [
    k.var_('mt', k.f(NEG)),
    k.for_('j', k.u(0), tileK, [k.assign('mt', k.max(fv('mt'), score(u('j'))))]),
    k.let_('m_new', k.max(fv('m'), fv('mt'))),
    k.let_('alpha', k.exp(k.sub(fv('m'), fv('m_new')))),
    k.assign('l', k.mul(fv('l'), fv('alpha'))),
    ...Array.from({ length: J }, (_, j) => k.assign(`acc${j}`, k.mul(fv(`acc${j}`), fv('alpha')))),
    k.for_('j', k.u(0), k.min(k.sub(ctx.tk, u('k0')), tileK), [
      k.let_('s', score(u('j'))),
      k.let_('pj', k.select(k.eq(fv('s'), NEG), k.f(0), k.exp(k.sub(fv('s'), fv('m_new'))))),
      k.assign('l', k.add(fv('l'), fv('pj'))),
      k.let_('vrow', k.add(u('k0'), u('j'))),
      ...Array.from({ length: J }, (_, j) => k.assign(`acc${j}`, k.add(fv(`acc${j}`), k.mul(fv('pj'), k.load(ctx.vb, at(ctx, 'v', spec.v.layout, u('vrow'), u(`cc${j}`))))))),
    ]),
    k.assign('m', fv('m_new')),
  ];
}

/** Statements run for e = lid, lid + T, ... < count (every thread of the workgroup helps). */
function cooperative(T: number, count: number, f: (e: Expr) => Stmt[]): Stmt[] {
  const out: Stmt[] = [];
  for (let t = 0; t * T < count; t++) {
    const e = t === 0 ? u('lid') : k.add(u('lid'), t * T);
    out.push(...((t + 1) * T <= count ? f(e) : [k.if_(k.lt(e, count), f(e))]));
  }
  return out;
}

function maskName(m: MaskExpr): string {
  if (m.kind === 'const') return m.value ? 'full' : 'none';
  if (m.kind === 'binary' && m.op === '<=' && m.left.kind === 'var' && m.left.name === 'k') {
    const r = m.right;
    if (r.kind === 'var' && r.name === 'q') return 'causal';
    // decoding with a cache: k <= q + dim(past)
    if (r.kind === 'binary' && r.op === '+' && r.left.kind === 'var' && r.left.name === 'q' && r.right.kind === 'dim') return 'causal_offset';
  }
  return 'masked';
}

/** The bias part of a kernel name: none, T5's relative bias (bidirectional or not), or another bias. */
function biasName(bias: MaskExpr | undefined): string {
  if (!bias) return '';
  const t5: MaskExpr[] = [];
  const walk = (e: MaskExpr): void => {
    if (e.kind === 't5_bucket') t5.push(e);
    maskChildren(e).forEach(walk);
  };
  walk(bias);
  if (t5.length === 0) return '_bias';
  return t5.every((e) => e.kind === 't5_bucket' && e.bidirectional) ? '_t5bias' : '_t5bias_causal';
}

/** The mask variables (k bound to `key` where a key is at hand), reads through the layouts, dims as launch parameters. */
function maskEnv(ctx: Ctx, key?: Expr): MaskEnv {
  return { vars: key ? { ...ctx.vars, k: key } : ctx.vars, read: (operand, indices) => readMask(ctx, operand, indices), dim: (d) => dimValue(ctx, d) };
}

/** dim(d) as i32: a constant, or launch parameter `dim<n>` (numbered by first use; values are Dims bound at run time). */
function dimValue(ctx: Ctx, d: Dim): Expr {
  if (typeof d === 'number') return k.i(d);
  let value = ctx.dims.get(d);
  if (!value) ctx.dims.set(d, (value = k.toI32(ctx.p.add(`dim${ctx.dims.size}`, d))));
  return value;
}

/**
 * Element of mask operand `operand` at i32 `indices` through its strided layout, as i32 (bools 0/1)
 * or, for a float tensor (a bias table), f32; an index outside the tensor reads 0 (the reference
 * rejects it; a kernel must not fault).
 */
function readMask(ctx: Ctx, operand: number, indices: Expr[]): Expr {
  const mi = ctx.spec.maskInputs[operand], buf = ctx.maskBuffers.get(operand);
  if (!mi || !buf) return ctx.fail(`the mask reads operand ${operand}, which has no mask input`);
  const shape = ctx.spec.inputs[mi.input]!.shape;
  if (shape.length !== indices.length) ctx.fail(`the mask indexes operand ${operand} of rank ${shape.length} with ${indices.length} indices`);
  // Indices made from b, h, q, k (u32 ids) are never negative; others are checked both ways.
  const checks = indices.flatMap((x, axis) => {
    const below = k.lt(x, k.toI32(ctx.p.add(`mask${operand}_n${axis}`, shape[axis]!)));
    return isId(x) ? [below] : [k.ge(x, 0), below];
  });
  const inside = checks.length === 0 ? k.T : checks.reduce((a, x) => k.and(a, x));
  const flat = sum([mi.layout.offset === 0 ? undefined : ctx.p.add(`mask${operand}_off`, mi.layout.offset),
    ...indices.map((x, axis) => strideTerm(ctx.p, k.toU32(x), mi.layout.strides[axis]!, `mask${operand}_s${axis}`))]);
  const value = k.load(buf, k.select(inside, flat, k.u(0)));
  return buf.type.scalar === 'f32' ? k.select(inside, value, k.f(0)) : k.select(inside, k.toI32(value), k.i(0));
}

/** i32(u) of a u32: an index from workgroup/thread ids, never negative. */
const isId = (x: Expr): boolean => x.k === 'cast' && x.a.type.scalar === 'u32';
