// Mixture-of-experts routing (REFERENCE.md §8.8): moe_route's combine weights and moe_aux_loss, over
// router probabilities [..., E] whose leading axes are the tokens in row-major order. Computed in
// float64; ties go to the lower expert index.
import { moeCapacity } from '../../ir/ops.js';
import type { Kernel } from './kernel.js';
import { allocResult } from './kernel.js';

/** The expert of each token's first (and second) choice: the first index of the largest probability. */
function choices(p: ArrayLike<number>, tokens: number, experts: number, topK: number): Int32Array[] {
  const picked = Array.from({ length: topK }, () => new Int32Array(tokens));
  for (let n = 0; n < tokens; n++) {
    for (let c = 0; c < topK; c++) {
      let best = -1;
      for (let e = 0; e < experts; e++) {
        if (c === 1 && e === picked[0]![n]) continue;
        if (best < 0 || p[n * experts + e]! > p[n * experts + best]!) best = e;
      }
      picked[c]![n] = best;
    }
  }
  return picked;
}

/**
 * Gate of a kept assignment (Switch: the router probability; GShard: the top-2 probabilities divided by
 * their sum), placed in token order, first choices of every token before second choices, each expert
 * taking at most `capacity` tokens; a token over capacity gets 0 at that expert.
 */
export const moeRouteKernel: Kernel = (op, [probs], ctx) => {
  const topK = op.attrs.top_k as number;
  const experts = probs!.shape[probs!.shape.length - 1]!;
  const tokens = probs!.data.length / experts;
  const capacity = moeCapacity(tokens, experts, topK, op.attrs.capacity as number);
  const p = probs!.data;
  const picked = choices(p, tokens, experts, topK);
  const out = allocResult(op, ctx);
  const filled = new Int32Array(experts);
  for (let c = 0; c < topK; c++) {
    for (let n = 0; n < tokens; n++) {
      const e = picked[c]![n]!;
      if (filled[e]!++ >= capacity) continue; // dropped at this expert: the residual carries the token
      const first = p[n * experts + picked[0]![n]!]!;
      const gate = topK === 1 ? first : p[n * experts + e]! / (first + p[n * experts + picked[1]![n]!]!);
      out.data[n * experts + e] = gate;
    }
  }
  return out;
};

/** Switch's load-balancing loss E · Σ_i f_i · P_i: f_i the fraction of tokens whose top-1 is i, P_i the mean probability of i. */
export const moeAuxLossKernel: Kernel = (op, [probs], ctx) => {
  const experts = probs!.shape[probs!.shape.length - 1]!;
  const tokens = probs!.data.length / experts;
  const p = probs!.data;
  const [top] = choices(p, tokens, experts, 1);
  const count = new Float64Array(experts), mass = new Float64Array(experts);
  for (let n = 0; n < tokens; n++) {
    count[top![n]!]! += 1;
    for (let e = 0; e < experts; e++) mass[e]! += p[n * experts + e]!;
  }
  let sum = 0;
  for (let e = 0; e < experts; e++) sum += (count[e]! / tokens) * (mass[e]! / tokens);
  const out = allocResult(op, ctx);
  out.data[0] = experts * sum;
  return out;
};

/** The experts with a nonzero combine weight per token, in increasing order, padded with -1. */
export const moeChoicesKernel: Kernel = (op, [combine], ctx) => {
  const topK = op.attrs.top_k as number;
  const experts = combine!.shape[combine!.shape.length - 1]!;
  const out = allocResult(op, ctx);
  for (let n = 0; n < combine!.data.length / experts; n++) {
    let c = 0;
    for (let e = 0; e < experts && c < topK; e++) if (combine!.data[n * experts + e] !== 0) out.data[n * topK + c++] = e;
    for (; c < topK; c++) out.data[n * topK + c] = -1;
  }
  return out;
};

/** Row c of each token: x[R == 1 ? 0 : c] @ w[e] + bias[e] for its expert e, 0 where e < 0. Sums in float64. */
export const expertMatmulKernel: Kernel = (op, [x, w, idx, bias], ctx) => {
  const [, din, dout] = w!.shape as [number, number, number];
  const rows = x!.shape[x!.shape.length - 2]!, k = idx!.shape[idx!.shape.length - 1]!;
  const out = allocResult(op, ctx);
  const acc = new Float64Array(dout);
  for (let r = 0; r < idx!.data.length; r++) {
    const e = idx!.data[r]!;
    if (e < 0) continue;
    const xRow = (rows === 1 ? Math.floor(r / k) : r) * din;
    for (let j = 0; j < dout; j++) acc[j] = bias ? bias.data[e * dout + j]! : 0;
    for (let i = 0; i < din; i++) {
      const v = x!.data[xRow + i]!, wRow = (e * din + i) * dout;
      for (let j = 0; j < dout; j++) acc[j]! += v * w!.data[wRow + j]!;
    }
    for (let j = 0; j < dout; j++) out.data[r * dout + j] = acc[j]!;
  }
  return out;
};
