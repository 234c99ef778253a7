// linear_attention(φq [B,H,T,F], φk [B,H,S,F], v [B,H,S,Dv]) -> [B,H,T,Dv] (src/ir/ops.ts): the
// running sums S = Σ φk_s v_sᵀ [F, Dv] and z = Σ φk_s [F] of Katharopoulos et al. 2020, in float64;
// causal: one scan over s ≤ t (the paper's recurrent form), otherwise summed over all keys first.
import type { Tensor } from '../tensor.js';
import type { Kernel } from './kernel.js';
import { allocResult } from './kernel.js';

export const linearAttentionKernel: Kernel = (op, args, ctx) => {
  const [q, k, v] = args as [Tensor, Tensor, Tensor];
  const [B, H, T, F] = q.shape as [number, number, number, number];
  const S = k.shape[2]!, Dv = v.shape[3]!;
  const causal = op.attrs.causal as boolean;
  const out = allocResult(op, ctx);
  const qd = q.data, kd = k.data, vd = v.data, od = out.data;
  const state = new Float64Array(F * Dv); // Σ φk vᵀ, row-major [F, Dv]
  const z = new Float64Array(F); // Σ φk
  const num = new Float64Array(Dv);
  const absorb = (kRow: number, vRow: number): void => {
    for (let f = 0; f < F; f++) {
      const kf = kd[kRow + f]!;
      z[f] += kf;
      for (let c = 0; c < Dv; c++) state[f * Dv + c] += kf * vd[vRow + c]!;
    }
  };
  for (let bh = 0; bh < B * H; bh++) {
    state.fill(0);
    z.fill(0);
    const kBase = bh * S * F, vBase = bh * S * Dv;
    if (!causal) for (let s = 0; s < S; s++) absorb(kBase + s * F, vBase + s * Dv);
    for (let t = 0; t < T; t++) {
      if (causal && t < S) absorb(kBase + t * F, vBase + t * Dv);
      const qRow = (bh * T + t) * F, oRow = (bh * T + t) * Dv;
      num.fill(0);
      let den = 0;
      for (let f = 0; f < F; f++) {
        const qf = qd[qRow + f]!;
        den += qf * z[f]!;
        for (let c = 0; c < Dv; c++) num[c] += qf * state[f * Dv + c]!;
      }
      // den = 0 only when no key is visible (or every feature vanished): the row stays 0, as attention's does
      if (den !== 0) for (let c = 0; c < Dv; c++) od[oRow + c] = num[c]! / den;
    }
  }
  return out;
};
