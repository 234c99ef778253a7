// Whole programs: fusion -> lowering -> kernels, run on the kernel IR interpreter (tiny models) and
// on WebGPU (full-size GPT-2 and BERT), against the CPU reference on the same weights and inputs.
// Tolerance: relative error norm ||ours - ref|| / ||ref|| <= 1e-4 (the bound). Kernels compute
// in f32 with other summation orders than the reference, and erf/tanh/exp differ by a few ulps on
// lavapipe; measured errors are ~3e-7, so 1e-4 has room for real hardware while catching any bug.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { compile } from '../../src/api.js';
import type { Compiled } from '../../src/api.js';
import { planMemory } from '../../src/codegen/lower/memory-plan.js';
import { renderWgsl } from '../../src/codegen/render/wgsl.js';
import { renderCuda } from '../../src/codegen/render/cuda.js';
import { initParams, randomInputs, runGraph, tensor } from '../../src/runtime/index.js';
import type { Tensor } from '../../src/runtime/index.js';
import { ProgramSession } from '../../src/runtime/program/session.js';
import type { KernelDevice } from '../../src/runtime/program/session.js';
import { InterpreterDevice } from '../../src/runtime/program/interpreter-device.js';
import { WebGpuDevice } from '../../src/runtime/program/webgpu-device.js';

const WEBGPU_BINDING = 128 * 2 ** 20;
const TINY = { layers: 2, d: 64, heads: 4, vocab: 97, ctx: 32 };

function build(file: string, set: Record<string, number> = {}): Compiled {
  return compile(readFileSync(file, 'utf8'), { file, set, maxBindingBytes: WEBGPU_BINDING });
}

function relativeError(a: Tensor, b: Tensor): number {
  let err = 0, norm = 0;
  for (let i = 0; i < b.data.length; i++) {
    err += (a.data[i]! - b.data[i]!) ** 2;
    norm += b.data[i]! ** 2;
  }
  return Math.sqrt(err / norm);
}

async function check(c: Compiled, device: KernelDevice, sizes: Record<string, number>): Promise<number> {
  const params = initParams(c.graph, 3);
  const inputs = randomInputs(c.graph, 4, new Map(Object.entries(sizes)));
  const reference = runGraph(c.graph, { inputs, params, precision: 'f32' }).outputs;
  const outputs = await ProgramSession.create(c.program, params, device).run(inputs);
  let worst = 0;
  for (const [name, ref] of reference) {
    const ours = outputs.get(name)!;
    expect(ours.shape, name).toEqual(ref.shape);
    worst = Math.max(worst, relativeError(ours, ref));
  }
  return worst;
}

describe('tiny models on the kernel IR interpreter', () => {
  for (const file of ['models/gpt2.ptm', 'models/bert.ptm']) {
    test(`${file} (layers 2, d 64)`, async () => {
      const err = await check(build(file, TINY), new InterpreterDevice(), { batch: 2, seq: 7 });
      expect(err).toBeLessThanOrEqual(1e-4);
    });
  }
});

describe('full-size models on WebGPU', () => {
  for (const file of ['models/gpt2.ptm', 'models/bert.ptm']) {
    test(`${file} at full size, batch 1, seq 16`, async () => {
      const err = await check(build(file), await WebGpuDevice.create(), { batch: 1, seq: 16 });
      expect(err).toBeLessThanOrEqual(1e-4);
    });
  }
});

describe('compiled structure', () => {
  const gpt2 = build('models/gpt2.ptm');

  test('GPT-2 launches at most 6 kernels per Transformer layer', () => {
    const layerOf = (name: string) => /^layers\.(\d+)\./.exec(name)?.[1];
    const folded = new Map(gpt2.program.folded.ops.map((op) => [op.result.id, op.operands]));
    const perLayer = new Map<string, number>();
    const producer = new Map<string, string>();
    for (const launch of gpt2.program.launches) {
      const params = launch.buffers.flatMap((id) => {
        const b = gpt2.program.buffers.find((x) => x.id === id)!;
        if (b.kind === 'folded') return folded.get(id)!.map((v) => gpt2.graph.params.find((p) => p.value.id === v.id)!.name);
        return b.kind === 'param' ? [b.name!] : [];
      });
      const layer = params.map(layerOf).find(Boolean) ?? (params.length === 0 ? launch.buffers.map((id) => producer.get(id)).find(Boolean) : undefined);
      if (!layer) continue;
      perLayer.set(layer, (perLayer.get(layer) ?? 0) + 1);
      for (const id of launch.buffers) if (!producer.has(id)) producer.set(id, layer);
    }
    expect(perLayer.size).toBe(12);
    for (const n of perLayer.values()) expect(n).toBeLessThanOrEqual(6);
  });

  test('no seq x seq tensor in the memory plan', () => {
    for (const b of gpt2.program.buffers) expect(String(b.elements)).not.toMatch(/seq\^2|seq\*seq/);
    const plan = planMemory(gpt2.program, new Map([['batch', 1], ['seq', 1024]]));
    // The largest intermediate at seq 1024 is the [1024, 3072] FFN activation, not a 1024 x 1024 x 12 score tensor.
    expect(Math.max(...plan.slotBytes)).toBeLessThan(1024 * 1024 * 12 * 4);
    expect(plan.arenaBytes).toBeLessThan(plan.unplannedBytes);
  });

  test('compiling twice gives byte-identical kernels', () => {
    const again = build('models/gpt2.ptm');
    const texts = (c: Compiled) => c.program.launches.map((l) => renderWgsl(l.instance.kernel) + renderCuda(l.instance.kernel)).join('\n');
    expect(texts(again)).toBe(texts(gpt2));
  });
});

describe('inputs the kernels cannot check', () => {
  test('an out-of-range token id is an error naming the input, not a clamped wrong answer', async () => {
    const c = build('models/gpt2.ptm', TINY);
    const session = ProgramSession.create(c.program, initParams(c.graph, 3), new InterpreterDevice());
    const ids = tensor('i32', [1, 3], new Int32Array([5, 97, 2])); // vocab is 97: ids are 0..96
    await expect(session.run({ ids })).rejects.toThrow(/input 'ids' holds 97 at position 1, but it indexes a table of 97 rows/);
    // ctx is 32: 33 positions do not fit the position table.
    await expect(session.run({ ids: tensor('i32', [1, 33], new Int32Array(33)) })).rejects.toThrow(/positions run to 32 .* the position table has 32 rows/);
    const ok = await session.run({ ids: tensor('i32', [1, 3], new Int32Array([5, 96, 2])) });
    expect(ok.get('logits')!.shape).toEqual([1, 3, 97]);
  });
});
