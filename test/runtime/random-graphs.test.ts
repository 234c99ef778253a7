// Property: random valid graphs (test/ir/random-graph.ts, every op of the registry) run on the cpu in
// both precisions without an internal error, deterministically; data-dependent failures (an index out
// of range) must be diagnostics that point at the op, never crashes.
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { PtmError } from '../../src/diagnostics/index.js';
import type { Graph } from '../../src/ir/index.js';
import { evalDim } from '../../src/ir/index.js';
import { checksum, initParams, randomInputs, runGraph } from '../../src/runtime/index.js';
import { randomGraph } from '../ir/random-graph.js';

/** True when no value of the graph has more than `limit` elements (negative sizes count as 0: they must fail cleanly). */
function smallEnough(g: Graph, symbols: ReadonlyMap<string, number>, limit = 20_000): boolean {
  const values = [...g.inputs.map((i) => i.value), ...g.params.map((p) => p.value), ...g.ops.map((o) => o.result)];
  return values.every((v) => v.type.shape.map((d) => Math.max(0, evalDim(d, symbols))).reduce((a, b) => a * b, 1) <= limit);
}

test('random graphs run without internal errors, deterministically', () => {
  let ran = 0;
  fc.assert(
    fc.property(fc.gen(), (gen) => {
      const g = randomGraph(gen);
      const symbols = new Map(g.symbols.map((s) => [s, gen(fc.integer, { min: 1, max: 3 })]));
      if (!smallEnough(g, symbols)) return;
      for (const precision of ['f32', 'f64'] as const) {
        try {
          const inputs = randomInputs(g, 1, symbols);
          const params = initParams(g, 2, symbols);
          const first = runGraph(g, { inputs, params, precision, symbols }).outputs;
          const again = runGraph(g, { inputs, params, precision, symbols }).outputs;
          for (const [name, t] of first) expect(checksum(again.get(name)!)).toBe(checksum(t));
          ran++;
        } catch (e) {
          if (!(e instanceof PtmError)) throw e;
          expect(['input_mismatch', 'invalid_mask'], e.message).toContain(e.diagnostics[0]!.code);
        }
      }
    }),
    { numRuns: 300 },
  );
  expect(ran).toBeGreaterThan(100);
});
