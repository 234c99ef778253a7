// ProgramSession keeps one memory plan per binding of the symbols, at most four, freeing the least
// recently used: generation binds a new `past` per token, and every plan owns its slot buffers.
import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { compile } from '../../src/api.js';
import { initParams, randomInputs, runGraph } from '../../src/runtime/index.js';
import { ProgramSession } from '../../src/runtime/program/session.js';
import { InterpreterDevice } from '../../src/runtime/program/interpreter-device.js';
import type { DeviceBuffer } from '../../src/runtime/program/session.js';

test('a session holds at most four memory plans and frees the slots of the ones it drops', async () => {
  const file = 'models/gpt2.ptm';
  const c = compile(readFileSync(file, 'utf8'), { file, set: { layers: 1, d: 32, heads: 2, vocab: 31, ctx: 16 } });
  const params = initParams(c.graph, 1);
  const device = new InterpreterDevice();
  const arenas = new Set<DeviceBuffer>();
  const alloc = device.alloc.bind(device);
  device.alloc = (bytes: number, label?: string) => {
    const buffer = alloc(bytes);
    if (label?.endsWith('arena') || label?.includes(' slot ')) arenas.add(buffer);
    return buffer;
  };
  const freed: DeviceBuffer[] = [];
  (device as { free?: (b: DeviceBuffer) => void }).free = (buffer) => { freed.push(buffer); };
  const session = ProgramSession.create(c.program, params, device);
  for (const seq of [3, 5, 7, 9, 11, 3, 13]) {
    const inputs = randomInputs(c.graph, seq, new Map([['batch', 1], ['seq', seq]]));
    const ours = (await session.run(inputs)).get('logits')!;
    const reference = runGraph(c.graph, { inputs, params, precision: 'f32' }).outputs.get('logits')!;
    // f32 kernels vs the f32 reference with another summation order: 1e-4 relative to the largest logit.
    const scale = Math.max(...reference.data.map(Math.abs));
    reference.data.forEach((r, i) => expect(Math.abs(ours.data[i]! - r)).toBeLessThanOrEqual(1e-4 * scale));
    expect(session.planCount).toBeLessThanOrEqual(4);
  }
  // Seven runs over six bindings: 3, 5 and 7 were dropped as least recently used (3 was planned again).
  expect(arenas.size).toBe(7);
  expect(freed.filter((b) => arenas.has(b)).length).toBe(3);
});
