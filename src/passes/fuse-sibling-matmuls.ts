// fuse-sibling-matmuls: matmuls that read the same input with weights of the same depth (an
// attention's q, k and v projections) become one matmul against the weights concatenated along
// their output axis, biases likewise; each original result becomes a slice (a free view when
// lowered). Weight concatenation touches parameters only, so it is folded once at load time.
import type { Op, Value } from '../ir/types.js';
import { inferType } from '../ir/ops.js';
import type { Pass } from './pass.js';
import { IdSource } from './op-emitter.js';
import { consumers, rebuild, useCounts } from './fusion.js';

/** A member: its matmul, its bias add (if any), and the value downstream ops read. */
interface Member { matmul: Op; biasAdd?: Op; bias?: Value; result: Value }

export const fuseSiblingMatmuls: Pass = {
  info: { name: 'fuse-sibling-matmuls', summary: 'merge matmuls sharing an input into one against concatenated weights' },
  run(g) {
    const params = new Set(g.params.map((p) => p.value.id));
    const users = consumers(g);
    const uses = useCounts(g);
    const outputs = new Set(g.outputs.map((o) => o.value.id));
    const groups = new Map<string, Member[]>();
    for (const op of g.ops) {
      if (op.op !== 'matmul') continue;
      const [a, w] = op.operands as [Value, Value];
      if (!params.has(w.id) || w.type.shape.length !== 2 || a.type.shape.length < 2) continue;
      const next = users.get(op.result.id) ?? [];
      const add = next.length === 1 && uses.get(op.result.id) === 1 && !outputs.has(op.result.id) ? next[0]! : undefined;
      const bias = add && add.op === 'add' && add.operands[0]!.id === op.result.id && params.has(add.operands[1]!.id) && add.operands[1]!.type.shape.length === 1 ? add.operands[1]! : undefined;
      const member: Member = bias ? { matmul: op, biasAdd: add!, bias, result: add!.result } : { matmul: op, result: op.result };
      const key = `${a.id}|${w.type.dtype}|${w.type.shape[0]}|${bias ? 'bias' : 'nobias'}`;
      groups.set(key, [...(groups.get(key) ?? []), member]);
    }
    const ids = new IdSource(g);
    const replacements = new Map<Op, Op>();
    const removed = new Set<Op>();
    for (const members of groups.values()) {
      if (members.length < 2) continue;
      const first = members[0]!.matmul;
      const [a] = first.operands as [Value];
      const loc = first.loc;
      const make = (op: string, operands: Value[], attrs: Op['attrs']): Op => ({ op, operands, attrs, loc, result: { id: ids.fresh(), type: inferType(op, operands.map((o) => o.type), attrs) } });
      const wcat = make('concat', members.map((m) => m.matmul.operands[1]!), { axis: 1 });
      const mm = make('matmul', [a, wcat.result], {});
      const made = [wcat, mm];
      let y = mm;
      if (members[0]!.bias) {
        const bcat = make('concat', members.map((m) => m.bias!), { axis: 0 });
        y = make('add', [mm.result, bcat.result], {});
        made.push(bcat, y);
      }
      const axis = y.result.type.shape.length - 1;
      let offset = 0;
      for (const m of members) {
        const width = m.matmul.operands[1]!.type.shape[1] as number;
        const attrs = { axis, start: offset, end: offset + width, step: 1 };
        made.push({ op: 'slice', operands: [y.result], attrs, loc: m.matmul.loc, result: m.result });
        offset += width;
        removed.add(m.matmul);
        if (m.biasAdd) removed.add(m.biasAdd);
      }
      // Everything lands where the first matmul was: its input is defined there, and every member
      // result is read only after its own (later) position.
      replacements.set(first, { op: '__group', operands: [], attrs: {}, loc, result: first.result, group: made } as Op & { group: Op[] });
      removed.delete(first);
    }
    const rebuilt = rebuild(g, replacements, removed);
    return { ...rebuilt, ops: rebuilt.ops.flatMap((op) => (op.op === '__group' ? (op as Op & { group: Op[] }).group : [op])) };
  },
};
