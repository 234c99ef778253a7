// fold-iota-offset: `iota(n) + c` (c an integer constant) becomes `iota(n, start: c)`, so positions
// written `arange(seq) + 2` (RoBERTa, BART) are one gathered iota: fused into the embedding lookup
// and covered by the kernel backends' host check that positions stay inside the table.
import { dimAdd } from '../ir/dim.js';
import type { Dim } from '../ir/dim.js';
import type { Op, Value } from '../ir/types.js';
import type { Pass } from './pass.js';

export const foldIotaOffset: Pass = {
  info: { name: 'fold-iota-offset', summary: 'rewrite iota + integer constant as an iota with a start' },
  run(g) {
    const producer = new Map<string, Op>(g.ops.map((op) => [op.result.id, op]));
    const intConstant = (v: Value): number | undefined => {
      const op = producer.get(v.id);
      if (op?.op !== 'constant' || v.type.shape.length !== 0) return undefined;
      const value = op.attrs.value as number;
      return Number.isSafeInteger(value) ? value : undefined;
    };
    const ops = g.ops.map((op): Op => {
      if (op.op !== 'add' || (op.result.type.dtype !== 'i32' && op.result.type.dtype !== 'i64')) return op;
      for (const [a, b] of [[0, 1], [1, 0]] as const) {
        const iota = producer.get(op.operands[a]!.id);
        const offset = intConstant(op.operands[b]!);
        if (iota?.op !== 'iota' || offset === undefined || iota.attrs.dtype !== op.result.type.dtype) continue;
        const start = dimAdd((iota.attrs.start as Dim | undefined) ?? 0, offset);
        return { op: 'iota', result: op.result, operands: [], attrs: { length: iota.attrs.length as Dim, dtype: iota.attrs.dtype, start }, loc: op.loc };
      }
      return op;
    });
    return { ...g, ops };
  },
};
