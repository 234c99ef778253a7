// Token choice: greedy ties and NaN, top-k order, and sampled frequencies against the top-k softmax
// computed here independently (20,000 draws; each frequency within 4 standard deviations).
import { describe, expect, test } from 'vitest';
import { argmax, sampleTopK, topK, TokenChooser } from '../../src/runtime/generate/index.js';
import { RandomStream } from '../../src/runtime/index.js';

describe('greedy', () => {
  test('the largest logit, the lowest id among equals, never NaN', () => {
    expect(argmax([0.1, 0.7, 0.7, 0.2])).toBe(1);
    expect(argmax([NaN, -5, -1])).toBe(2);
    expect(argmax([-Infinity, -Infinity, 3])).toBe(2);
  });

  test('top-k orders by logit, then id', () => {
    expect(topK([1, 3, 2, 3, 0], 3)).toEqual([1, 3, 2]);
    expect(topK([1, 2], 5)).toEqual([1, 0]);
  });
});

describe('sampling', () => {
  const logits = [Math.log(0.1), Math.log(0.5), Math.log(0.15), Math.log(0.25)];
  const N = 20_000;
  const frequencies = (sampling: { topK?: number; temperature?: number }, seed = 11) => {
    const stream = new RandomStream(seed, 'generate');
    const counts = new Array(logits.length).fill(0);
    for (let i = 0; i < N; i++) counts[sampleTopK(logits, sampling, stream, i)]++;
    return counts.map((c) => c / N);
  };
  const expectClose = (got: number[], want: number[]) => {
    got.forEach((f, i) => {
      const sigma = Math.sqrt((want[i]! * (1 - want[i]!)) / N);
      expect(Math.abs(f - want[i]!), `token ${i}: ${f} vs ${want[i]}`).toBeLessThanOrEqual(4 * sigma + 1e-12);
    });
  };

  test('top-k renormalizes the k most likely', () => {
    // k = 2 keeps ids 1 and 3: 0.5 / 0.75 and 0.25 / 0.75.
    expectClose(frequencies({ topK: 2 }), [0, 2 / 3, 0, 1 / 3]);
  });

  test('temperature t raises the probabilities to 1/t', () => {
    const p = [0.1, 0.5, 0.15, 0.25].map((x) => Math.sqrt(x));
    const total = p.reduce((a, b) => a + b, 0);
    expectClose(frequencies({ temperature: 2 }), p.map((x) => x / total));
  });

  test('a seed repeats its draws; another seed draws others', () => {
    const draw = (seed: number) => Array.from({ length: 50 }, (_, i) => new TokenChooser({ seed, temperature: 1 }).choose(logits, i));
    expect(draw(3)).toEqual(draw(3));
    expect(draw(3)).not.toEqual(draw(4));
    expect(new TokenChooser().choose(logits, 0)).toBe(1);
  });
});
