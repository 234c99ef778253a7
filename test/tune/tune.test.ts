// `ptm tune`: every variant is timed on this adapter, the fastest is cached per adapter, and
// compilation picks it up; without a cache the defaults are used. Small shapes keep it quick
// (which variant wins is not asserted: that is the adapter's business). Two matmul variants and one
// attention variant stand in for all: each pipeline compile costs seconds on lavapipe.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { MATMUL_VARIANTS, DEFAULT_MATMUL_VARIANT } from '../../src/codegen/templates/matmul.js';
import { ATTENTION_VARIANTS } from '../../src/codegen/templates/attention.js';
import { adapterKey, tune, tuneCachePath, variantsFor } from '../../src/runtime/tune.js';
import { gpu } from '../webgpu/helpers.js';

test('tune measures every variant and caches the fastest for this adapter', async () => {
  process.env.PTM_CACHE_DIR = mkdtempSync(join(tmpdir(), 'ptm-tune-'));
  const ctx = await gpu();
  const key = adapterKey(ctx.adapterInfo);
  expect(variantsFor(key).source).toMatch(/^defaults/);
  expect(variantsFor(key).matmul).toBe(DEFAULT_MATMUL_VARIANT);
  const only = { matmul: ['reg4x4', 'shared16'], attention: ['q16k16t16'] };
  const entry = await tune(ctx, () => {}, { m: 33, k: 64, n: 70, heads: 2, t: 19, d: 16 }, only);
  expect(Object.keys(entry.timings.matmul).sort()).toEqual(only.matmul.sort());
  expect(Object.keys(entry.timings.attention)).toEqual(only.attention);
  for (const name of Object.keys(entry.timings.matmul)) expect(MATMUL_VARIANTS[name]).toBeDefined();
  for (const name of Object.keys(entry.timings.attention)) expect(ATTENTION_VARIANTS[name]).toBeDefined();
  for (const us of [...Object.values(entry.timings.matmul), ...Object.values(entry.timings.attention)]) expect(us).toBeGreaterThan(0);
  const best = Object.entries(entry.timings.matmul).sort((a, b) => a[1] - b[1])[0]![0];
  expect(entry.matmul).toBe(best);
  expect(tuneCachePath().startsWith(process.env.PTM_CACHE_DIR!)).toBe(true);
  const chosen = variantsFor(key);
  expect(chosen.matmul).toBe(MATMUL_VARIANTS[entry.matmul]);
  expect(chosen.source).toMatch(/^tuned/);
  expect(variantsFor('some other adapter').source).toMatch(/^defaults/);
});
