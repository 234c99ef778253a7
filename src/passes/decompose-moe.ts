// The primitive-op form of moe_route, moe_aux_loss, moe_choices and expert_matmul (REFERENCE.md §8.8), used by
// decompose-high-level for ONNX export. Dense: one-hot choices [N, E] and an exclusive prefix count
// over tokens as a strictly-lower-triangular [N, N] @ [N, E] product (quadratic in tokens; counts
// are integers below 2^24, so exact in f32). Ties go to the lower expert index, as in every backend.
import type { Dim } from '../ir/dim.js';
import { dimProduct } from '../ir/dim.js';
import { moeCapacityScale } from '../ir/ops.js';
import type { Attrs, Value } from '../ir/types.js';
import type { OpEmitter } from './op-emitter.js';

interface Choice {
  /** [N, E]: true at the chosen expert. */
  chosen: Value;
  /** [N, 1]: the chosen expert's probability. */
  prob: Value;
}

/** probs [..., E] as [N, E] tokens in row-major order, with N and E. */
function flatten(e: OpEmitter, probs: Value): { p: Value; tokens: Dim; experts: number } {
  const shape = probs.type.shape;
  const experts = shape[shape.length - 1] as number;
  const tokens = dimProduct(shape.slice(0, -1));
  return { p: e.emit('reshape', [probs], { shape: [tokens, experts] }), tokens, experts };
}

/**
 * The first expert of largest probability per token, among those not `excluded`: argmax as the max of
 * (E - index) over the maxima.
 */
function choose(e: OpEmitter, probs: Value, experts: number, excluded?: Value): Choice {
  const dt = probs.type.dtype;
  const reversed = e.emit('sub', [e.constant(experts, dt), e.emit('iota', [], { length: experts, dtype: dt })]); // [E]: E, E-1, ..., 1
  const p = excluded ? e.emit('where', [excluded, e.constant(-Infinity, dt), probs]) : probs;
  const prob = e.emit('reduce_max', [p], { axes: [-1], keepdims: true });
  let atMaxMask = e.emit('eq', [p, prob]);
  if (excluded) atMaxMask = e.emit('and', [atMaxMask, e.emit('not', [excluded])]);
  const atMax = e.emit('where', [atMaxMask, reversed, e.constant(0, dt)]);
  const first = e.emit('reduce_max', [atMax], { axes: [-1], keepdims: true });
  return { chosen: e.emit('eq', [reversed, first]), prob };
}

/** Combine weights [..., E]: the gate where a token is routed to an expert within capacity, else 0. */
export function moeRoute(e: OpEmitter, [probs]: Value[], attrs: Attrs): Value {
  const { p, tokens, experts } = flatten(e, probs!);
  const dt = p.type.dtype;
  const topK = attrs.top_k as number;
  const zero = e.constant(0, dt);
  const choices = [choose(e, p, experts)];
  if (topK === 2) choices.push(choose(e, p, experts, choices[0]!.chosen));

  const index = e.emit('iota', [], { length: tokens, dtype: 'i32' });
  const earlier = e.emit('cast', [e.emit('lt', [e.emit('reshape', [index], { shape: [1, tokens] }), e.emit('reshape', [index], { shape: [tokens, 1] })])], { to: dt }); // [N, N]: m < n
  const count = e.emit('add', [e.emit('reduce_max', [e.emit('cast', [index], { to: dt })], { axes: [0], keepdims: false }), e.constant(1, dt)]);
  // slot < ceil(N·s) ⟺ slot < N·s for an integer slot; N·s is the same f32 product as the kernels'
  const limit = e.emit('mul', [count, e.constant(moeCapacityScale(experts, topK, attrs.capacity as number), dt)]);

  let filled: Value | undefined; // [1, E]: assignments of the earlier choices, which come first (GShard)
  let kept: Value | undefined;
  for (const c of choices) {
    const oneHot = e.emit('cast', [c.chosen], { to: dt });
    let slot = e.emit('matmul', [earlier, oneHot]);
    if (filled) slot = e.emit('add', [slot, filled]);
    const keep = e.emit('and', [c.chosen, e.emit('lt', [slot, limit])]);
    kept = kept ? e.emit('or', [kept, keep]) : keep;
    filled = e.emit('reduce_sum', [oneHot], { axes: [0], keepdims: true });
  }
  const gates = topK === 1 ? p : e.emit('div', [p, e.emit('add', [choices[0]!.prob, choices[1]!.prob])]);
  const combine = e.emit('where', [kept!, gates, zero]);
  return e.emit('reshape', [combine], { shape: [...probs!.type.shape] });
}

/** E · Σ_i f_i · P_i: f_i the fraction of tokens whose first choice is i, P_i the mean probability of i. */
export function moeAuxLoss(e: OpEmitter, [probs]: Value[]): Value {
  const { p, experts } = flatten(e, probs!);
  const dt = p.type.dtype;
  const f = e.emit('reduce_mean', [e.emit('cast', [choose(e, p, experts).chosen], { to: dt })], { axes: [0], keepdims: false });
  const mass = e.emit('reduce_mean', [p], { axes: [0], keepdims: false });
  return e.emit('mul', [e.emit('reduce_sum', [e.emit('mul', [f, mass])], { axes: [0], keepdims: false }), e.constant(experts, dt)]);
}

/** The experts of nonzero weight in increasing order, -1 after them: the first as max(E - index) over the mask. */
export function moeChoices(e: OpEmitter, [combine]: Value[], attrs: Attrs): Value {
  const experts = combine!.type.shape[combine!.type.shape.length - 1] as number;
  const zero = e.constant(0, 'i32');
  const reversed = e.emit('sub', [e.constant(experts, 'i32'), e.emit('iota', [], { length: experts, dtype: 'i32' })]); // E, ..., 1
  let open = e.emit('ne', [combine!, e.constant(0, combine!.type.dtype)]);
  const picks: Value[] = [];
  for (let c = 0; c < (attrs.top_k as number); c++) {
    const best = e.emit('reduce_max', [e.emit('where', [open, reversed, zero])], { axes: [-1], keepdims: true }); // [..., 1]: 0 when none
    if (c + 1 < (attrs.top_k as number)) open = e.emit('and', [open, e.emit('ne', [reversed, best])]);
    picks.push(e.emit('where', [e.emit('gt', [best, zero]), e.emit('sub', [e.constant(experts, 'i32'), best]), e.constant(-1, 'i32')]));
  }
  return picks.length === 1 ? picks[0]! : e.emit('concat', picks, { axis: -1 });
}

/**
 * Every expert on every row, then each row's own: y_all [E, ..., R, dout] = x @ w, selected by a one-hot
 * of the row's expert ([..., k, E], all 0 for -1, which gives 0). E times the arithmetic of the kernels,
 * but memory E · rows · dout, where gathering each row's [din, dout] weights would need rows · din · dout.
 */
export function expertMatmul(e: OpEmitter, [x, w, experts, bias]: Value[]): Value {
  const dt = x!.type.dtype;
  const lead = experts!.type.shape.slice(0, -1), k = experts!.type.shape[experts!.type.shape.length - 1]!;
  const [count, din, dout] = w!.type.shape as [number, Dim, Dim];
  const xShape = x!.type.shape; // [..., R, din]
  const ones = xShape.slice(0, -1).map((): Dim => 1);
  const all = e.emit('matmul', [e.emit('reshape', [x!], { shape: [1, ...xShape] }), e.emit('reshape', [w!], { shape: [count, ...ones.slice(1), din, dout] })]); // [E, ..., R, dout]
  const rank = xShape.length + 1;
  const perm = [...Array(rank - 2).keys()].map((i) => i + 1).concat([0, rank - 1]); // [..., R, E, dout]
  const oneHot = e.emit('cast', [e.emit('eq', [e.emit('reshape', [experts!], { shape: [...lead, k, 1] }), e.emit('iota', [], { length: count, dtype: 'i32' })])], { to: dt }); // [..., k, E]
  const picked = e.emit('matmul', [e.emit('reshape', [oneHot], { shape: [...lead, k, 1, count] }), e.emit('transpose', [all], { perm })]); // [..., k, 1, dout]
  const y = e.emit('reshape', [picked], { shape: [...lead, k, dout] });
  return bias ? e.emit('add', [y, e.emit('matmul', [oneHot, bias])]) : y;
}
