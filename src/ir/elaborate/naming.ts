// Parameter naming scopes (REFERENCE.md §5.5): hierarchical names like `layers.3.attn.q.weight`.
// A scope has a prefix and per-kind counters for inline layers (`ln`, `ln_1`, ...).
import type { Args } from './args.js';
import type { Elaborator } from './elaborate.js';

export class NameScope {
  private readonly counters = new Map<string, number>();

  /**
   * @param prefix   full prefix including a trailing dot, or '' at the model level
   * @param reuse    true inside `repeat(n) shared` after the first copy: parameters are looked up, not made
   */
  constructor(readonly prefix: string, readonly reuse = false) {}

  /** A fresh local name for an inline layer of this kind: `attn`, then `attn_1`, `attn_2`. */
  fresh(kind: string): string {
    const n = this.counters.get(kind) ?? 0;
    this.counters.set(kind, n + 1);
    return n === 0 ? kind : `${kind}_${n}`;
  }

  child(local: string, reuse = this.reuse): NameScope {
    return new NameScope(`${this.prefix}${local}.`, reuse);
  }
}

/** `EncoderLayer` -> `encoder_layer`. */
export function snakeCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/([A-Z])([A-Z][a-z])/g, '$1_$2').toLowerCase();
}

/**
 * The local name of a layer or parameter (§5.5): `name: "..."`, else the assignment target
 * (`tok = Embedding(...)`), else its kind (`attn`, `attn_1`, ...).
 */
export function layerName(el: Elaborator, args: Args, kind: string, hint?: string): string {
  return args.string(undefined, 'name') ?? el.naming.fresh(hint ?? kind);
}
