// Argument binding for built-in layers and functions: positional then named, each checked for kind,
// with unknown or missing arguments reported against the call's span.
import type { Span } from '../../diagnostics/span.js';
import { PtmError } from '../../diagnostics/diagnostic.js';
import { diag } from '../../diagnostics/catalogue.js';
import { nearestName } from '../../diagnostics/suggest.js';
import type { Dim } from '../dim.js';
import type { EValue, MaskValue } from './values.js';
import { asDim, kindName } from './values.js';

export interface BoundArg {
  value: EValue;
  span: Span;
}

export class Args {
  private readonly used = new Set<string>();

  constructor(
    readonly callee: string,
    readonly span: Span,
    readonly positional: BoundArg[],
    readonly named: Map<string, BoundArg & { nameSpan: Span }>,
  ) {}

  /** The argument at `index` or named `name`, whichever is given. */
  get(index: number | undefined, name: string): BoundArg | undefined {
    this.used.add(name);
    const byName = this.named.get(name);
    const byPos = index === undefined ? undefined : this.positional[index];
    if (byName && byPos) throw new PtmError(diag.duplicate_argument(byName.nameSpan, name));
    return byName ?? byPos;
  }

  require(index: number | undefined, name: string): BoundArg {
    const a = this.get(index, name);
    if (!a) throw new PtmError(diag.missing_argument(this.span, this.callee, name));
    return a;
  }

  tensor(index: number | undefined, name: string) {
    const a = this.require(index, name);
    if (a.value.kind !== 'tensor') throw new PtmError(diag.kind_mismatch(a.span, `a tensor for '${name}' of ${this.callee}`, kindName(a.value)));
    return a.value;
  }

  int(index: number | undefined, name: string, fallback?: number): number {
    const a = fallback === undefined ? this.require(index, name) : this.get(index, name);
    if (!a) return fallback!;
    const d = asDim(a.value);
    if (typeof d !== 'number') throw new PtmError(diag.kind_mismatch(a.span, `an integer for '${name}' of ${this.callee}`, kindName(a.value)));
    return d;
  }

  dim(index: number | undefined, name: string): Dim {
    const a = this.require(index, name);
    const d = asDim(a.value);
    if (d === undefined) throw new PtmError(diag.kind_mismatch(a.span, `an integer for '${name}' of ${this.callee}`, kindName(a.value)));
    return d;
  }

  float(index: number | undefined, name: string, fallback: number): number {
    const a = this.get(index, name);
    if (!a) return fallback;
    if (a.value.kind === 'number') return a.value.value;
    throw new PtmError(diag.kind_mismatch(a.span, `a number for '${name}' of ${this.callee}`, kindName(a.value)));
  }

  bool(index: number | undefined, name: string, fallback: boolean): boolean {
    const a = this.get(index, name);
    if (!a) return fallback;
    if (a.value.kind === 'bool') return a.value.value;
    throw new PtmError(diag.kind_mismatch(a.span, `true or false for '${name}' of ${this.callee}`, kindName(a.value)));
  }

  string(index: number | undefined, name: string): string | undefined {
    const a = this.get(index, name);
    if (!a) return undefined;
    if (a.value.kind === 'string') return a.value.value;
    throw new PtmError(diag.kind_mismatch(a.span, `a string for '${name}' of ${this.callee}`, kindName(a.value)));
  }

  mask(index: number | undefined, name: string): MaskValue | undefined {
    const a = this.get(index, name);
    if (!a) return undefined;
    if (a.value.kind === 'mask') return a.value;
    throw new PtmError(diag.kind_mismatch(a.span, `a mask for '${name}' of ${this.callee} (full, causal, padding(valid), prefix(n), ...)`, kindName(a.value)));
  }

  /** Rejects unknown named arguments and surplus positional ones. Call after reading all arguments. */
  done(positionalNames: readonly string[]): void {
    for (const [name, a] of this.named) {
      if (!this.used.has(name)) throw new PtmError(diag.unknown_argument(a.nameSpan, this.callee, name, nearestName(name, this.used)));
    }
    if (this.positional.length > positionalNames.length) {
      const extra = this.positional[positionalNames.length]!;
      throw new PtmError(diag.wrong_argument_count(extra.span, this.callee, positionalNames.length === 0 ? 'no' : `at most ${positionalNames.length} (${positionalNames.join(', ')})`, this.positional.length));
    }
  }
}
