// Choosing the next token from one row of logits: greedy (argmax, the lowest id on ties) or seeded
// top-k sampling with a temperature. Draw i of a generation is word i of a counter-based stream
// (random.ts), so a token depends only on (seed, its index, the logits), not on how they were computed.
import { RandomStream } from '../random.js';

export interface Sampling {
  /** Sample among the k most likely tokens (default: every token). */
  topK?: number;
  /** Logits are divided by it before the softmax (default 1). */
  temperature?: number;
  seed?: number;
}

/** The index of the largest logit; the lowest index among equal ones. NaN never wins. */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]! || Number.isNaN(logits[best]!)) best = i;
  return best;
}

/** Token ids ordered by logit, highest first, ties by id: the first `k` of them. */
export function topK(logits: ArrayLike<number>, k: number): number[] {
  const ids = Array.from({ length: logits.length }, (_, i) => i);
  const key = (i: number) => (Number.isNaN(logits[i]!) ? -Infinity : logits[i]!);
  ids.sort((a, b) => key(b) - key(a) || a - b);
  return ids.slice(0, Math.min(k, ids.length));
}

/**
 * Draw `index` from the top-k softmax of `logits / temperature`: the first candidate whose cumulative
 * probability exceeds u = word(index) / 2^32 (probabilities in float64).
 */
export function sampleTopK(logits: ArrayLike<number>, sampling: Sampling, stream: RandomStream, index: number): number {
  const candidates = topK(logits, sampling.topK ?? logits.length);
  const t = sampling.temperature ?? 1;
  const top = logits[candidates[0]!]!;
  const weights = candidates.map((i) => Math.exp((logits[i]! - top) / t));
  const total = weights.reduce((a, w) => a + w, 0);
  const u = (stream.word(index) / 2 ** 32) * total;
  let cumulative = 0;
  for (let j = 0; j < candidates.length; j++) {
    cumulative += weights[j]!;
    if (u < cumulative) return candidates[j]!;
  }
  return candidates[candidates.length - 1]!;
}

/** Picks tokens for one generation: greedy without `sampling`, else seeded sampling. */
export class TokenChooser {
  private readonly stream: RandomStream | undefined;

  constructor(private readonly sampling?: Sampling) {
    this.stream = sampling ? new RandomStream(sampling.seed ?? 0, 'generate') : undefined;
  }

  /** The token for draw `index` (0 for the first new token). */
  choose(logits: ArrayLike<number>, index: number): number {
    return this.sampling ? sampleTopK(logits, this.sampling, this.stream!, index) : argmax(logits);
  }
}
