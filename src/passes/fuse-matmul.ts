// fuse-matmul: each matmul becomes a fused_matmul that absorbs a LayerNorm/RMSNorm producing its
// left operand (when every reader of the norm is a matmul: the stats are recomputed per kernel,
// which costs a second read of A and saves a kernel and a round trip through memory) and the chain
// of single-use elementwise ops after it (bias, activation, residual add) as an epilogue.
import type { Op, Value } from '../ir/types.js';
import type { Pass } from './pass.js';
import { absorbEpilogue, bodyOf, consumers, FusedOperands, fusionContext, rebuild } from './fusion.js';

export const fuseMatmul: Pass = {
  info: { name: 'fuse-matmul', summary: 'matmul + norm prologue + elementwise epilogue -> fused_matmul' },
  run(g) {
    const ctx = fusionContext(g);
    const users = consumers(g);
    const replacements = new Map<Op, Op>();
    for (const op of g.ops) {
      if (op.op !== 'matmul' || ctx.absorbed.has(op)) continue;
      const [a, b] = op.operands as [Value, Value];
      // Prologue: a norm whose every reader is a matmul.
      const normOp = ctx.producer.get(a.id);
      const readers = users.get(a.id) ?? [];
      const absorbNorm = normOp && (normOp.op === 'layer_norm' || normOp.op === 'rms_norm') && !ctx.outputs.has(a.id) && readers.every((r) => r.op === 'matmul' && r.operands[0]!.id === a.id && r.operands[1]!.id !== a.id);
      const operands = new FusedOperands([absorbNorm ? normOp.operands[0]! : a, b]);
      const attrs: Op['attrs'] = { norm: 'none', eps: 0, norm_weight: -1, norm_bias: -1, epilogue: { kind: 'acc' } };
      if (absorbNorm) {
        ctx.absorbed.add(normOp);
        attrs.norm = normOp.op;
        attrs.eps = normOp.attrs.eps as number;
        attrs.norm_weight = operands.add(normOp.operands[1]!);
        if (normOp.op === 'layer_norm') attrs.norm_bias = operands.add(normOp.operands[2]!);
      }
      // Epilogue: single-use elementwise consumers that keep the matmul's type.
      const { last, epilogue } = absorbEpilogue(op, operands, ctx, users);
      attrs.epilogue = epilogue;
      ctx.absorbed.add(op);
      replacements.set(last, { op: 'fused_matmul', operands: operands.values, attrs, loc: op.loc, result: last.result });
    }
    const removed = new Set([...ctx.absorbed].filter((op) => !replacements.has(op)));
    return rebuild(g, replacements, removed);
  },
};
