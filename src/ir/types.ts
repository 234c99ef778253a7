// Graph IR types: an SSA tensor graph. Values are produced once, by an input, a parameter or an op.
// High-level ops (attention, layer_norm, gelu, ...) stay whole; see ops.ts for the op set.
import type { Span } from '../diagnostics/span.js';
import type { Dim } from './dim.js';
import type { MaskExpr } from './mask.js';
import type { FusedExpr } from './fused.js';

export type DType = 'f32' | 'f16' | 'bf16' | 'f64' | 'i32' | 'i64' | 'bool';
export const DTYPES: readonly DType[] = ['f32', 'f16', 'bf16', 'f64', 'i32', 'i64', 'bool'];
export const isFloat = (t: DType): boolean => t === 'f32' || t === 'f16' || t === 'bf16' || t === 'f64';
export const isInt = (t: DType): boolean => t === 'i32' || t === 'i64';

export interface TensorType {
  dtype: DType;
  shape: Dim[];
}

/** An SSA value. `id` is unique within a graph: `%ids` (input), `%tok.weight` (param), `%12` (op result). */
export interface Value {
  id: string;
  type: TensorType;
}

export type AttrValue = number | boolean | string | number[] | Dim[] | Dim | MaskExpr | FusedExpr;
export type Attrs = Record<string, AttrValue>;

export interface Op {
  /** Lower-case op name from the registry in ops.ts. */
  op: string;
  result: Value;
  operands: Value[];
  attrs: Attrs;
  loc: Span;
}

/** How a parameter is initialised when no weights file is given (seeded, per parameter name). */
export type InitSpec = { kind: 'normal'; std: number } | { kind: 'zeros' } | { kind: 'ones' }
  /** FAVOR+'s fixed random projection [2·d, m] (runtime/random-features.ts), from its own seed: not trained. */
  | { kind: 'random_features'; seed: number };

export interface Param {
  value: Value;
  /** Hierarchical name, e.g. `layers.3.attn.q.weight`; also the tensor name in safetensors/ONNX. */
  name: string;
  init: InitSpec;
  loc: Span;
}

export interface Input {
  value: Value;
  name: string;
  loc: Span;
}

export interface Output {
  name: string;
  value: Value;
  loc: Span;
}

export interface Graph {
  name: string;
  /** Symbolic dimensions (e.g. batch, seq), bound from input shapes when the graph runs. */
  symbols: string[];
  inputs: Input[];
  params: Param[];
  ops: Op[];
  outputs: Output[];
}
