// GPT-2 and BERT (2 layers) on our CPU reference runtime against onnxruntime-node running the ONNX
// export of the same graph with the same weights: an engine nobody here wrote must agree.
// Tolerance: max abs error 1e-4 on f32 outputs of magnitude ~1–10. Both engines compute in f32 but
// sum in different orders (our matmul accumulates in f64, ORT's MLAS in f32 with FMA); over two
// layers of 768-wide dot products that leaves ~1e-5 of disagreement, so 1e-4 catches any real bug
// (a wrong mask, scale or epsilon moves outputs by 1e-2 or more) without flaking.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import * as ort from 'onnxruntime-node';
import { compileGraph } from '../../src/api.js';
import { exportOnnx } from '../../src/codegen/onnx/index.js';
import type { Graph } from '../../src/ir/types.js';
import { initParams, randomInputs, runGraph } from '../../src/runtime/index.js';
import type { Tensor } from '../../src/runtime/index.js';

function toOrt(t: Tensor): ort.Tensor {
  switch (t.dtype) {
    case 'i32': return new ort.Tensor('int32', Int32Array.from(t.data), t.shape);
    case 'i64': return new ort.Tensor('int64', BigInt64Array.from(Array.from(t.data, (v) => BigInt(v))), t.shape);
    case 'bool': return new ort.Tensor('bool', Uint8Array.from(t.data), t.shape);
    default: return new ort.Tensor('float32', Float32Array.from(t.data), t.shape);
  }
}

async function compare(file: string, sizes: Record<string, number>): Promise<{ name: string; maxAbs: number; scale: number }[]> {
  const { graph } = compileGraph(readFileSync(file, 'utf8'), { file, set: { layers: 2 } });
  const params = initParams(graph, 7);
  const inputs = randomInputs(graph, 11, new Map(Object.entries(sizes)));
  const ours = runGraph(graph, { inputs, params, precision: 'f32' }).outputs;
  const session = await ort.InferenceSession.create(exportOnnx(graph as Graph, params).model);
  const feeds = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, toOrt(v)]));
  const theirs = await session.run(feeds);
  return graph.outputs.map(({ name }) => {
    const a = ours.get(name)!.data;
    const b = theirs[name]!.data as Float32Array;
    expect(b.length).toBe(a.length);
    let maxAbs = 0, scale = 0;
    for (let i = 0; i < a.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(a[i]! - b[i]!));
      scale = Math.max(scale, Math.abs(b[i]!));
    }
    return { name, maxAbs, scale };
  });
}

describe('onnxruntime agrees with the CPU reference', () => {
  test('gpt2 --set layers=2, batch 2, seq 16', async () => {
    for (const r of await compare('models/gpt2.ptm', { batch: 2, seq: 16 })) {
      expect(r.scale).toBeGreaterThan(0.1); // the outputs are not trivially zero
      expect(r.maxAbs, r.name).toBeLessThanOrEqual(1e-4);
    }
  });

  test('bert --set layers=2, batch 2, seq 16, with padding', async () => {
    const results = await compare('models/bert.ptm', { batch: 2, seq: 16 });
    expect(results.map((r) => r.name)).toEqual(['hidden', 'pooled']);
    for (const r of results) {
      expect(r.scale).toBeGreaterThan(0.1);
      expect(r.maxAbs, r.name).toBeLessThanOrEqual(1e-4);
    }
  });
});
