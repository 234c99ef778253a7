// Golden pass tests: each file in golden/ holds cases split by `// -----`, each with a `// RUN:`
// line naming the passes, input IR, and CHECK lines on the printed result. The verifier runs after
// every pass, and the CPU reference must give the same numbers before and after (f64, 1e-9: the
// passes only regroup the same operations, so results differ at most by association order).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { readGraph } from '../../src/ir/read.js';
import { printGraph } from '../../src/ir/print.js';
import type { Pass } from '../../src/passes/pass.js';
import { runPipeline } from '../../src/passes/pipeline.js';
import { eliminateDeadCode } from '../../src/passes/eliminate-dead-code.js';
import { foldIotaOffset } from '../../src/passes/fold-iota-offset.js';
import { fuseSiblingMatmuls } from '../../src/passes/fuse-sibling-matmuls.js';
import { fuseMatmul } from '../../src/passes/fuse-matmul.js';
import { fuseRows } from '../../src/passes/fuse-rows.js';
import { fuseElementwise } from '../../src/passes/fuse-elementwise.js';
import { initParams, randomInputs, runGraph } from '../../src/runtime/index.js';
import { fileCheck } from './filecheck.js';

const PASSES: Record<string, Pass> = Object.fromEntries(
  [foldIotaOffset, eliminateDeadCode, fuseSiblingMatmuls, fuseMatmul, fuseRows, fuseElementwise].map((p) => [p.info.name, p]),
);

const dir = join(import.meta.dirname, 'golden');
for (const file of readdirSync(dir).filter((f) => f.endsWith('.ir')).sort()) {
  describe(file, () => {
    const cases = readFileSync(join(dir, file), 'utf8').split(/^\/\/ -----$/m);
    cases.forEach((text, i) => {
      const run = /\/\/ RUN: (.+)/.exec(text)?.[1]?.split(',').map((s) => s.trim()) ?? [];
      const name = /\/\/ CASE: (.+)/.exec(text)?.[1] ?? `case ${i + 1}`;
      test(name, () => {
        const input = readGraph(text, `${file}#${i + 1}`);
        const passes = run.map((p) => {
          const pass = PASSES[p];
          if (!pass) throw new Error(`unknown pass '${p}' in ${file}`);
          return pass;
        });
        const output = runPipeline(input, passes, { verify: true });
        const printed = printGraph(output);
        const problem = fileCheck(printed, text.split('\n').filter((l) => /^\s*\/\/ CHECK/.test(l)));
        expect(problem, `${problem}\n--- output ---\n${printed}`).toBeUndefined();
        const symbols = new Map(input.symbols.map((s) => [s, 3]));
        const params = initParams(input, 5);
        const inputs = randomInputs(input, 9, symbols);
        const before = runGraph(input, { inputs, params, precision: 'f64' }).outputs;
        const after = runGraph(output, { inputs, params, precision: 'f64' }).outputs;
        for (const [out, t] of before) {
          const u = after.get(out)!;
          expect(u.shape).toEqual(t.shape);
          t.data.forEach((x, j) => expect(Math.abs(x - u.data[j]!)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(x))));
        }
      });
    });
  });
}
