// Checks the given inputs against the graph's declared inputs and binds its symbolic dimensions
// (`batch`, `seq`) from their shapes. Every mismatch is an input_mismatch naming the input and shapes.
import { PtmError, diag, nearestName, noSpan } from '../../diagnostics/index.js';
import { evalDim, isSymbolName, shapeToString } from '../../ir/dim.js';
import type { Graph, Input } from '../../ir/types.js';
import { toStorage } from '../param-source.js';
import type { Precision, Tensor } from '../tensor.js';
import { shapeText, size } from '../tensor.js';

export interface BoundInputs {
  /** Input tensors by value id, in the run's storage precision. */
  values: Map<string, Tensor>;
  symbols: Map<string, number>;
}

const mismatch = (input: Input, message: string): PtmError => new PtmError(diag.input_mismatch(input.loc, message));

export function bindInputs(graph: Graph, inputs: Record<string, Tensor>, precision: Precision, given: ReadonlyMap<string, number> = new Map()): BoundInputs {
  const names = graph.inputs.map((i) => i.name);
  for (const name of Object.keys(inputs)) {
    if (!names.includes(name)) throw new PtmError(diag.unknown_input(noSpan('<inputs>'), name, nearestName(name, names)));
  }
  const symbols = new Map(given);
  // Which input set each symbol, to name both sides of a conflict.
  const setBy = new Map<string, string>();
  const deferred: [Input, Tensor, number][] = [];
  for (const input of graph.inputs) {
    const t = Object.hasOwn(inputs, input.name) ? inputs[input.name] : undefined;
    if (t === undefined) throw new PtmError(diag.missing_input(input.loc, input.name));
    const declared = input.value.type;
    const want = `${declared.dtype}${shapeToString(declared.shape)}`;
    if (t.dtype !== declared.dtype) throw mismatch(input, `input '${input.name}' must be ${want}, got ${t.dtype}${shapeText(t.shape)}: its dtype differs`);
    if (!t.shape.every((d) => Number.isInteger(d) && d >= 0) || t.data.length !== size(t.shape)) {
      throw mismatch(input, `input '${input.name}' is malformed: shape ${shapeText(t.shape)} with ${t.data.length} values`);
    }
    if (declared.dtype === 'i64' && !t.data.every((v) => Number.isSafeInteger(v))) {
      throw mismatch(input, `input '${input.name}' is i64 but holds a value that is not an integer below 2^53`);
    }
    if (t.shape.length !== declared.shape.length) {
      throw mismatch(input, `input '${input.name}' has shape ${shapeText(t.shape)} (rank ${t.shape.length}), but the model expects ${shapeToString(declared.shape)} (rank ${declared.shape.length})`);
    }
    declared.shape.forEach((d, axis) => {
      const got = t.shape[axis]!;
      if (typeof d === 'number') {
        if (d !== got) throw mismatch(input, `input '${input.name}' has shape ${shapeText(t.shape)}, but the model expects ${shapeToString(declared.shape)}: axis ${axis} must be ${d}`);
      } else if (isSymbolName(d)) {
        const bound = symbols.get(d);
        if (bound === undefined) {
          symbols.set(d, got);
          setBy.set(d, `input '${input.name}' has shape ${shapeText(t.shape)}`);
        } else if (bound !== got) {
          const other = setBy.get(d) ?? 'it was given';
          throw mismatch(input, `input '${input.name}' has shape ${shapeText(t.shape)}, so ${d} = ${got} (axis ${axis} of ${shapeToString(declared.shape)}), but ${other}, so ${d} = ${bound}`);
        }
      } else {
        deferred.push([input, t, axis]);
      }
    });
  }
  // Compound dimensions (`seq+1`) are checked once every plain symbol is bound.
  for (const [input, t, axis] of deferred) {
    const d = input.value.type.shape[axis]!;
    let want: number;
    try {
      want = evalDim(d, symbols);
    } catch {
      throw mismatch(input, `input '${input.name}': cannot infer the symbols of dimension '${d}' (axis ${axis}) from shape ${shapeText(t.shape)}; another input must fix them`);
    }
    if (want !== t.shape[axis]) {
      throw mismatch(input, `input '${input.name}' has shape ${shapeText(t.shape)}, but axis ${axis} must be ${d} = ${want}`);
    }
  }
  const values = new Map<string, Tensor>();
  for (const input of graph.inputs) values.set(input.value.id, toStorage(inputs[input.name]!, input.value.type.dtype, precision));
  return { values, symbols };
}
