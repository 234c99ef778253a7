// Appending new ops to a graph being rewritten: fresh `%n` ids that collide with nothing in the
// graph, each op typed by the registry and carrying the location of the op it replaces.
import type { Span } from '../diagnostics/span.js';
import { inferType } from '../ir/ops.js';
import type { Attrs, DType, Graph, Op, Value } from '../ir/types.js';

/** Fresh value ids for one rewrite of `graph`, shared by all its emitters. */
export class IdSource {
  private readonly used: Set<string>;
  private next = 0;

  constructor(graph: Graph) {
    this.used = new Set([...graph.inputs, ...graph.params].map((x) => x.value.id).concat(graph.ops.map((o) => o.result.id)));
  }

  fresh(): string {
    while (this.used.has(`%${this.next}`)) this.next++;
    const id = `%${this.next++}`;
    this.used.add(id);
    return id;
  }
}

/** Appends ops to `ops` with fresh ids and `loc`; rank-0 constants are shared within one emitter. */
export class OpEmitter {
  private readonly constants = new Map<string, Value>();

  constructor(readonly ops: Op[], private readonly ids: IdSource, readonly loc: Span) {}

  emit(op: string, operands: Value[], attrs: Attrs = {}): Value {
    const result = { id: this.ids.fresh(), type: inferType(op, operands.map((o) => o.type), attrs) };
    this.ops.push({ op, result, operands, attrs, loc: this.loc });
    return result;
  }

  constant(value: number, dtype: DType): Value {
    const key = `${dtype}:${Object.is(value, -0) ? '-0' : value}`;
    let v = this.constants.get(key);
    if (!v) this.constants.set(key, (v = this.emit('constant', [], { value, dtype })));
    return v;
  }
}

/**
 * Rewrites a graph op by op. `expand(op, operands, ops, ids)` returns undefined to keep the op (with
 * its operands renamed), or appends ops to `ops` and returns the value they compute; that value must
 * be the last appended op's result, which then takes over the op's result id, so consumers and outputs
 * still refer to it.
 */
export function rewriteOps(graph: Graph, expand: (op: Op, operands: Value[], ops: Op[], ids: IdSource) => Value | undefined): Graph {
  const ids = new IdSource(graph);
  const ops: Op[] = [];
  const renamed = new Map<string, Value>();
  const use = (v: Value): Value => renamed.get(v.id) ?? v;
  for (const op of graph.ops) {
    const operands = op.operands.map(use);
    const value = expand(op, operands, ops, ids);
    if (value === undefined) {
      ops.push({ ...op, operands });
      continue;
    }
    const last = ops[ops.length - 1];
    if (!last || last.result !== value) throw new Error(`the rewrite of ${op.op} ${op.result.id} does not end in the value it returns`);
    last.result = { id: op.result.id, type: op.result.type };
    renamed.set(op.result.id, last.result);
  }
  return { ...graph, ops, outputs: graph.outputs.map((o) => ({ ...o, value: use(o.value) })) };
}
