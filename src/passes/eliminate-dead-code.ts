// eliminate-dead-code: drops ops whose results nothing reads (outputs count as readers).
import type { Pass } from './pass.js';

export const eliminateDeadCode: Pass = {
  info: { name: 'eliminate-dead-code', summary: 'remove ops whose results are never read' },
  run(g) {
    const live = new Set(g.outputs.map((o) => o.value.id));
    const kept = [];
    for (const op of [...g.ops].reverse()) {
      if (!live.has(op.result.id)) continue;
      kept.push(op);
      for (const v of op.operands) live.add(v.id);
    }
    return { ...g, ops: kept.reverse() };
  },
};
