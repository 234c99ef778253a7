// What a .ptm expression evaluates to during elaboration. Tensors carry the span they came from,
// so a shape error can say where each operand was made.
import type { Span } from '../../diagnostics/span.js';
import type { Dim } from '../dim.js';
import type { MaskExpr } from '../mask.js';
import type { DType, InitSpec, Value } from '../types.js';

export interface ModuleValue {
  kind: 'module';
  /** The layer: Embedding, Linear, LayerNorm, RMSNorm, or t5_bias (a shared relative bias table). */
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

/** An integer argument kept with its span, checked where the value it must fit is known. */
export interface SpannedInt {
  value: number;
  span: Span;
}

/**
 * A position encoding for `Attention(..., position: p)` (§7.1). Rotary needs the head size and T5's
 * bias the head count, both known only at the attention, so they are checked there. A t5_bias bound
 * by assignment is a module (`rel.weight`), not one of these.
 */
export type PositionValue =
  | { kind: 'position'; encoding: 'rotary'; base: number; dims?: SpannedInt; span: Span }
  /** `name` replaces the table's local name `rel_bias` under the attention. */
  | { kind: 'position'; encoding: 't5_bias'; heads?: SpannedInt; buckets: number; maxDistance: number; bidirectional: boolean; name?: string; span: Span };

/** A parameter initializer for `Parameter(shape, init: ...)` (§8.7): `zeros`, `ones`, `normal(std)`. */
export interface InitValue {
  kind: 'init';
  init: InitSpec;
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
  | MaskValue
  | PositionValue
  | InitValue
  /** `favor(features: m, seed: s)` for `Attention(..., kernel: ...)` (elaborate/linear-attention.ts). */
  | { kind: 'feature_map'; map: 'favor'; features: number; seed: number; span: Span };

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
    case 'position': return v.encoding === 'rotary' ? 'a rotary position encoding' : "T5's relative position bias";
    case 'init': return `the initializer ${v.init.kind === 'normal' ? `normal(${v.init.std})` : v.init.kind}`;
    case 'feature_map': return 'the FAVOR+ feature map';
  }
}

/** An integer known at compile time, possibly symbolic; undefined if `v` is not one. */
export function asDim(v: EValue): Dim | undefined {
  if (v.kind === 'dim') return v.dim;
  if (v.kind === 'number' && v.isInteger) return v.value;
  return undefined;
}
