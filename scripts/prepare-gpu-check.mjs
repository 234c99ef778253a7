#!/usr/bin/env node
// Prepares ARTIFACTS_DIR for scripts/gpu-check.sh (a GPU machine without Node): emitted CUDA builds,
// weights, inputs and CPU reference outputs. Runs over dist/ (npm run build first). Default: tmp/gpu-check.
import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const moduleUrl = join(root, 'dist', 'runtime', 'cuda', 'gpu-check-artifacts.js');
if (!existsSync(moduleUrl)) {
  console.error(`prepare-gpu-check: ${relative(root, moduleUrl)} is missing; run \`npm run build\` first`);
  process.exit(2);
}
const { prepareGpuCheck, workingTreeBytes, CARRY_LIMIT_BYTES } = await import(moduleUrl);

const out = resolve(process.argv[2] ?? join(root, 'tmp', 'gpu-check'));
const mib = (n) => `${(n / 2 ** 20).toFixed(1)} MiB`;
const started = Date.now();
const result = prepareGpuCheck(out, { root, log: (line) => console.log(`  ${line}`) });
const tree = workingTreeBytes(root);
const inside = !relative(root, out).startsWith('..');
console.log(`wrote ${out}: ${mib(result.artifactBytes)} in ${((Date.now() - started) / 1000).toFixed(1)} s; working tree ${mib(tree)}`);
for (const [dir, kernels] of Object.entries(result.unchecked)) {
  if (kernels.length > 0) console.warn(`warning: ${dir} runs kernels no checked program runs: ${kernels.join(', ')}`);
}
if (result.artifactBytes + tree > CARRY_LIMIT_BYTES) {
  console.error(`prepare-gpu-check: artifacts + working tree = ${mib(result.artifactBytes + tree)}, over the ${mib(CARRY_LIMIT_BYTES)} a device call carries`);
  process.exit(1);
}
console.log(`fits: ${mib(result.artifactBytes + tree)} of ${mib(CARRY_LIMIT_BYTES)}`);
if (inside) console.log(`device run: carry ["${relative(root, out)}"], command: scripts/gpu-check.sh ${relative(root, out)} $OUT/results`);
