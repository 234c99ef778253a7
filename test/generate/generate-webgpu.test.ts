// Generation on kernels: the step and prologue graphs compiled like `compile()` (fusion, lowering) and
// run by ProgramSession on WebGPU (lavapipe in CI; a failure, never a skip, when it is missing). The
// oracle is recompute on the CPU reference: the same tokens, greedy and sampled, for 20 new tokens.
// Tolerance: logits within 1e-4 of the largest logit (kernels sum in f32 in other orders; measured ~4e-6).
import { beforeAll, describe, expect, test } from 'vitest';
import { compileGraph } from '../../src/api.js';
import { main } from '../../src/cli/main.js';
import { Generator, compileToProgram } from '../../src/runtime/generate/index.js';
import type { GenerateBackend } from '../../src/runtime/generate/index.js';
import { runGraph, tensor } from '../../src/runtime/index.js';
import { InterpreterDevice } from '../../src/runtime/program/interpreter-device.js';
import { ProgramSession } from '../../src/runtime/program/session.js';
import { WebGpuDevice } from '../../src/runtime/program/webgpu-device.js';
import { encDec, params, sourceInputs, TINY_GPT2, tinyGpt2, tinyT5, maxRelativeDiff } from './helpers.js';

const TOLERANCE = 1e-4;
let device: WebGpuDevice;
let webgpu: GenerateBackend;
beforeAll(async () => {
  device = await WebGpuDevice.create();
  webgpu = { kind: 'kernels', device, lower: { maxBindingBytes: 128 * 2 ** 20 } };
});

describe.each([
  ['GPT-2 (layers 2, d 64)', tinyGpt2, {}, 10],
  ['an encoder-decoder with learned positions', encDec, sourceInputs(), 10],
  ['T5 (layers 2, d 64): relative position bias', tinyT5, sourceInputs(), 3],
] as const)('%s on WebGPU with the cache', (_name, model, inputs, scale) => {
  const graph = model();
  const p = params(graph, 2, scale);
  const prompt = [5, 17, 3, 42];

  test('greedy and seeded top-k choose the tokens CPU recompute chooses', async () => {
    const generator = new Generator(graph, p, { backend: webgpu });
    const oracle = new Generator(graph, p, { cache: false });
    for (const sampling of [undefined, { topK: 12, temperature: 1.5, seed: 7 }]) {
      const request = { prompt, maxNewTokens: 20, inputs, keepLogits: true, ...(sampling ? { sampling } : {}) };
      const ours = await generator.generate(request);
      const reference = await oracle.generate(request);
      expect(ours.tokens).toHaveLength(20);
      expect(ours.tokens).toEqual(reference.tokens);
      expect(maxRelativeDiff(ours.logits!, reference.logits!)).toBeLessThanOrEqual(TOLERANCE);
    }
  });
});

test('ptm generate --backend webgpu streams the ids the CPU reference streams', async () => {
  const run = async (...extra: string[]) => {
    let out = '';
    const code = await main(['generate', 'models/gpt2.ptm', ...Object.entries(TINY_GPT2).flatMap(([k, v]) => ['--set', `${k}=${v}`]), '--prompt', '1,2,3', '--max-tokens', '16', '--top-k', '8', '--seed', '4', ...extra], { out: (s) => (out += s + '\n'), err: () => {} });
    expect(code).toBe(0);
    return out.trim().split('\n').map(Number);
  };
  const gpu = await run('--backend', 'webgpu');
  expect(gpu).toHaveLength(16);
  expect(gpu).toEqual(await run('--backend', 'cpu', '--no-cache'));
});

describe('concat on the kernel backends (the cache append)', () => {
  // Operands read through views (a transpose), one of them empty (the cache before the first token).
  const { graph } = compileGraph(`model C {
  input a: f32[batch, n, 3, 4]
  input b: f32[batch, 3, m, 4]
  output y = concat([transpose(a, 1, 2), b], axis: 2) * 2
}
`, { file: 'c.ptm' });
  const program = compileToProgram(graph);
  const values = (shape: number[]) => tensor('f32', shape, Array.from({ length: shape.reduce((x, y) => x * y, 1) }, (_, i) => Math.sin(i + 1)));

  for (const [n, m] of [[2, 5], [0, 5], [4, 1]]) {
    test(`n = ${n}, m = ${m}: exactly the CPU reference`, async () => {
      const inputs = { a: values([2, n, 3, 4]), b: values([2, 3, m, 4]) };
      const reference = runGraph(graph, { inputs, params: new Map() }).outputs.get('y')!;
      for (const on of [new InterpreterDevice(), device]) {
        const ours = (await ProgramSession.create(program, new Map(), on).run(inputs)).get('y')!;
        expect(ours.shape).toEqual([2, 3, n + m, 4]);
        expect(Array.from(ours.data)).toEqual(Array.from(reference.data));
      }
    });
  }
});
