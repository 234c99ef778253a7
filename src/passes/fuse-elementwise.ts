// fuse-elementwise: the remaining elementwise ops and embedding lookups become fused_elementwise
// kernels. A value read once by another elementwise op is computed inside that op's kernel; every
// other value (read twice, an output, read by a matmul/attention/...) roots a kernel of its own.
import type { FusedExpr } from '../ir/fused.js';
import type { Op } from '../ir/types.js';
import type { Pass } from './pass.js';
import { bodyOf, consumers, FusedOperands, fusionContext, isElementwise, isFusableGather, rebuild } from './fusion.js';

export const fuseElementwise: Pass = {
  info: { name: 'fuse-elementwise', summary: 'trees of elementwise ops and embedding gathers -> fused_elementwise' },
  run(g) {
    const ctx = fusionContext(g);
    const users = consumers(g);
    const fusable = (op: Op) => isElementwise(op) || isFusableGather(op);
    const isRoot = (op: Op): boolean => {
      const readers = users.get(op.result.id) ?? [];
      const inlined = ctx.uses.get(op.result.id) === 1 && !ctx.outputs.has(op.result.id) && readers.length === 1 && isElementwise(readers[0]!);
      return !inlined;
    };
    const replacements = new Map<Op, Op>();
    // Roots in reverse order, so a root sees its producers before an earlier root could claim them.
    for (const op of [...g.ops].reverse()) {
      if (!fusable(op) || ctx.absorbed.has(op) || !isRoot(op)) continue;
      const operands = new FusedOperands();
      let expr: FusedExpr;
      if (isFusableGather(op)) {
        // The root itself: a lookup with nothing around it.
        const [table, ids] = op.operands as [Op['result'], Op['result']];
        expr = { kind: 'gather', tables: [operands.add(table)], rowsPerChunk: table.type.shape[0] as number, ids: { kind: 'input', index: operands.add(ids) }, shape: [...op.result.type.shape] };
      } else {
        const args = op.operands.map((v) => bodyOf(v, operands, ctx));
        expr = op.op === 'cast' ? { kind: 'op', op: 'cast', args, to: op.attrs.to as 'f32' } : { kind: 'op', op: op.op, args };
      }
      ctx.absorbed.add(op);
      replacements.set(op, { op: 'fused_elementwise', operands: operands.values, attrs: { expr }, loc: op.loc, result: op.result });
    }
    const removed = new Set([...ctx.absorbed].filter((op) => !replacements.has(op)));
    return rebuild(g, replacements, removed);
  },
};
