// attention(q [B,H,Tq,Dk], k [B,H,Tk,Dk], v [B,H,Tk,Dv], ...mask operands) -> [B,H,Tq,Dv], one query
// row at a time: scores of the visible keys (mask predicate evaluated per (b,h,q,k)), max-subtracted
// softmax over them (scores plus the optional bias expression), weighted sum of values. A row with no visible key is all zeros. All sums in float64.
import { PtmError, diag } from '../../diagnostics/index.js';
import type { MaskExpr, MaskVar } from '../../ir/mask.js';
import { evalMask, isTrue } from '../../ir/mask.js';
import type { Op } from '../../ir/types.js';
import type { Tensor } from '../tensor.js';
import { shapeText, strides } from '../tensor.js';
import type { Dim } from '../../ir/dim.js';
import type { Kernel } from './kernel.js';
import { allocResult, concreteDim } from './kernel.js';

/** `read(operand, indices)` for evalMask: bounds-checked element of op operand `operand` (bools as 0/1). */
function maskReader(op: Op, args: Tensor[]): (operand: number, indices: number[]) => number {
  const strideTable = args.map((t) => strides(t.shape));
  return (operand, indices) => {
    const t = args[operand];
    if (t === undefined || operand < 3) throw new PtmError(diag.internal_error(op.loc, `attention mask reads operand ${operand}, which is not a mask tensor`));
    if (indices.length !== t.shape.length) {
      throw new PtmError(diag.invalid_mask(op.loc, `the attention mask indexes ${op.operands[operand]!.id} ${shapeText(t.shape)} with ${indices.length} indices`));
    }
    let offset = 0;
    for (let i = 0; i < indices.length; i++) {
      const ix = indices[i]!;
      if (!(ix >= 0 && ix < t.shape[i]!)) {
        throw new PtmError(diag.invalid_mask(op.loc, `the attention mask reads ${op.operands[operand]!.id}[${indices.join(', ')}], outside its shape ${shapeText(t.shape)}`));
      }
      offset += ix * strideTable[operand]![i]!;
    }
    return t.data[offset]!;
  };
}

export const attentionKernel: Kernel = (op, args, ctx) => {
  const [q, k, v] = args as [Tensor, Tensor, Tensor];
  const [B, H, Tq, Dk] = q.shape as [number, number, number, number];
  const Tk = k.shape[2]!, Dv = v.shape[3]!;
  const scale = op.attrs.scale as number;
  const mask = op.attrs.mask as MaskExpr;
  const bias = op.attrs.bias as MaskExpr | undefined;
  const everyKey = isTrue(mask);
  const read = maskReader(op, args);
  const dim = (d: Dim): number => concreteDim(d, ctx, op);
  const vars: Record<MaskVar, number> = { b: 0, h: 0, q: 0, k: 0 };
  const out = allocResult(op, ctx);
  const qd = q.data, kd = k.data, vd = v.data, od = out.data;
  const scores = new Float64Array(Tk);
  const visible = new Uint8Array(Tk);
  const acc = new Float64Array(Dv);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kBase = (b * H + h) * Tk * Dk, vBase = (b * H + h) * Tk * Dv;
      for (let i = 0; i < Tq; i++) {
        const qRow = ((b * H + h) * Tq + i) * Dk;
        vars.b = b; vars.h = h; vars.q = i;
        let max = -Infinity, count = 0;
        for (let j = 0; j < Tk; j++) {
          vars.k = j;
          if (!everyKey && evalMask(mask, vars, read, dim) === 0) { visible[j] = 0; continue; }
          const kRow = kBase + j * Dk;
          let dot = 0;
          for (let c = 0; c < Dk; c++) dot += qd[qRow + c]! * kd[kRow + c]!;
          const s = bias ? scale * dot + evalMask(bias, vars, read, dim) : scale * dot;
          scores[j] = s;
          visible[j] = 1;
          count++;
          if (s > max || s !== s) max = s;
        }
        const oRow = ((b * H + h) * Tq + i) * Dv;
        if (count === 0) continue; // no visible key: the output row stays zero
        let sum = 0;
        for (let j = 0; j < Tk; j++) {
          if (!visible[j]) continue;
          const e = Math.exp(scores[j]! - max);
          scores[j] = e;
          sum += e;
        }
        acc.fill(0);
        for (let j = 0; j < Tk; j++) {
          if (!visible[j]) continue;
          const p = scores[j]! / sum, vRow = vBase + j * Dv;
          for (let c = 0; c < Dv; c++) acc[c] += p * vd[vRow + c]!;
        }
        for (let c = 0; c < Dv; c++) od[oRow + c] = acc[c]!;
      }
    }
  }
  return out;
};
