// fuse-rows: softmax / LayerNorm / RMSNorm over the last axis become a fused_row that absorbs the
// single-use elementwise ops (and embedding lookups) computing its input — BERT's embedding sum and
// its residual adds — and the single-use elementwise ops after it.
import type { Op } from '../ir/types.js';
import type { Pass } from './pass.js';
import { absorbEpilogue, bodyOf, consumers, FusedOperands, fusionContext, rebuild } from './fusion.js';

function isRowOp(op: Op): boolean {
  if (op.op === 'layer_norm' || op.op === 'rms_norm') return true;
  return op.op === 'softmax' && ((op.attrs.axis as number) === -1 || (op.attrs.axis as number) === op.result.type.shape.length - 1);
}

export const fuseRows: Pass = {
  info: { name: 'fuse-rows', summary: 'softmax/layer_norm/rms_norm + elementwise prologue and epilogue -> fused_row' },
  run(g) {
    const ctx = fusionContext(g);
    const users = consumers(g);
    const replacements = new Map<Op, Op>();
    for (const op of g.ops) {
      if (!isRowOp(op) || ctx.absorbed.has(op)) continue;
      const operands = new FusedOperands();
      const x = bodyOf(op.operands[0]!, operands, ctx);
      const weight = op.op === 'softmax' ? -1 : operands.add(op.operands[1]!);
      const bias = op.op === 'layer_norm' ? operands.add(op.operands[2]!) : -1;
      const { last, epilogue } = absorbEpilogue(op, operands, ctx, users);
      ctx.absorbed.add(op);
      const attrs = { kind: op.op, eps: op.op === 'softmax' ? 0 : (op.attrs.eps as number), weight, bias, x, epilogue };
      replacements.set(last, { op: 'fused_row', operands: operands.values, attrs, loc: op.loc, result: last.result });
    }
    const removed = new Set([...ctx.absorbed].filter((op) => !replacements.has(op)));
    return rebuild(g, replacements, removed);
  },
};
