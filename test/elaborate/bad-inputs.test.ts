// Semantic errors, MLIR expected-error style: each file in bad/ names the diagnostics it must
// produce (`// expect: <code> <line>:<col>`), and exactly those are reported.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { compileGraph } from '../../src/api.js';
import { isPtmError } from '../../src/diagnostics/index.js';
import type { Diagnostic } from '../../src/diagnostics/index.js';

const dir = join(import.meta.dirname, 'bad');

function diagnosticsOf(source: string, file: string): Diagnostic[] {
  try {
    compileGraph(source, { file });
  } catch (e) {
    if (isPtmError(e)) return e.diagnostics;
    throw e;
  }
  return [];
}

describe('semantic diagnostics', () => {
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.ptm')).sort()) {
    test(name, () => {
      const source = readFileSync(join(dir, name), 'utf8');
      const expected = [...source.matchAll(/\/\/ expect: (\w+) (\d+):(\d+)/g)].map((m) => `${m[1]} ${m[2]}:${m[3]}`);
      expect(expected.length).toBeGreaterThan(0);
      const got = diagnosticsOf(source, name).map((d) => `${d.code} ${d.span.line}:${d.span.col}`);
      expect(got.sort()).toEqual(expected.sort());
    });
  }
});
