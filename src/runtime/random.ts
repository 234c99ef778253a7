// A counter-based generator: element i of the stream named `name` under `seed` is a pure function of
// (seed, name, i), so values never depend on the order in which tensors are generated.
// word(i) = mix(mix(i ^ k0) + k1): two rounds of Wellons' lowbias32 keyed by an FNV-1a hash of the name.
import { PtmError, diag, noSpan } from '../diagnostics/index.js';

/** Chris Wellons' lowbias32 integer hash: a bijection on 32-bit words with low bias. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** 32-bit FNV-1a over the UTF-8 bytes of `text`. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) h = Math.imul(h ^ byte, 0x01000193);
  return h >>> 0;
}

export class RandomStream {
  private readonly k0: number;
  private readonly k1: number;

  /** `seed` is a non-negative integer below 2^53; `name` selects an independent stream. */
  constructor(seed: number, name: string) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new PtmError(diag.invalid_override(noSpan('<seed>'), `seed ${seed} (expected a non-negative integer below 2^53)`));
    const lo = seed >>> 0, hi = Math.floor(seed / 2 ** 32) >>> 0;
    const h = fnv1a(name);
    this.k0 = mix32(lo ^ mix32(h ^ 0x9e3779b9));
    this.k1 = mix32((hi + mix32(this.k0 ^ h)) >>> 0);
  }

  /** The i-th 32-bit word of the stream (i < 2^32), uniform in [0, 2^32). */
  word(i: number): number {
    return mix32((mix32((i ^ this.k0) >>> 0) + this.k1) >>> 0);
  }

  /** n standard normal values (Box–Muller on word pairs: element 2p and 2p+1 from words 2p, 2p+1). */
  normals(n: number, out: Float32Array | Float64Array | Int32Array = new Float64Array(n), std = 1): typeof out {
    for (let p = 0; 2 * p < n; p++) {
      const u1 = (this.word(2 * p) + 0.5) / 2 ** 32; // in (0, 1): log(u1) is finite
      const u2 = this.word(2 * p + 1) / 2 ** 32;
      const r = Math.sqrt(-2 * Math.log(u1)) * std;
      out[2 * p] = r * Math.cos(2 * Math.PI * u2);
      if (2 * p + 1 < n) out[2 * p + 1] = r * Math.sin(2 * Math.PI * u2);
    }
    return out;
  }

  /** Integer i of the stream, uniform in [0, bound) (bias below bound/2^32). */
  below(i: number, bound: number): number {
    return Math.floor((this.word(i) / 2 ** 32) * bound);
  }
}
