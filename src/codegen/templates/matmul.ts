// Tiled matmul template: out[...batch, m, n] = epilogue(norm(A) @ B), every operand read or written
// through a strided layout, f32 accumulation, any sizes (edge tiles clamp their loads, guard stores).
// Variants trade barriers for registers: `register` tiles (no shared memory) or `shared` tiles.
import type { Span } from '../../diagnostics/span.js';
import { noSpan } from '../../diagnostics/span.js';
import { PtmError, diag } from '../../diagnostics/index.js';
import type { Dim } from '../../ir/dim.js';
import { dimDivExact, dimProduct } from '../../ir/dim.js';
import type { BufferParam, Expr, KType, SharedArray, Stmt } from '../kernel-ir/types.js';
import * as k from '../kernel-ir/build.js';
import type { FusedExpr } from './fused-expr.js';
import { emitFused } from './fused-expr.js';
import { LaunchParams, MAX_WORKGROUPS_PER_AXIS, unravelIndex } from './indexing.js';
import type { BufferBind, KernelInstance, StorageType, Strided } from './instance.js';

export interface MatmulVariant {
  /** `register`: each thread streams A and B from memory into its own tile, no barriers; `shared`: tiles staged in workgroup memory. */
  kind: 'register' | 'shared';
  tileM: number;
  tileN: number;
  /** Depth of a staged k tile (shared only). */
  tileK?: number;
  perThreadM: number;
  perThreadN: number;
  /** Read B as vec4 when its layout allows (n-stride 1, 16-byte aligned, n % 4 == 0); register only. */
  vec4?: boolean;
}

/**
 * Named variants for `ptm tune`; the workgroup is (tileN / perThreadN, tileM / perThreadM). A thread's
 * columns are tx + j * TX (scalar: adjacent threads, adjacent addresses) or 4 * (tx + g * TX) (vec4).
 */
export const MATMUL_VARIANTS: Record<string, MatmulVariant> = {
  reg4x4: { kind: 'register', tileM: 64, tileN: 64, perThreadM: 4, perThreadN: 4, vec4: true },
  reg4x4_scalar: { kind: 'register', tileM: 64, tileN: 64, perThreadM: 4, perThreadN: 4 },
  reg4x8: { kind: 'register', tileM: 64, tileN: 128, perThreadM: 4, perThreadN: 8, vec4: true },
  reg8x8: { kind: 'register', tileM: 128, tileN: 128, perThreadM: 8, perThreadN: 8 },
  reg1x1: { kind: 'register', tileM: 16, tileN: 16, perThreadM: 1, perThreadN: 1 },
  shared16: { kind: 'shared', tileM: 16, tileN: 16, tileK: 16, perThreadM: 1, perThreadN: 1 },
  /** 32x32 tiles, 2x2 = 4 outputs per thread. */
  shared32x4: { kind: 'shared', tileM: 32, tileN: 32, tileK: 16, perThreadM: 2, perThreadN: 2 },
  shared64x16: { kind: 'shared', tileM: 64, tileN: 64, tileK: 16, perThreadM: 4, perThreadN: 4 },
};

/**
 * On lavapipe at 256^3 (2 busy cores): reg4x8 ~9.6 GFLOP/s, reg4x4 ~7, shared64x16 ~2.7, shared16 ~0.7.
 * A GPU may prefer the shared variants; `ptm tune` times them all.
 */
export const DEFAULT_MATMUL_VARIANT: MatmulVariant = MATMUL_VARIANTS.reg4x8!;

export interface MatmulSpec {
  batch: Dim[];
  m: Dim;
  n: Dim;
  k: number | Dim;
  inputs: { storage: StorageType; shape: Dim[] }[];
  /** Strides for [...batch, m, k]. */
  a: { input: number; layout: Strided };
  /** Strides for [...batch, k, n]; B transposed (x @ W^T) is strides (1, K). */
  b: { input: number; layout: Strided };
  /** A's rows normalized over k on the fly; weight and bias are contiguous [k]. */
  aNorm?: { kind: 'layer_norm' | 'rms_norm'; weight: number; bias?: number; eps: number };
  /** Over `acc` and inputs, each input read at (batch..., m, n) through epilogueLayouts. */
  epilogue?: FusedExpr;
  /** Per epilogue input: strides for [...batch, m, n], 0 to broadcast. */
  epilogueLayouts?: Record<number, Strided>;
  /** Strides for [...batch, m, n]. */
  out: Strided;
  variant: MatmulVariant;
  locs: Span[];
}

/** Everything the variant bodies share: parameters, buffers, per-batch bases. */
interface Ctx {
  spec: MatmulSpec;
  p: LaunchParams;
  m: Expr;
  n: Expr;
  K: Expr;
  a: BufferParam;
  b: BufferParam;
  /** B read 4 floats at a time. */
  vec4: boolean;
  norm?: { w: BufferParam; bias?: BufferParam };
  epilogueBuffers: Map<number, BufferParam>;
  out: BufferParam;
  shared: SharedArray[];
}

const batchRank = (spec: MatmulSpec) => spec.batch.length;
const u = (name: string) => k.ref(name, k.u32);
/** x + c, without a `+ 0` in the generated code. */
const plus = (x: Expr, c: number) => (c === 0 ? x : k.add(x, c));
const fv = (name: string) => k.ref(name, k.f32);

/** The u32 term coord * stride: none for stride 0, no multiply for stride 1, else a launch parameter. */
function term(ctx: Ctx, coord: Expr, stride: Dim, name: string): Expr | undefined {
  return stride === 0 ? undefined : stride === 1 ? coord : k.mul(coord, ctx.p.add(name, stride));
}
function sum(terms: (Expr | undefined)[]): Expr {
  const xs = terms.filter((x): x is Expr => x !== undefined);
  return xs.length === 0 ? k.u(0) : xs.reduce((s, x) => k.add(s, x));
}

export function matmulKernel(spec: MatmulSpec): KernelInstance {
  const v = spec.variant, loc = spec.locs[0] ?? noSpan();
  const fail = (why: string): never => { throw new PtmError(diag.internal_error(loc, `matmul template: ${why}`)); };
  const tx = v.tileN / v.perThreadN, ty = v.tileM / v.perThreadM;
  if (!Number.isInteger(tx) || !Number.isInteger(ty) || tx * ty > 256) fail(`variant ${JSON.stringify(v)} needs tiles that divide into at most 256 threads`);
  if (v.kind === 'shared' && !(v.tileK && (tx * ty) % v.tileM === 0 && (v.tileM * v.tileK) % (tx * ty) === 0 && (v.tileN * v.tileK) % (tx * ty) === 0)) {
    fail(`shared variant ${JSON.stringify(v)}: the thread count must divide both staged tiles and be a multiple of tileM`);
  }
  if (spec.aNorm && spec.k === 0) fail('a normalized A needs k >= 1');
  const p = new LaunchParams();
  const bStrides = spec.b.layout.strides, r = batchRank(spec);
  const vec4 = v.kind === 'register' && !!v.vec4 && v.perThreadN % 4 === 0 && bStrides[r + 1] === 1
    && [spec.n, spec.b.layout.offset, ...bStrides.slice(0, r + 1)].every((d) => dimDivExact(d, 4) !== undefined);
  const buffers: BufferParam[] = [], bind: BufferBind[] = [];
  const input = (name: string, index: number, type?: KType): BufferParam => {
    const storage = spec.inputs[index]?.storage ?? fail(`input ${index} does not exist`);
    const b = k.buffer(name, type ?? { scalar: storage, lanes: 1 });
    buffers.push(b);
    bind.push({ kind: 'input', index });
    return b;
  };
  const ctx: Ctx = {
    spec, p, m: p.add('m', spec.m), n: p.add('n', spec.n), K: p.add('k', spec.k),
    a: input('a', spec.a.input, k.f32), b: input('b', spec.b.input, vec4 ? k.vec4f : k.f32), vec4,
    epilogueBuffers: new Map(), out: k.buffer('out', k.f32, 'read_write'), shared: [],
  };
  if (spec.aNorm) ctx.norm = { w: input('norm_w', spec.aNorm.weight, k.f32), ...(spec.aNorm.bias !== undefined ? { bias: input('norm_b', spec.aNorm.bias, k.f32) } : {}) };
  const epilogue = spec.epilogue ?? { kind: 'acc' };
  for (const i of epilogueInputs(epilogue)) {
    if (!spec.epilogueLayouts?.[i]) fail(`the epilogue reads input ${i} but has no layout for it`);
    ctx.epilogueBuffers.set(i, input(`e${i}`, i));
  }
  // The output type follows the epilogue (a bool result is stored as u32 0/1).
  const probe = emitFused(epilogue, (l) => (l.kind === 'acc' ? k.f(0) : l.kind === 'input' ? leafValue(ctx, l.index, k.u(0), k.u(0)) : fail(`${l.kind === 'gather' ? 'an embedding lookup' : 'an iota'} in a matmul epilogue`)));
  ctx.out = k.buffer('out', probe.type.scalar === 'bool' ? k.u32 : { scalar: probe.type.scalar, lanes: 1 }, 'read_write');
  buffers.push(ctx.out);
  bind.push({ kind: 'output', index: 0 });

  const body = v.kind === 'register' ? registerBody(ctx, epilogue) : sharedBody(ctx, epilogue);
  const batchCount = r > 0 ? p.add('batch', dimProduct(spec.batch)) : undefined;
  const name = ['matmul', v.kind === 'register' ? `reg${v.perThreadM}x${v.perThreadN}` : `shared${v.tileM}x${v.tileN}x${v.tileK}`, vec4 ? 'vec4' : '', spec.aNorm ? spec.aNorm.kind : '', spec.epilogue && spec.epilogue.kind !== 'acc' ? 'epilogue' : ''].filter(Boolean).join('_');
  return {
    kernel: {
      name, workgroupSize: [tx, ty, 1], buffers, params: p.uniforms, shared: ctx.shared,
      body: batchLoop(ctx, body),
      grid: [k.ceilDiv(ctx.n, v.tileN), k.ceilDiv(ctx.m, v.tileM), batchCount ? k.min(batchCount, MAX_WORKGROUPS_PER_AXIS) : k.u(1)],
      locs: spec.locs,
    },
    bind,
    params: p.values,
  };
}

function epilogueInputs(e: FusedExpr): number[] {
  const out = new Set<number>();
  const walk = (x: FusedExpr): void => { if (x.kind === 'input') out.add(x.index); else if (x.kind === 'op') x.args.forEach(walk); };
  walk(e);
  return [...out].sort((a, b) => a - b);
}

/**
 * The batch loop: workgroup z strides over the flattened batch (grid z is capped at 65535), and each
 * operand's batch base offset (`a_base`, `b_base`, `e<i>_base`, `out_base`) is set for the body.
 */
function batchLoop(ctx: Ctx, body: Stmt[]): Stmt[] {
  const { spec, p } = ctx, r = batchRank(spec);
  const layouts: [string, Strided][] = [['a', spec.a.layout], ['b', spec.b.layout], ['out', spec.out],
    ...[...ctx.epilogueBuffers.keys()].map((i): [string, Strided] => [`e${i}`, spec.epilogueLayouts![i]!])];
  const bases = (coords: Expr[]): Stmt[] => layouts.map(([name, l]) => k.let_(`${name}_base`, sum([
    l.offset === 0 ? undefined : p.add(`${name}_off`, l.offset),
    ...coords.map((c, axis) => term(ctx, c, l.strides[axis]!, `${name}_s${axis}`)),
  ])));
  if (r === 0) return [...bases([]), ...body];
  const dims = spec.batch.map((d, axis) => (axis === 0 ? k.u(0) : p.add(`batch${axis}`, d)));
  const { stmts, coords } = unravelIndex(u('bz'), dims, 'bi');
  return [k.for_('bz', k.workgroupId(2), p.add('batch', dimProduct(spec.batch)), [...stmts, ...bases(coords), ...body], k.numWorkgroups(2))];
}

/** Index of A[row, col] (row, col clamped by the caller) and of B[row, col], from the batch bases. */
function aIndex(ctx: Ctx, row: Expr, kk: Expr): Expr {
  const s = ctx.spec.a.layout.strides, r = batchRank(ctx.spec);
  return sum([u('a_base'), term(ctx, row, s[r]!, `a_s${r}`), term(ctx, kk, s[r + 1]!, `a_s${r + 1}`)]);
}
function bIndex(ctx: Ctx, kk: Expr, col: Expr): Expr {
  const s = ctx.spec.b.layout.strides, r = batchRank(ctx.spec);
  return sum([u('b_base'), term(ctx, kk, s[r]!, `b_s${r}`), term(ctx, col, s[r + 1]!, `b_s${r + 1}`)]);
}

/** An epilogue input at (row, col) of this batch entry; bools become bool. */
function leafValue(ctx: Ctx, index: number, row: Expr, col: Expr): Expr {
  const l = ctx.spec.epilogueLayouts![index]!, r = batchRank(ctx.spec), buf = ctx.epilogueBuffers.get(index)!;
  const x = k.load(buf, sum([u(`e${index}_base`), term(ctx, row, l.strides[r]!, `e${index}_s${r}`), term(ctx, col, l.strides[r + 1]!, `e${index}_s${r + 1}`)]));
  return buf.type.scalar === 'u32' ? k.ne(x, 0) : x;
}

/** out[row, col] = epilogue(acc) when (row, col) is inside the output. */
function storeOutput(ctx: Ctx, epilogue: FusedExpr, row: Expr, col: Expr, acc: Expr): Stmt {
  const s = ctx.spec.out.strides, r = batchRank(ctx.spec);
  // Each leaf is loaded once into a local (emitFused repeats an operand that an op uses twice).
  const lets: Stmt[] = [k.let_('o_row', row), k.let_('o_col', col)];
  const leaves = new Map<number, Expr>();
  const value = emitFused(epilogue, (l) => {
    if (l.kind !== 'input') return acc;
    if (!leaves.has(l.index)) {
      const x = leafValue(ctx, l.index, u('o_row'), u('o_col'));
      lets.push(k.let_(`e${l.index}_v`, x));
      leaves.set(l.index, k.ref(`e${l.index}_v`, x.type));
    }
    return leaves.get(l.index)!;
  });
  // Subexpressions an op uses twice (gelu_tanh's x, erf's t) become locals instead of being re-printed.
  const shared = k.hoistShared(value, lets, 'e_');
  const stored = shared.type.scalar === 'bool' ? k.select(shared, k.u(1), k.u(0)) : shared;
  const index = sum([u('out_base'), term(ctx, u('o_row'), s[r]!, `out_s${r}`), term(ctx, u('o_col'), s[r + 1]!, `out_s${r + 1}`)]);
  return k.if_(k.and(k.lt(row, ctx.m), k.lt(col, ctx.n)), [...lets, k.store(ctx.out, index, stored)]);
}

/**
 * Row statistics of A for the norm prologue, over kk = start, start + step, ... < K: sums of
 * (x - shift) and (x - shift)^2 with shift = A[row, 0] (one pass, without the cancellation of raw sums).
 */
function rowSums(ctx: Ctx, tag: string, row: Expr, start: Expr, step: number): Stmt[] {
  const rms = ctx.spec.aNorm!.kind === 'rms_norm';
  const x = k.sub(k.load(ctx.a, aIndex(ctx, row, u(`kk_${tag}`))), rms ? k.f(0) : fv(`shift_${tag}`));
  return [
    ...(rms ? [] : [k.let_(`shift_${tag}`, k.load(ctx.a, aIndex(ctx, row, k.u(0))))]),
    k.var_(`s1_${tag}`, k.f(0)), k.var_(`s2_${tag}`, k.f(0)),
    k.for_(`kk_${tag}`, start, ctx.K, [
      k.let_(`x_${tag}`, x),
      k.assign(`s1_${tag}`, k.add(fv(`s1_${tag}`), fv(`x_${tag}`))),
      k.assign(`s2_${tag}`, k.add(fv(`s2_${tag}`), k.mul(fv(`x_${tag}`), fv(`x_${tag}`)))),
    ], step),
  ];
}

/** mean and rstd (`mean_${tag}`, `rstd_${tag}`) from sums s1, s2 over all K elements. */
function rowStats(ctx: Ctx, tag: string, s1: Expr, s2: Expr): Stmt[] {
  const { kind, eps } = ctx.spec.aNorm!;
  const kf = k.toF32(ctx.K);
  if (kind === 'rms_norm') return [k.let_(`mean_${tag}`, k.f(0)), k.let_(`rstd_${tag}`, k.rsqrt(k.add(k.div(s2, kf), eps)))];
  const variance = k.max(k.div(k.sub(s2, k.div(k.mul(s1, s1), kf)), kf), 0);
  return [k.let_(`mean_${tag}`, k.add(fv(`shift_${tag}`), k.div(s1, kf))), k.let_(`rstd_${tag}`, k.rsqrt(k.add(variance, eps)))];
}

/** norm(x) at column kk: (x - mean) * rstd * w[kk] (+ bias[kk]); `w`, `bias` when already loaded. */
function normalize(ctx: Ctx, x: Expr, mean: Expr, rstd: Expr, kk: Expr, w?: Expr, bias?: Expr): Expr {
  const y = k.mul(k.mul(k.sub(x, mean), rstd), w ?? k.load(ctx.norm!.w, kk));
  return ctx.norm!.bias ? k.add(y, bias ?? k.load(ctx.norm!.bias, kk)) : y;
}

/**
 * Register tiles: thread (tx, ty) owns rows row0 + ty + i*TY and columns col0 + tx + j*TX (scalar:
 * adjacent threads read adjacent B elements) or col0 + 4*(tx + g*TX) + lane (vec4). Loads clamp to
 * the last row/column, so they never leave the tensors; only stores are guarded.
 */
function registerBody(ctx: Ctx, epilogue: FusedExpr): Stmt[] {
  const v = ctx.spec.variant, TX = v.tileN / v.perThreadN, TY = v.tileM / v.perThreadM;
  const PM = v.perThreadM, groups = ctx.vec4 ? v.perThreadN / 4 : v.perThreadN;
  const row = (i: number) => plus(k.add(k.mul(k.workgroupId(1), v.tileM), k.localId(1)), i * TY);
  const col = (j: number) => ctx.vec4
    ? k.add(k.mul(k.workgroupId(0), v.tileN), k.mul(plus(k.localId(0), j * TX), 4))
    : plus(k.add(k.mul(k.workgroupId(0), v.tileN), k.localId(0)), j * TX);
  const s: Stmt[] = [];
  const last = (x: Expr) => k.sub(x, 1);
  for (let i = 0; i < PM; i++) s.push(k.let_(`r${i}`, row(i)), k.let_(`rc${i}`, k.min(u(`r${i}`), last(ctx.m))));
  // vec4: n % 4 == 0, so a clamped group start min(c, n - 4) stays aligned and inside the row.
  for (let j = 0; j < groups; j++) s.push(k.let_(`c${j}`, col(j)), k.let_(`cc${j}`, k.min(u(`c${j}`), ctx.vec4 ? k.sub(ctx.n, 4) : last(ctx.n))));
  if (ctx.norm) {
    for (let i = 0; i < PM; i++) s.push(...rowSums(ctx, `${i}`, u(`rc${i}`), k.u(0), 1), ...rowStats(ctx, `${i}`, fv(`s1_${i}`), fv(`s2_${i}`)));
  }
  const accType = ctx.vec4 ? k.vec4f : k.f32;
  const acc = (i: number, j: number) => k.ref(`acc${i}_${j}`, accType);
  for (let i = 0; i < PM; i++) for (let j = 0; j < groups; j++) s.push(k.var_(`acc${i}_${j}`, ctx.vec4 ? k.splat(k.f(0)) : k.f(0)));
  const kk = u('kk'), inner: Stmt[] = [];
  if (ctx.norm) inner.push(k.let_('nw', k.load(ctx.norm.w, kk)), ...(ctx.norm.bias ? [k.let_('nb', k.load(ctx.norm.bias, kk))] : []));
  for (let i = 0; i < PM; i++) {
    const x = k.load(ctx.a, aIndex(ctx, u(`rc${i}`), kk));
    inner.push(k.let_(`a${i}`, ctx.norm ? normalize(ctx, x, fv(`mean_${i}`), fv(`rstd_${i}`), kk, fv('nw'), ctx.norm.bias ? fv('nb') : undefined) : x));
  }
  for (let j = 0; j < groups; j++) {
    const index = bIndex(ctx, kk, u(`cc${j}`));
    inner.push(k.let_(`b${j}`, k.load(ctx.b, ctx.vec4 ? k.div(index, 4) : index)));
  }
  for (let i = 0; i < PM; i++) for (let j = 0; j < groups; j++) {
    inner.push(k.assign(`acc${i}_${j}`, k.add(acc(i, j), k.mul(k.ref(`b${j}`, accType), fv(`a${i}`)))));
  }
  s.push(k.for_('kk', k.u(0), ctx.K, inner));
  for (let i = 0; i < PM; i++) for (let j = 0; j < groups; j++) {
    if (!ctx.vec4) s.push(storeOutput(ctx, epilogue, u(`r${i}`), u(`c${j}`), acc(i, j)));
    else for (const l of [0, 1, 2, 3] as const) s.push(storeOutput(ctx, epilogue, u(`r${i}`), plus(u(`c${j}`), l), k.lane(acc(i, j), l)));
  }
  return s;
}

/**
 * Shared tiles: per k step the workgroup stages A[tileM x tileK] (transposed, As[kq * tileM + r]) and
 * B[tileK x tileN] (Bs[kq * tileN + c]); flat thread e loads element e, e + T, ... so adjacent threads
 * read adjacent k of A and adjacent n of B. Out-of-range elements are staged as 0.
 */
function sharedBody(ctx: Ctx, epilogue: FusedExpr): Stmt[] {
  const v = ctx.spec.variant, TX = v.tileN / v.perThreadN, TY = v.tileM / v.perThreadM, T = TX * TY, TK = v.tileK!;
  const As = k.shared('As', k.f32, v.tileM * TK), Bs = k.shared('Bs', k.f32, TK * v.tileN);
  ctx.shared.push(As, Bs);
  const row0 = k.mul(k.workgroupId(1), v.tileM), col0 = k.mul(k.workgroupId(0), v.tileN);
  const s: Stmt[] = [k.let_('lid', k.add(k.mul(k.localId(1), TX), k.localId(0))), k.let_('row0', row0), k.let_('col0', col0)];
  const clampM = (x: Expr) => k.min(x, k.sub(ctx.m, 1)), clampN = (x: Expr) => k.min(x, k.sub(ctx.n, 1)), clampK = (x: Expr) => k.min(x, k.sub(ctx.K, 1));
  if (ctx.norm) s.push(...sharedRowStats(ctx, T));
  for (let i = 0; i < v.perThreadM; i++) for (let j = 0; j < v.perThreadN; j++) s.push(k.var_(`acc${i}_${j}`, k.f(0)));
  const stage: Stmt[] = [];
  for (let t = 0; t * T < v.tileM * TK; t++) {
    // A element e: r = e / TK, kq = e % TK.
    const e = plus(u('lid'), t * T), r = k.div(e, TK), kq = k.mod(e, TK);
    const gr = k.add(u('row0'), r), gk = k.add(u('k0'), kq);
    let x = k.load(ctx.a, aIndex(ctx, clampM(gr), clampK(gk)));
    if (ctx.norm) x = normalize(ctx, x, k.sharedLoad(ctx.shared.find((a) => a.name === 'row_mean')!, r), k.sharedLoad(ctx.shared.find((a) => a.name === 'row_rstd')!, r), clampK(gk));
    stage.push(k.sharedStore(As, k.add(k.mul(kq, v.tileM), r), k.select(k.and(k.lt(gr, ctx.m), k.lt(gk, ctx.K)), x, k.f(0))));
  }
  for (let t = 0; t * T < TK * v.tileN; t++) {
    // B element e: kq = e / tileN, c = e % tileN.
    const e = plus(u('lid'), t * T), kq = k.div(e, v.tileN), c = k.mod(e, v.tileN);
    const gk = k.add(u('k0'), kq), gc = k.add(u('col0'), c);
    const x = k.load(ctx.b, bIndex(ctx, clampK(gk), clampN(gc)));
    stage.push(k.sharedStore(Bs, e, k.select(k.and(k.lt(gk, ctx.K), k.lt(gc, ctx.n)), x, k.f(0))));
  }
  const inner: Stmt[] = [];
  for (let i = 0; i < v.perThreadM; i++) inner.push(k.let_(`a${i}`, k.sharedLoad(As, k.add(k.mul(u('kq'), v.tileM), plus(k.localId(1), i * TY)))));
  for (let j = 0; j < v.perThreadN; j++) inner.push(k.let_(`b${j}`, k.sharedLoad(Bs, k.add(k.mul(u('kq'), v.tileN), plus(k.localId(0), j * TX)))));
  for (let i = 0; i < v.perThreadM; i++) for (let j = 0; j < v.perThreadN; j++) {
    inner.push(k.assign(`acc${i}_${j}`, k.add(fv(`acc${i}_${j}`), k.mul(fv(`a${i}`), fv(`b${j}`)))));
  }
  s.push(k.for_('k0', k.u(0), ctx.K, [...stage, k.barrier(), k.for_('kq', k.u(0), TK, inner), k.barrier()], TK));
  for (let i = 0; i < v.perThreadM; i++) for (let j = 0; j < v.perThreadN; j++) {
    const r = k.add(u('row0'), plus(k.localId(1), i * TY)), c = k.add(u('col0'), plus(k.localId(0), j * TX));
    s.push(storeOutput(ctx, epilogue, r, c, fv(`acc${i}_${j}`)));
  }
  return s;
}

/**
 * The norm prologue of a shared tile: P = T / tileM threads per row take strided partial sums
 * (adjacent threads, adjacent k), combined through workgroup memory into row_mean / row_rstd.
 */
function sharedRowStats(ctx: Ctx, T: number): Stmt[] {
  const v = ctx.spec.variant, P = T / v.tileM;
  const part1 = k.shared('part_s1', k.f32, T), part2 = k.shared('part_s2', k.f32, T);
  const mean = k.shared('row_mean', k.f32, v.tileM), rstd = k.shared('row_rstd', k.f32, v.tileM);
  ctx.shared.push(part1, part2, mean, rstd);
  const rowLocal = k.div(u('lid'), P);
  const gr = k.min(k.add(u('row0'), rowLocal), k.sub(ctx.m, 1));
  const combine: Stmt[] = [k.var_('t1', k.f(0)), k.var_('t2', k.f(0)),
    k.for_('pp', k.u(0), P, [
      k.assign('t1', k.add(fv('t1'), k.sharedLoad(part1, k.add(u('lid'), u('pp'))))),
      k.assign('t2', k.add(fv('t2'), k.sharedLoad(part2, k.add(u('lid'), u('pp'))))),
    ]),
    ...rowStats(ctx, 'p', fv('t1'), fv('t2')),
    k.sharedStore(mean, rowLocal, fv('mean_p')), k.sharedStore(rstd, rowLocal, fv('rstd_p'))];
  return [
    ...rowSums(ctx, 'p', gr, k.mod(u('lid'), P), P),
    k.sharedStore(part1, u('lid'), fv('s1_p')), k.sharedStore(part2, u('lid'), fv('s2_p')),
    k.barrier(),
    k.if_(k.eq(k.mod(u('lid'), P), 0), combine),
    k.barrier(),
  ];
}
