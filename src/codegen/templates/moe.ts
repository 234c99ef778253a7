// Mixture-of-experts routing kernels (REFERENCE.md §8.8) over contiguous router probabilities
// [tokens, E]. moe_route: one invocation per expert walks the tokens in order (first choices of every
// token, then second choices, as GShard) keeping a running count against the capacity, so each
// expert's prefix count is exact and no two invocations write the same element. moe_aux_loss: one
// workgroup; each invocation sums count_e · mass_e over its experts, then one invocation adds them up.
// Choices are recomputed per token (O(E) each): routing is O(top_k · tokens · E) per expert.
import type { Span } from '../../diagnostics/span.js';
import type { Dim } from '../../ir/dim.js';
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
