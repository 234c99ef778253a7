// The artifacts scripts/prepare-gpu-check.mjs writes (through prepareGpuCheck, which it calls from dist/):
// they fit the 64 MiB a device call carries with the working tree, every kernel of the full-size
// models is checked numerically, the bench holds the GPT-2 shapes, and gpu-check.py accepts them offline.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PrepareResult } from '../../src/runtime/cuda/gpu-check-artifacts.js';
import { CARRY_LIMIT_BYTES, prepareGpuCheck, workingTreeBytes } from '../../src/runtime/cuda/gpu-check-artifacts.js';
import { probeCuda } from '../../src/runtime/cuda/library.js';
import { gpuCheckPy, ROOT } from './programs.js';

const scratch = mkdtempSync(join(tmpdir(), 'ptm-gpu-check-'));
const out = join(scratch, 'artifacts');
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let result: PrepareResult;

beforeAll(() => {
  result = prepareGpuCheck(out, { root: ROOT });
}, 300_000);

describe('gpu-check artifacts', () => {
  it('fit in what one device call carries, with the working tree', () => {
    const tree = workingTreeBytes(ROOT);
    expect(tree).toBeGreaterThan(0);
    expect(result.artifactBytes + tree, `${result.artifactBytes} bytes of artifacts + ${tree} of working tree`).toBeLessThanOrEqual(CARRY_LIMIT_BYTES);
    // Room for the tree to grow: the artifacts alone stay under 60 MiB.
    expect(result.artifactBytes).toBeLessThan(60 * 2 ** 20);
  });

  it('check every kernel the full-size models run', () => {
    expect(result.unchecked).toEqual({ 'gpt2-full': [], 'bert-full': [] });
    expect(result.programs.map((p) => p.dir)).toEqual(['gpt2', 'bert', 'gpt2-full', 'bert-full']);
  });

  it('time the GPT-2 matmul shapes and its causal attention', () => {
    const index = JSON.parse(readFileSync(join(out, 'gpu-check.json'), 'utf8'));
    const matmuls = index.bench.filter((b: { kind: string }) => b.kind === 'matmul').map((b: { m: number; k: number; n: number }) => `${b.m}x${b.k}x${b.n}`);
    expect(matmuls).toEqual(expect.arrayContaining(['128x768x2304', '128x768x3072', '128x3072x768', '128x768x50257']));
    expect(index.bench.find((b: { kind: string }) => b.kind === 'attention')).toMatchObject({ batch: 1, heads: 12, seq: 128, dh: 64, causal: true, program: 'gpt2-full' });
  });

  it('pass gpu-check.py check-artifacts, which finds a truncated weights file', () => {
    expect(gpuCheckPy('check-artifacts', out)).toMatch(/gpt2: check, 7 launches, 6 kernels: ok\nbert: check, \d+ launches, \d+ kernels: ok\ngpt2-full: timing, \d+ launches, \d+ kernels: ok\nbert-full: timing, \d+ launches, \d+ kernels: ok\nbench: 6 kernels/);
    const weights = join(out, 'bert', 'weights.bin');
    truncateSync(weights, statSync(weights).size - 4);
    expect(() => gpuCheckPy('check-artifacts', out)).toThrow(/bert: check, .*PROBLEMS\n.*weights\.bin: \d+ bytes, the index says \d+/);
  });

  it.skipIf(probeCuda().ok)('scripts/gpu-check.sh fails loudly on a machine without a GPU', () => {
    let error: { status?: number; stderr?: string } = {};
    try {
      execFileSync(join(ROOT, 'scripts', 'gpu-check.sh'), [out, join(out, 'results')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      error = e as typeof error;
    }
    expect(error.status).toBe(2);
    expect(error.stderr).toMatch(/gpu-check FAILED: (nvcc is not on PATH|nvidia-smi is not on PATH: no NVIDIA driver on this machine|nvidia-smi finds no GPU)/);
  });

  it('scripts/prepare-gpu-check.mjs parses', () => {
    execFileSync(process.execPath, ['--check', join(ROOT, 'scripts', 'prepare-gpu-check.mjs')]);
  });
});
