// Linear attention template (the `linear_attention` op, Katharopoulos et al. 2020): one workgroup per
// (batch, head, block of JB value columns) keeps the running state S = Σ φk vᵀ [F, JB] and z = Σ φk [F]
// in workgroup memory. Causal: the sequence in chunks of CHUNK rows; a chunk's rows read the state of
// the keys before it plus their own chunk's keys directly (φq·φk, at most CHUNK per row), then the
// chunk's keys join the state (two barriers per chunk). Full: every key absorbed, then all rows written
// in parallel. Work is O(T · F · Dv · (1 + CHUNK)) per (batch, head); no [T, T] matrix exists.
import type { Span } from '../../diagnostics/span.js';
import { PtmError, diag } from '../../diagnostics/index.js';
import type { Dim } from '../../ir/dim.js';
import type { BufferParam, Expr, Stmt } from '../kernel-ir/types.js';
import * as k from '../kernel-ir/build.js';
import { LaunchParams } from './indexing.js';
import type { BufferBind, KernelInstance, StorageType, Strided } from './instance.js';

/** Threads per workgroup. */
const WORKGROUP = 64;
/** Rows per causal chunk. */
const CHUNK = 16;
/** Workgroup memory for S and z, in floats: 16 KiB, WebGPU's guaranteed minimum. */
const SHARED_FLOATS = 4096;

export interface LinearAttentionSpec {
  batch: Dim;
  heads: Dim;
  tq: Dim;
  tk: Dim;
  /** Feature size F of φq and φk (static: it sizes the state). */
  features: number;
  dv: number;
  causal: boolean;
  inputs: { storage: StorageType; shape: Dim[] }[];
  /** Strides for [b, h, t, c] of φq, φk, v and the output. */
  q: { input: number; layout: Strided };
  k: { input: number; layout: Strided };
  v: { input: number; layout: Strided };
  out: Strided;
  locs: Span[];
}

const u = (name: string) => k.ref(name, k.u32);
const fv = (name: string) => k.ref(name, k.f32);

/** Value columns per workgroup: as many as S [F, JB] and z [F] leave room for. */
export function linearAttentionColumns(features: number, dv: number): number {
  const most = Math.min(dv, Math.floor((SHARED_FLOATS - features) / features));
  return most < 1 ? 0 : Math.ceil(dv / Math.ceil(dv / most)); // even blocks: 64 columns as 2 x 32, not 63 + 1
}

export function linearAttentionKernel(spec: LinearAttentionSpec): KernelInstance {
  const F = spec.features;
  const JB = linearAttentionColumns(F, spec.dv);
  if (JB < 1) {
    throw new PtmError(diag.unsupported(spec.locs[0]!, `linear attention with ${F} features on the kernel backends (the running state of at most ${Math.floor(SHARED_FLOATS / 2)} features fits in 16 KiB of workgroup memory)`));
  }
  const p = new LaunchParams();
  const qb = k.buffer('q', k.f32), kb = k.buffer('k', k.f32), vb = k.buffer('v', k.f32), ob = k.buffer('out', k.f32, 'read_write');
  const S = k.shared('state', k.f32, F * JB), Z = k.shared('z', k.f32, F);
  const tq = p.add('tq', spec.tq), tk = p.add('tk', spec.tk);
  const term = (coord: Expr, stride: Dim, name: string): Expr | undefined => (stride === 0 ? undefined : stride === 1 ? coord : k.mul(coord, p.add(name, stride)));
  const sum = (xs: (Expr | undefined)[]): Expr => xs.filter((x): x is Expr => x !== undefined).reduce((a, b) => k.add(a, b), k.u(0));
  const base = (name: string, l: Strided): Stmt => k.let_(`${name}_base`, sum([
    l.offset === 0 ? undefined : p.add(`${name}_off`, l.offset), term(u('bi'), l.strides[0]!, `${name}_s0`), term(u('hi'), l.strides[1]!, `${name}_s1`),
  ]));
  /** Element [t, c] of q/k/v/out within this (b, h). */
  const at = (name: string, l: Strided, t: Expr, c: Expr): Expr => sum([u(`${name}_base`), term(t, l.strides[2]!, `${name}_s2`), term(c, l.strides[3]!, `${name}_s3`)]);
  const each = (name: string, count: number, body: (e: Expr) => Stmt[]): Stmt => k.for_(name, k.localId(0), count, body(u(name)), WORKGROUP);

  // For keys s in [from, to): S[i * JB + jj] += φk[s, i] · v[s, j0 + jj]; z[i] += φk[s, i] (each entry one thread's)
  const absorb = (from: Expr, to: Expr): Stmt[] => [
    each('e', F * JB, (e) => [
      k.let_('ai', k.div(e, JB)), k.let_('aj', k.add(u('j0'), k.mod(e, JB))),
      k.if_(k.lt(u('aj'), spec.dv), [
        k.var_('sum', k.sharedLoad(S, e)),
        k.for_('s', from, to, [k.assign('sum', k.fma(k.load(kb, at('k', spec.k.layout, u('s'), u('ai'))), k.load(vb, at('v', spec.v.layout, u('s'), u('aj'))), fv('sum')))]),
        k.sharedStore(S, e, fv('sum')),
      ]),
    ]),
    each('i', F, (i) => [
      k.var_('zsum', k.sharedLoad(Z, i)),
      k.for_('s', from, to, [k.assign('zsum', k.add(fv('zsum'), k.load(kb, at('k', spec.k.layout, u('s'), i))))]),
      k.sharedStore(Z, i, fv('zsum')),
    ]),
  ];
  // out[t, j0 + jj] = (φq_t · S[:, jj] + Σ_{s in own} (φq_t · φk_s) v[s, j]) / (φq_t · z + Σ_{s in own} φq_t · φk_s),
  // 0 when the denominator is 0 (no visible key). `own` are the causal chunk's keys up to t, read directly.
  const emitRow = (t: Expr, jj: Expr, own?: [Expr, Expr]): Stmt[] => [
    k.var_('num', k.f(0)), k.var_('den', k.f(0)),
    k.for_('f', k.u(0), F, [
      k.let_('qf', k.load(qb, at('q', spec.q.layout, t, u('f')))),
      k.assign('num', k.fma(fv('qf'), k.sharedLoad(S, k.add(k.mul(u('f'), JB), jj)), fv('num'))),
      k.assign('den', k.fma(fv('qf'), k.sharedLoad(Z, u('f')), fv('den'))),
    ]),
    ...(own ? [k.for_('s', own[0], own[1], [
      k.var_('a', k.f(0)),
      k.for_('f', k.u(0), F, [k.assign('a', k.fma(k.load(qb, at('q', spec.q.layout, t, u('f'))), k.load(kb, at('k', spec.k.layout, u('s'), u('f'))), fv('a')))]),
      k.assign('num', k.fma(fv('a'), k.load(vb, at('v', spec.v.layout, u('s'), k.add(u('j0'), jj))), fv('num'))),
      k.assign('den', k.add(fv('den'), fv('a'))),
    ])] : []),
    k.store(ob, at('out', spec.out, t, k.add(u('j0'), jj)), k.select(k.ne(fv('den'), k.f(0)), k.div(fv('num'), fv('den')), k.f(0))),
  ];

  const body: Stmt[] = [
    k.let_('bi', k.workgroupId(2)), k.let_('hi', k.workgroupId(1)), k.let_('j0', k.mul(k.workgroupId(0), JB)),
    base('q', spec.q.layout), base('k', spec.k.layout), base('v', spec.v.layout), base('out', spec.out),
    each('e', F * JB, (e) => [k.sharedStore(S, e, k.f(0))]),
    each('i', F, (i) => [k.sharedStore(Z, i, k.f(0))]),
    k.barrier(),
  ];
  if (spec.causal) {
    body.push(k.comment(`chunks of ${CHUNK} rows: write them from the state of earlier keys and their own keys, then absorb those`), k.for_('c0', k.u(0), tq, [
      k.let_('c1', k.min(k.add(u('c0'), CHUNK), tk)),
      k.for_('p', k.localId(0), CHUNK * JB, [
        k.let_('t', k.add(u('c0'), k.div(u('p'), JB))), k.let_('jj', k.mod(u('p'), JB)),
        k.if_(k.and(k.lt(u('t'), tq), k.lt(k.add(u('j0'), u('jj')), spec.dv)), emitRow(u('t'), u('jj'), [u('c0'), k.min(k.add(u('t'), 1), tk)])),
      ], WORKGROUP),
      k.barrier(), // the chunk's readers of S and z are done
      k.if_(k.lt(u('c0'), tk), absorb(u('c0'), u('c1'))),
      k.barrier(),
    ], CHUNK));
  } else {
    body.push(
      k.comment('absorb every key, then write all rows'),
      ...absorb(k.u(0), tk),
      k.barrier(),
      k.for_('r', k.localId(0), k.mul(tq, JB), [
        k.let_('rt', k.div(u('r'), JB)), k.let_('rj', k.mod(u('r'), JB)),
        k.if_(k.lt(k.add(u('j0'), u('rj')), spec.dv), emitRow(u('rt'), u('rj'))),
      ], WORKGROUP),
    );
  }
  const buffers: BufferParam[] = [qb, kb, vb, ob];
  const bind: BufferBind[] = [
    { kind: 'input', index: spec.q.input }, { kind: 'input', index: spec.k.input }, { kind: 'input', index: spec.v.input }, { kind: 'output', index: 0 },
  ];
  return {
    kernel: {
      name: `linear_attention_${spec.causal ? `causal_c${CHUNK}` : 'full'}_f${F}_j${JB}`,
      workgroupSize: [WORKGROUP, 1, 1], buffers, params: p.uniforms, shared: [S, Z], body,
      grid: [k.u(Math.ceil(spec.dv / JB)), p.add('heads', spec.heads), p.add('batch', spec.batch)],
      locs: spec.locs,
    },
    bind,
    params: p.values,
  };
}
