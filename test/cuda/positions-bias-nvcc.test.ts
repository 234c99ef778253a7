// nvcc (through the emitted Makefile, -Werror all-warnings) on the kernels decoding and T5 add: attention
// with a T5 relative bias (f32 table reads, integer bucket thresholds) and with k <= q + dim(past);
// positions from `past` as iota leaves, gathers from a start and iota kernels; sin/cos with their
// range reduction. The programs come through the real pipeline (fusion, lowering, emitCuda).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIBRARY_NAME } from '../../src/codegen/cuda/emit.js';
import { lowerGraph } from '../../src/codegen/lower/lower.js';
import type { Graph } from '../../src/ir/index.js';
import { FUSION_PIPELINE, runPipeline } from '../../src/passes/pipeline.js';
import { decodeGraph, t5AttentionGraph } from '../passes/attention-cases.js';
import { positionsGraph } from '../templates/position-graph.js';
import { make, writeEmitted } from './programs.js';

const GRAPHS: Record<string, () => Graph> = {
  t5_encoder: () => t5AttentionGraph(true),
  t5_decode: () => decodeGraph(true),
  positions: positionsGraph,
};

const dir = mkdtempSync(join(tmpdir(), 'ptm-cuda-positions-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const builds: Record<string, Promise<string>> = {};
const kernels: Record<string, string> = {};

beforeAll(() => {
  // nvcc takes seconds per file: start every build at once; each test awaits its own.
  for (const [name, graph] of Object.entries(GRAPHS)) {
    const emitted = writeEmitted(join(dir, name), lowerGraph(runPipeline(graph(), FUSION_PIPELINE)));
    kernels[name] = emitted.files['kernels.cu'] as string;
    builds[name] = make(join(dir, name));
    builds[name].catch(() => {}); // reported by the test that awaits it
  }
});

describe('nvcc on attention with a T5 bias and dim(past), and on position kernels', () => {
  it('emits the kernels these programs are about', () => {
    expect(kernels.t5_encoder).toMatch(/attention_full_t5bias_q/);
    expect(kernels.t5_decode).toMatch(/attention_causal_offset_t5bias_causal_q/);
    expect(kernels.positions).toMatch(/__global__ void __launch_bounds__\(256\) ew_iota_r1\(/);
    expect(kernels.positions).toMatch(/sinf\(/);
  });

  for (const name of Object.keys(GRAPHS)) {
    it(`builds ${name} without a warning`, async () => {
      const output = await builds[name]!;
      expect(output.trim(), 'nvcc printed something').toBe('');
      expect(readFileSync(join(dir, name, LIBRARY_NAME)).subarray(1, 4).toString()).toBe('ELF');
    }, 300_000);
  }
});
