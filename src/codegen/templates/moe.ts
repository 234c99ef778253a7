// Mixture-of-experts routing kernels (REFERENCE.md §8.8) over contiguous router probabilities
// [tokens, E]. moe_route: one invocation per expert walks the tokens in order (first choices of every
// token, then second choices, as GShard) keeping a running count against the capacity, so each
// expert's prefix count is exact and no two invocations write the same element. moe_aux_loss: one
// workgroup; each invocation sums count_e · mass_e over its experts, then one invocation adds them up.
// Choices are recomputed per token (O(E) each): routing is O(top_k · tokens · E) per expert.
// moe_choices: one invocation per token lists its routed experts. expert_matmul: one invocation per
// output element of each (token, choice) row, reading that row's expert's weights (a plain dot
// product, untiled: the experts run on top_k rows per token instead of all E).
import type { Span } from '../../diagnostics/span.js';
import type { Dim } from '../../ir/dim.js';
import { dimMul } from '../../ir/dim.js';
import { moeCapacityScale } from '../../ir/ops.js';
import * as k from '../kernel-ir/build.js';
import type { BufferParam, Expr, Stmt } from '../kernel-ir/types.js';
import type { KernelInstance } from './instance.js';

const WORKGROUP = 64;

export interface MoeRouteSpec {
  experts: number;
  tokens: Dim;
  topK: 1 | 2;
  /** The capacity factor; slots per expert = ceil(tokens · fl32(capacity · top_k / E)). */
  capacity: number;
  locs: Span[];
}

export interface MoeAuxLossSpec {
  experts: number;
  tokens: Dim;
  locs: Span[];
}

/**
 * Statements leaving in `best{c}` / `p{c}` the expert and probability of choice c (0 or 1) of token `n`:
 * the first candidate, replaced by each later one that is strictly larger (so ties go to the lower
 * index, and any values, NaN included, choose as the CPU reference does), choice 1 skipping choice 0.
 * `best1` is declared only when `secondIndex` (an unused variable is an error under nvcc's -Werror).
 */
function chooseExperts(probs: BufferParam, row: Expr, experts: number, topK: number, secondIndex: boolean): Stmt[] {
  const stmts: Stmt[] = [];
  for (let c = 0; c < topK; c++) {
    const j = k.ref(`j${c}`, k.u32);
    const v = k.load(probs, k.add(row, j));
    const better = k.gt(v, k.ref(`p${c}`, k.f32));
    const index = c === 0 || secondIndex;
    // the first candidate: expert 0, or for choice 1 the first expert that is not choice 0
    const first = c === 0 ? k.u(0) : k.select(k.eq(k.ref('best0', k.u32), k.u(0)), k.u(1), k.u(0));
    stmts.push(
      k.let_(`first${c}`, first),
      ...(index ? [k.var_(`best${c}`, k.ref(`first${c}`, k.u32))] : []),
      k.var_(`p${c}`, k.load(probs, k.add(row, k.ref(`first${c}`, k.u32)))),
      k.for_(`j${c}`, k.add(k.ref(`first${c}`, k.u32), 1), experts, [
        k.if_(c === 0 ? better : k.and(k.ne(j, k.ref('best0', k.u32)), better), [...(index ? [k.assign(`best${c}`, j)] : []), k.assign(`p${c}`, v)]),
      ]),
    );
  }
  return stmts;
}

/** moe_route: probs [tokens, E] -> combine weights [tokens, E] (gate where routed within capacity, else 0). */
export function moeRouteKernel(spec: MoeRouteSpec): KernelInstance {
  const { experts, topK } = spec;
  const probs = k.buffer('probs', k.f32, 'read');
  const out = k.buffer('out', k.f32, 'read_write');
  const tokens = k.uniform('tokens');
  const n = k.ref('n', k.u32), e = k.ref('e', k.u32);
  const row = k.mul(n, experts);
  const filled = k.ref('filled', k.u32);
  const perChoice = (c: number): Stmt => {
    const gate = topK === 1 ? k.ref('p0', k.f32) : k.div(k.ref(`p${c}`, k.f32), k.add(k.ref('p0', k.f32), k.ref('p1', k.f32)));
    return k.for_('n', k.u(0), k.param(tokens), [
      ...chooseExperts(probs, row, experts, topK, c === 1),
      k.if_(k.eq(k.ref(`best${c}`, k.u32), e), [
        k.if_(k.lt(filled, k.ref('slots', k.u32)), [k.store(out, k.add(row, e), gate)]),
        k.assign('filled', k.add(filled, 1)),
      ]),
    ]);
  };
  const body: Stmt[] = [
    k.let_('e', k.globalId(0)),
    k.if_(k.lt(e, experts), [
      k.for_('n', k.u(0), k.param(tokens), [k.store(out, k.add(row, e), k.f(0))]),
      // slots = ceil(tokens · s), the f32 product every backend computes (ops.ts moeCapacity)
      k.let_('slots', k.toU32(k.ceil(k.mul(k.toF32(k.param(tokens)), k.f(moeCapacityScale(experts, topK, spec.capacity)))))),
      k.var_('filled', k.u(0)),
      ...[...Array(topK).keys()].map(perChoice),
    ]),
  ];
  const kernel = {
    name: `moe_route_top${topK}_e${experts}`,
    workgroupSize: [WORKGROUP, 1, 1] as [number, number, number],
    buffers: [probs, out],
    params: [tokens],
    shared: [],
    body,
    grid: [k.u(Math.ceil(experts / WORKGROUP)), k.u(1), k.u(1)] as [Expr, Expr, Expr],
    locs: spec.locs,
  };
  return { kernel, bind: [{ kind: 'input', index: 0 }, { kind: 'output', index: 0 }], params: { tokens: spec.tokens } };
}

/** moe_aux_loss: probs [tokens, E] -> [1] = E · Σ_e (count_e / N) · (mass_e / N). */
export function moeAuxLossKernel(spec: MoeAuxLossSpec): KernelInstance {
  const { experts } = spec;
  const probs = k.buffer('probs', k.f32, 'read');
  const out = k.buffer('out', k.f32, 'read_write');
  const tokens = k.uniform('tokens');
  const part = k.shared('part', k.f32, WORKGROUP);
  const n = k.ref('n', k.u32), e = k.ref('e', k.u32), lid = k.ref('lid', k.u32);
  const row = k.mul(n, experts);
  const f = (name: string) => k.ref(name, k.f32);
  const body: Stmt[] = [
    k.let_('lid', k.localId(0)),
    k.var_('partial', k.f(0)),
    k.for_('e', lid, experts, [
      k.var_('count', k.f(0)),
      k.var_('mass', k.f(0)),
      k.for_('n', k.u(0), k.param(tokens), [
        ...chooseExperts(probs, row, experts, 1, false),
        k.if_(k.eq(k.ref('best0', k.u32), e), [k.assign('count', k.add(f('count'), k.f(1)))]),
        k.assign('mass', k.add(f('mass'), k.load(probs, k.add(row, e)))),
      ]),
      k.assign('partial', k.add(f('partial'), k.mul(f('count'), f('mass')))),
    ], WORKGROUP),
    k.sharedStore(part, lid, f('partial')),
    k.barrier(),
    k.if_(k.eq(lid, k.u(0)), [
      k.var_('sum', k.f(0)),
      k.for_('i', k.u(0), WORKGROUP, [k.assign('sum', k.add(f('sum'), k.sharedLoad(part, k.ref('i', k.u32))))]),
      k.let_('count_f', k.toF32(k.param(tokens))),
      k.store(out, k.u(0), k.div(k.mul(f('sum'), k.f(experts)), k.mul(f('count_f'), f('count_f')))),
    ]),
  ];
  const kernel = {
    name: `moe_aux_loss_e${experts}`,
    workgroupSize: [WORKGROUP, 1, 1] as [number, number, number],
    buffers: [probs, out],
    params: [tokens],
    shared: [part],
    body,
    grid: [k.u(1), k.u(1), k.u(1)] as [Expr, Expr, Expr],
    locs: spec.locs,
  };
  return { kernel, bind: [{ kind: 'input', index: 0 }, { kind: 'output', index: 0 }], params: { tokens: spec.tokens } };
}

export interface MoeChoicesSpec {
  experts: number;
  tokens: Dim;
  topK: number;
  locs: Span[];
}

/** moe_choices: combine [tokens, E] -> i32 [tokens, top_k], the experts of nonzero weight then -1. */
export function moeChoicesKernel(spec: MoeChoicesSpec): KernelInstance {
  const { experts, topK } = spec;
  const combine = k.buffer('combine', k.f32, 'read');
  const out = k.buffer('out', k.i32, 'read_write');
  const tokens = k.uniform('tokens');
  const n = k.ref('n', k.u32), c = k.ref('c', k.u32), e = k.ref('e', k.u32);
  const body: Stmt[] = [
    k.let_('n', k.globalId(0)),
    k.if_(k.lt(n, k.param(tokens)), [
      k.var_('c', k.u(0)),
      k.for_('e', k.u(0), experts, [
        k.if_(k.and(k.lt(c, topK), k.ne(k.load(combine, k.add(k.mul(n, experts), e)), k.f(0))), [
          k.store(out, k.add(k.mul(n, topK), c), k.toI32(e)),
          k.assign('c', k.add(c, 1)),
        ]),
      ]),
      k.for_('rest', c, topK, [k.store(out, k.add(k.mul(n, topK), k.ref('rest', k.u32)), k.i(-1))]),
    ]),
  ];
  const kernel = {
    name: `moe_choices_top${topK}_e${experts}`,
    workgroupSize: [WORKGROUP, 1, 1] as [number, number, number],
    buffers: [combine, out],
    params: [tokens],
    shared: [],
    body,
    grid: [k.ceilDiv(k.param(tokens), WORKGROUP), k.u(1), k.u(1)] as [Expr, Expr, Expr],
    locs: spec.locs,
  };
  return { kernel, bind: [{ kind: 'input', index: 0 }, { kind: 'output', index: 0 }], params: { tokens: spec.tokens } };
}

export interface ExpertMatmulSpec {
  /** Rows of the result: tokens × k. */
  rows: Dim;
  k: number;
  /** 1: every choice of a token reads the token's x row; k: each choice reads its own. */
  xRows: 1 | number;
  din: number;
  dout: number;
  bias: boolean;
  locs: Span[];
}

const GROUPS_X = 65535;

/** expert_matmul: out[r, j] = Σ_i x[row(r), i] · w[e, i, j] + bias[e, j] for e = experts[r] >= 0, else 0. */
export function expertMatmulKernel(spec: ExpertMatmulSpec): KernelInstance {
  const { din, dout } = spec;
  const x = k.buffer('x', k.f32, 'read');
  const w = k.buffer('w', k.f32, 'read');
  const experts = k.buffer('experts', k.i32, 'read');
  const bias = spec.bias ? k.buffer('bias', k.f32, 'read') : undefined;
  const out = k.buffer('out', k.f32, 'read_write');
  const count = k.uniform('count');
  const linear = k.add(k.mul(k.workgroupId(1), GROUPS_X * WORKGROUP), k.add(k.mul(k.workgroupId(0), WORKGROUP), k.localId(0)));
  const at = k.ref('at', k.u32), r = k.ref('r', k.u32), j = k.ref('j', k.u32), e = k.ref('e', k.i32), i = k.ref('i', k.u32);
  const eu = k.toU32(e);
  const xRow = spec.xRows === 1 ? k.div(r, spec.k) : r;
  const body: Stmt[] = [
    k.let_('at', linear),
    k.if_(k.lt(at, k.param(count)), [
      k.let_('r', k.div(at, dout)),
      k.let_('j', k.mod(at, dout)),
      k.let_('e', k.load(experts, r)),
      k.var_('acc', k.f(0)),
      k.if_(k.ge(e, k.i(0)), [
        ...(bias ? [k.assign('acc', k.load(bias, k.add(k.mul(eu, dout), j)))] : []),
        k.let_('x_base', k.mul(xRow, din)),
        k.let_('w_base', k.add(k.mul(k.mul(eu, din), dout), j)),
        k.for_('i', k.u(0), din, [
          k.assign('acc', k.fma(k.load(x, k.add(k.ref('x_base', k.u32), i)), k.load(w, k.add(k.ref('w_base', k.u32), k.mul(i, dout))), k.ref('acc', k.f32))),
        ]),
      ]),
      k.store(out, at, k.ref('acc', k.f32)),
    ]),
  ];
  const groups = k.ceilDiv(k.param(count), WORKGROUP);
  const kernel = {
    name: `expert_matmul_${din}x${dout}${spec.xRows === 1 ? '_shared_x' : ''}${spec.bias ? '_bias' : ''}`,
    workgroupSize: [WORKGROUP, 1, 1] as [number, number, number],
    buffers: [x, w, experts, ...(bias ? [bias] : []), out],
    params: [count],
    shared: [],
    body,
    grid: [k.min(groups, GROUPS_X), k.ceilDiv(groups, GROUPS_X), k.u(1)] as [Expr, Expr, Expr],
    locs: spec.locs,
  };
  const bind = [0, 1, 2, ...(bias ? [3] : [])].map((index) => ({ kind: 'input' as const, index }));
  return { kernel, bind: [...bind, { kind: 'output', index: 0 }], params: { count: dimMul(spec.rows, dout) } };
}
