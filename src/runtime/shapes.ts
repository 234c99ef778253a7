// Concrete shapes from symbolic ones, with the failure (an unbound symbol, a negative size) reported
// as an input_mismatch at the declaration that needed it.
import { PtmError, diag } from '../diagnostics/index.js';
import type { Span } from '../diagnostics/index.js';
import type { Dim } from '../ir/dim.js';
import { evalDim } from '../ir/dim.js';

/** `dims` evaluated with `symbols`; `what` names the value in the message (`input 'ids'`, `%12 (matmul)`). */
export function concreteShape(dims: readonly Dim[], symbols: ReadonlyMap<string, number>, loc: Span, what: string): number[] {
  return dims.map((d) => {
    let v: number;
    try {
      v = evalDim(d, symbols);
    } catch (e) {
      throw new PtmError(diag.input_mismatch(loc, `${what}: no size for dimension '${d}' (${(e as Error).message})`));
    }
    if (!Number.isSafeInteger(v) || v < 0) {
      const bound = [...symbols].map(([s, n]) => `${s} = ${n}`).join(', ');
      throw new PtmError(diag.input_mismatch(loc, `${what}: dimension '${d}' is ${v} with ${bound || 'no symbols bound'}; sizes must be non-negative`));
    }
    return v;
  });
}
