// split-static: a step graph -> a prologue, run once per generation, and a per-token step. The
// prologue holds what depends on the other inputs but not on the per-token ones (T5's encoder and its
// cross-attention key/value projections); the step takes the prologue's results as inputs. Ops over
// parameters only stay with their readers (the kernel backends fold them at load time).
import type { Dim } from '../ir/dim.js';
import { dimSymbols } from '../ir/dim.js';
import type { MaskExpr } from '../ir/mask.js';
import { maskDims } from '../ir/mask.js';
import { OPS } from '../ir/ops.js';
import type { Graph, Input, Op, Output, Value } from '../ir/types.js';
import type { Pass } from './pass.js';

export interface SplitStaticOptions {
  /** Inputs that change every step: the tokens and the key/value caches. */
  dynamic: readonly string[];
}

export interface StaticSplit {
  /** Undefined when nothing is static (a decoder-only model). */
  prologue: Graph | undefined;
  step: Graph;
  /** Prologue outputs the step reads as inputs of the same name. */
  carried: string[];
  /** Model outputs that only the prologue computes (the step graph does not have them). */
  staticOutputs: string[];
}

export const splitStatic: Pass<SplitStaticOptions> = {
  info: { name: 'split-static', summary: 'move what does not depend on the per-token inputs into a prologue run once' },
  run: (graph, _ctx, options) => splitStaticGraph(graph, options).step,
};

/** Prefix of the names of values the prologue hands to the step. */
export const CARRIED_PREFIX = 'prologue.';

/** Dims an op's attributes mention (iota lengths and starts, reshape shapes, slice bounds, mask `dim` nodes). */
function attrDims(op: Op): Dim[] {
  const kinds = OPS.get(op.op)?.attrs ?? {};
  return Object.entries(op.attrs).flatMap(([name, value]): Dim[] => {
    switch (kinds[name]) {
      case 'dim': return [value as Dim];
      case 'dims': return value as Dim[];
      case 'mask': return maskDims(value as MaskExpr);
      default: return [];
    }
  });
}

export function splitStaticGraph(graph: Graph, options: SplitStaticOptions): StaticSplit {
  const dynamicInputs = graph.inputs.filter((i) => options.dynamic.includes(i.name));
  const staticInputs = graph.inputs.filter((i) => !options.dynamic.includes(i.name));
  // Symbols only the per-token inputs size (seq, past): whatever mentions them is per-token too.
  const staticSymbols = new Set(staticInputs.flatMap((i) => i.value.type.shape.flatMap(dimSymbols)));
  const stepSymbols = new Set(dynamicInputs.flatMap((i) => i.value.type.shape.flatMap(dimSymbols)).filter((s) => !staticSymbols.has(s)));
  const mentionsStep = (dims: readonly Dim[]) => dims.some((d) => dimSymbols(d).some((s) => stepSymbols.has(s)));

  type Kind = 'step' | 'static' | 'free';
  const kind = new Map<string, Kind>();
  for (const i of dynamicInputs) kind.set(i.value.id, 'step');
  for (const i of staticInputs) kind.set(i.value.id, 'static');
  const kindOf = (v: Value): Kind => kind.get(v.id) ?? 'free'; // params are free
  for (const op of graph.ops) {
    const kinds = op.operands.map(kindOf);
    const k: Kind = kinds.includes('step') || mentionsStep(op.result.type.shape) || mentionsStep(attrDims(op)) ? 'step' : kinds.includes('static') ? 'static' : 'free';
    kind.set(op.result.id, k);
  }
  const producers = new Map(graph.ops.map((op) => [op.result.id, op]));

  // Static values read by step ops or step-graph outputs are carried; static outputs go to the prologue.
  const carriedIds: string[] = [];
  const carry = (v: Value) => { if (kindOf(v) === 'static' && producers.has(v.id) && !carriedIds.includes(v.id)) carriedIds.push(v.id); };
  for (const op of graph.ops) if (kindOf(op.result) === 'step') op.operands.forEach(carry);
  const stepOutputs = graph.outputs.filter((o) => kindOf(o.value) !== 'static' || !producers.has(o.value.id));
  const staticOutputs = graph.outputs.filter((o) => !stepOutputs.includes(o));
  if (carriedIds.length === 0 && staticOutputs.length === 0) return { prologue: undefined, step: graph, carried: [], staticOutputs: [] };

  const names = new Set([...graph.inputs, ...graph.params].map((x) => x.value.id));
  const carriedName = new Map<string, string>();
  for (const id of carriedIds) {
    let name = `${CARRIED_PREFIX}${id.slice(1)}`;
    while (names.has(`%${name}`)) name += '_';
    names.add(`%${name}`);
    carriedName.set(id, name);
  }
  const loc = (id: string) => producers.get(id)!.loc;
  const prologueOutputs: Output[] = [
    ...carriedIds.map((id) => ({ name: carriedName.get(id)!, value: producers.get(id)!.result, loc: loc(id) })),
    ...staticOutputs,
  ];
  const prologue = pruned({ ...graph, name: `${graph.name}_prologue`, ops: graph.ops.filter((op) => kindOf(op.result) !== 'step'), outputs: prologueOutputs });

  const carriedInputs: Input[] = carriedIds.map((id) => {
    const name = carriedName.get(id)!;
    return { name, value: { id: `%${name}`, type: producers.get(id)!.result.type }, loc: loc(id) };
  });
  const rename = new Map(carriedInputs.map((input, i) => [carriedIds[i]!, input.value]));
  const mapValue = (v: Value) => rename.get(v.id) ?? v;
  const step = pruned({
    ...graph,
    inputs: [...graph.inputs, ...carriedInputs],
    ops: graph.ops.filter((op) => kindOf(op.result) !== 'static').map((op) => ({ ...op, operands: op.operands.map(mapValue) })),
    outputs: stepOutputs.map((o) => ({ ...o, value: mapValue(o.value) })),
  });
  return { prologue, step, carried: carriedIds.map((id) => carriedName.get(id)!), staticOutputs: staticOutputs.map((o) => o.name) };
}

/**
 * Drops ops no output needs, then the inputs and params nothing reads (a kernel session would upload
 * them), and the symbols no remaining input sizes.
 */
function pruned(g: Graph): Graph {
  const live = new Set(g.outputs.map((o) => o.value.id));
  const ops: Op[] = [];
  for (const op of [...g.ops].reverse()) {
    if (!live.has(op.result.id)) continue;
    ops.push(op);
    op.operands.forEach((v) => live.add(v.id));
  }
  const inputs = g.inputs.filter((i) => live.has(i.value.id));
  const symbols = new Set(inputs.flatMap((i) => i.value.type.shape.flatMap(dimSymbols)));
  return { ...g, symbols: g.symbols.filter((s) => symbols.has(s)), inputs, params: g.params.filter((p) => live.has(p.value.id)), ops: ops.reverse() };
}
