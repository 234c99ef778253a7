// Property: random valid graphs (test/ir/random-graph.ts) verify clean, and print -> read -> print
// is the identity on text while read gives back the same graph (spans keep only file:line:col).
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { OPS, printGraph, readGraph, verifyGraph } from '../../src/ir/index.js';
import { randomGraph, withoutOffsets } from './random-graph.js';

describe('textual IR round trip on random graphs', () => {
  const opsUsed = new Set<string>();

  test('random graphs verify, print, read back and print the same', () => {
    fc.assert(
      fc.property(fc.gen(), (gen) => {
        const g = randomGraph(gen, opsUsed);
        expect(verifyGraph(g)).toEqual([]);
        const text = printGraph(g);
        const reread = readGraph(text, 'roundtrip.ir');
        expect(printGraph(reread)).toBe(text);
        expect(reread).toEqual(withoutOffsets(g));
        expect(verifyGraph(reread)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  test('the generator reaches every op in the registry', () => {
    expect([...OPS.keys()].filter((name) => !opsUsed.has(name))).toEqual([]);
  });
});
