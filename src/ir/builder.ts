// GraphBuilder: appends inputs, parameters and ops to a graph, inferring each result type.
// Used by elaboration, passes and tests; ids are `%<name>` for inputs/params and `%<n>` for ops.
import type { Span } from '../diagnostics/span.js';
import { noSpan } from '../diagnostics/span.js';
import { inferType } from './ops.js';
import type { Attrs, Graph, InitSpec, Input, Op, Output, Param, TensorType, Value } from './types.js';

export class GraphBuilder {
  private readonly symbols: string[] = [];
  private readonly inputs: Input[] = [];
  private readonly params: Param[] = [];
  private readonly ops: Op[] = [];
  private readonly outputs: Output[] = [];
  private readonly ids = new Set<string>();
  private next = 0;

  constructor(readonly name: string) {}

  symbol(name: string): void {
    if (!this.symbols.includes(name)) this.symbols.push(name);
  }

  input(name: string, type: TensorType, loc: Span = noSpan()): Value {
    const value = { id: this.claim(`%${name}`), type };
    this.inputs.push({ value, name, loc });
    return value;
  }

  param(name: string, type: TensorType, init: InitSpec, loc: Span = noSpan()): Value {
    const value = { id: this.claim(`%${name}`), type };
    this.params.push({ value, name, init, loc });
    return value;
  }

  /** Appends an op; throws ShapeError (from ops.ts) when the operands do not fit. */
  op(op: string, operands: Value[], attrs: Attrs = {}, loc: Span = noSpan()): Value {
    const type = inferType(op, operands.map((o) => o.type), attrs);
    const result = { id: this.freshId(), type };
    this.ops.push({ op, result, operands, attrs, loc });
    return result;
  }

  output(name: string, value: Value, loc: Span = noSpan()): void {
    this.outputs.push({ name, value, loc });
  }

  hasParam(name: string): boolean {
    return this.ids.has(`%${name}`);
  }

  get paramList(): readonly Param[] {
    return this.params;
  }

  get opCount(): number {
    return this.ops.length;
  }

  hasInput(name: string): boolean {
    return this.inputs.some((i) => i.name === name);
  }

  finish(): Graph {
    return {
      name: this.name,
      symbols: [...this.symbols],
      inputs: [...this.inputs],
      params: [...this.params],
      ops: [...this.ops],
      outputs: [...this.outputs],
    };
  }

  private freshId(): string {
    while (this.ids.has(`%${this.next}`)) this.next++;
    return this.claim(`%${this.next++}`);
  }

  private claim(id: string): string {
    if (this.ids.has(id)) throw new Error(`internal: duplicate value id ${id}`);
    this.ids.add(id);
    return id;
  }
}
