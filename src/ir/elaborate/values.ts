// What a .ptm expression evaluates to during elaboration. Tensors carry the span they came from,
// so a shape error can say where each operand was made.
import type { Span } from '../../diagnostics/span.js';
import type { Dim } from '../dim.js';
import type { MaskExpr } from '../mask.js';
import type { DType, Value } from '../types.js';

export interface ModuleValue {
  kind: 'module';
  /** The layer: Embedding, Linear, LayerNorm, RMSNorm. */
  layer: string;
  /** Hierarchical name prefix of its parameters (`tok`, `layers.3.attn.q`). */
  name: string;
  params: Record<string, Value>;
  /** Layer settings fixed at declaration (eps, bias, ...). */
  settings: Record<string, number | boolean>;
  span: Span;
}

/** A mask predicate; its `read`s index into `tensors` (remapped to attention operands later). */
export interface MaskValue {
  kind: 'mask';
  expr: MaskExpr;
  tensors: Value[];
  span: Span;
}

export type EValue =
  | { kind: 'tensor'; value: Value; span: Span }
  /** A compile-time number; `dim` is set when it is an integer that may be symbolic (`seq`). */
  | { kind: 'number'; value: number; isInteger: boolean; span: Span }
  | { kind: 'dim'; dim: Dim; span: Span }
  | { kind: 'bool'; value: boolean; span: Span }
  | { kind: 'string'; value: string; span: Span }
  | { kind: 'dtype'; dtype: DType; span: Span }
  | { kind: 'list'; items: EValue[]; span: Span }
  | { kind: 'function'; name: string; span: Span }
  | { kind: 'block'; name: string; span: Span }
  | ModuleValue
  | MaskValue;

export function kindName(v: EValue): string {
  switch (v.kind) {
    case 'tensor': return `a tensor ${v.value.type.dtype}[${v.value.type.shape.join(', ')}]`;
    case 'number': return v.isInteger ? `the integer ${v.value}` : `the number ${v.value}`;
    case 'dim': return `the dimension ${v.dim}`;
    case 'bool': return `the boolean ${v.value}`;
    case 'string': return 'a string';
    case 'dtype': return `the dtype ${v.dtype}`;
    case 'list': return `a list of ${v.items.length}`;
    case 'function': return `the function '${v.name}'`;
    case 'block': return `the block '${v.name}'`;
    case 'module': return `the ${v.layer} '${v.name}'`;
    case 'mask': return 'a mask';
  }
}

/** An integer known at compile time, possibly symbolic; undefined if `v` is not one. */
export function asDim(v: EValue): Dim | undefined {
  if (v.kind === 'dim') return v.dim;
  if (v.kind === 'number' && v.isInteger) return v.value;
  return undefined;
}
