// Graphviz DOT rendering of a graph (`ptm graph --format dot`): ops as boxes, inputs and outputs as
// ellipses; parameters are folded into the op that uses them to keep big models readable.
import { shapeToString } from './dim.js';
import { printMask } from './mask.js';
import type { Graph } from './types.js';

const quote = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

export function printDot(g: Graph): string {
  const lines = [`digraph ${quote(g.name)} {`, '  rankdir=TB;', '  node [fontname="Helvetica", fontsize=10];'];
  const params = new Map(g.params.map((p) => [p.value.id, p.name]));
  const node = new Map<string, string>();
  g.inputs.forEach((input, i) => {
    node.set(input.value.id, `in${i}`);
    lines.push(`  in${i} [shape=ellipse, label=${quote(`${input.name}\n${input.value.type.dtype}${shapeToString(input.value.type.shape)}`)}];`);
  });
  g.ops.forEach((op, i) => {
    const id = `op${i}`;
    node.set(op.result.id, id);
    const weights = op.operands.filter((o) => params.has(o.id)).map((o) => params.get(o.id)!);
    const extra = op.op === 'attention' ? `\n${printMask(op.attrs.mask as never, (k) => op.operands[k]?.id ?? `$${k}`)}` : '';
    const label = `${op.op}${extra}${weights.length ? `\n${weights.join('\n')}` : ''}\n${op.result.type.dtype}${shapeToString(op.result.type.shape)}`;
    lines.push(`  ${id} [shape=box, style=rounded, label=${quote(label)}];`);
    for (const o of op.operands) {
      const from = node.get(o.id);
      if (from) lines.push(`  ${from} -> ${id};`);
    }
  });
  g.outputs.forEach((out, i) => {
    lines.push(`  out${i} [shape=ellipse, style=bold, label=${quote(out.name)}];`);
    const from = node.get(out.value.id);
    if (from) lines.push(`  ${from} -> out${i};`);
  });
  lines.push('}');
  return lines.join('\n') + '\n';
}
