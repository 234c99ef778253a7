// Appends ONNX nodes with unique names, shares constants, and turns symbolic dimensions into int64
// tensors computed at run time from the Shape of the graph input that binds each symbol.
import type { onnx } from 'onnx-proto';
import { diag } from '../../diagnostics/catalogue.js';
import { PtmError } from '../../diagnostics/diagnostic.js';
import type { Span } from '../../diagnostics/span.js';
import { formatLoc, noSpan } from '../../diagnostics/span.js';
import type { Dim } from '../../ir/dim.js';
import type { DType } from '../../ir/types.js';
import { attrInt, attrTensor, inlineTensor, onnxElementType } from './onnx-tensors.js';

/** Where a symbol's value can be read: axis `axis` of graph input `input`. */
export interface SymbolSource {
  input: string;
  axis: number;
}

/** A monomial of a canonical dimension polynomial (see ir/dim.ts): coefficient times symbols. */
interface Term {
  coef: number;
  symbols: string[];
}

function polyTerms(d: string): Term[] {
  const terms = d.replace(/\s+/g, '').replace(/-/g, '+-').split('+').filter((t) => t.length > 0);
  return terms.map((text) => {
    let coef = 1;
    const symbols: string[] = [];
    for (const factor of text.replace(/^-/, '').split('*')) {
      if (/^\d+$/.test(factor)) coef *= Number(factor);
      else symbols.push(factor);
    }
    return { coef: text.startsWith('-') ? -coef : coef, symbols };
  });
}

export class OnnxNodes {
  readonly nodes: onnx.INodeProto[] = [];
  /** Location of the IR op being lowered; recorded as each node's doc_string. */
  loc: Span = noSpan();
  private readonly shared = new Map<string, string>();
  private nodeCount = 0;
  private valueCount = 0;

  constructor(private readonly taken: Set<string>, private readonly symbols: ReadonlyMap<string, SymbolSource>) {}

  /** A value name no one uses yet, from a hint. */
  fresh(hint: string): string {
    let name: string;
    do name = `${hint}_${this.valueCount++}`; while (this.taken.has(name));
    this.taken.add(name);
    return name;
  }

  /** Appends a node; returns its (first) output name. */
  node(opType: string, inputs: string[], attribute: onnx.IAttributeProto[] = [], output?: string): string {
    const out = output ?? this.fresh(opType.toLowerCase());
    const node: onnx.INodeProto = { opType, input: inputs, output: [out], name: `${opType}_${this.nodeCount++}`, attribute };
    if (this.loc.line > 0) node.docString = formatLoc(this.loc);
    this.nodes.push(node);
    return out;
  }

  /** A Constant node holding `values` with dims `dims` (shared by equal constants). */
  constant(dtype: DType, dims: number[], values: number[]): string {
    const key = `const:${dtype}:${dims.join(',')}:${values.map((v) => Object.is(v, -0) ? '-0' : String(v)).join(',')}`;
    return this.share(key, () => this.node('Constant', [], [attrTensor('value', inlineTensor('', dtype, dims, values))], this.fresh('const')));
  }

  /** int64 [1] holding the value of `d`. */
  dim(d: Dim): string {
    if (typeof d === 'number') return this.constant('i64', [1], [d]);
    return this.share(`dim:${d}`, () => {
      let sum: string | undefined;
      for (const { coef, symbols } of polyTerms(d)) {
        let term = symbols.map((s) => this.symbol(s)).reduce<string | undefined>((acc, s) => (acc ? this.node('Mul', [acc, s]) : s), undefined);
        if (term === undefined) term = this.constant('i64', [1], [coef]);
        else if (coef !== 1) term = this.node('Mul', [term, this.constant('i64', [1], [coef])]);
        sum = sum ? this.node('Add', [sum, term]) : term;
      }
      return sum ?? this.constant('i64', [1], [0]);
    });
  }

  /** int64 [rank] holding `dims`: a constant, or a Concat of per-dimension values. */
  shape(dims: Dim[]): string {
    if (dims.every((d): d is number => typeof d === 'number')) return this.constant('i64', [dims.length], dims);
    return this.share(`shape:${dims.join(',')}`, () => this.node('Concat', dims.map((d) => this.dim(d)), [attrInt('axis', 0)]));
  }

  /** A rank-0 tensor of `dtype` holding the value of `d`. */
  scalar(d: Dim, dtype: DType): string {
    if (typeof d === 'number') return this.constant(dtype, [], [d]);
    return this.share(`scalar:${dtype}:${d}`, () => {
      const value = this.node('Squeeze', [this.dim(d)]);
      return dtype === 'i64' ? value : this.node('Cast', [value], [attrInt('to', onnxElementType(dtype))]);
    });
  }

  private symbol(name: string): string {
    const source = this.symbols.get(name);
    if (!source) {
      throw new PtmError(diag.export_unsupported(this.loc, `the dimension symbol '${name}' is not a whole dimension of any graph input, so the ONNX graph cannot compute it`));
    }
    return this.share(`symbol:${name}`, () => this.node('Shape', [source.input], [attrInt('start', source.axis), attrInt('end', source.axis + 1)]));
  }

  private share(key: string, make: () => string): string {
    let name = this.shared.get(key);
    if (name === undefined) this.shared.set(key, (name = make()));
    return name;
  }
}
