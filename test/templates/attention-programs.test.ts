// Attention graphs (every mask form, integer/bool biases, T5's relative bias, decoding with a
// key/value cache: test/passes/attention-cases.ts) through fusion and lowering, run in a session on
// the kernel IR interpreter and on WebGPU, against the cpu reference runtime in float64 on the same
// graph. The template-level tests check the kernels against formulas written out (attention-bias);
// this checks the lowering's wiring: which operands the mask and the bias read, their layouts, dims.
// Tolerance 2e-5 absolute (outputs of order 1): f32 projections (K = 8) and an online softmax in f32
// against float64; rows with no visible key must be 0 on both sides.
import { describe, expect, it } from 'vitest';
import { lowerGraph } from '../../src/codegen/lower/lower.js';
import type { Graph } from '../../src/ir/index.js';
import { FUSION_PIPELINE, runPipeline } from '../../src/passes/pipeline.js';
import type { Tensor } from '../../src/runtime/index.js';
import { initParams, runGraph } from '../../src/runtime/index.js';
import type { KernelDevice } from '../../src/runtime/program/session.js';
import { ProgramSession } from '../../src/runtime/program/session.js';
import { InterpreterDevice } from '../../src/runtime/program/interpreter-device.js';
import { WebGpuDevice } from '../../src/runtime/program/webgpu-device.js';
import { BIASES, MASKS, attentionGraph, attentionInputs, decodeGraph, decodeInputs, normalTensor, t5AttentionGraph } from '../passes/attention-cases.js';

const TOL = 2e-5;

async function check(graph: Graph, inputs: Record<string, Tensor>, device: KernelDevice): Promise<void> {
  const program = lowerGraph(runPipeline(graph, FUSION_PIPELINE, { verify: true }));
  expect(program.launches.filter((l) => l.op === 'attention')).toHaveLength(1);
  const params = initParams(graph, 5);
  const want = runGraph(graph, { inputs, params, precision: 'f64' }).outputs;
  const got = await ProgramSession.create(program, params, device).run(inputs);
  for (const [name, w] of want) {
    const g = got.get(name)!;
    expect(g.shape, name).toEqual(w.shape);
    let worst = 0;
    for (let n = 0; n < w.data.length; n++) worst = Math.max(worst, Math.abs(Number(g.data[n]) - Number(w.data[n])) || 0, Number.isNaN(Number(g.data[n])) ? Infinity : 0);
    expect(worst, name).toBeLessThanOrEqual(TOL);
  }
}

const t5Inputs = (batch: number, seq: number) => ({ x: normalTensor([batch, seq, 8], 40 + seq) });

describe('attention programs on the kernel IR interpreter', () => {
  // 19 tokens: two key tiles of 16; `long` holds 7 positions, so its mask runs with 6 tokens
  for (const { name, mask } of MASKS) it(`mask: ${name}`, () => check(attentionGraph(mask), attentionInputs(3, name.includes('longer') ? 6 : 19, 1), new InterpreterDevice()));
  for (const { name, mask, bias } of BIASES) it(`bias: ${name}`, () => check(attentionGraph(mask, bias), attentionInputs(3, 19, 2), new InterpreterDevice()));
  for (const bidirectional of [true, false]) {
    for (const seq of [1, 20, 150]) {
      it(`T5 ${bidirectional ? 'encoder' : 'decoder'} attention, ${seq} tokens`, () => check(t5AttentionGraph(bidirectional), t5Inputs(2, seq), new InterpreterDevice()));
    }
  }
  for (const t5 of [false, true]) {
    for (const [seq, past] of [[1, 0], [1, 37], [7, 130], [20, 5]] as const) {
      it(`decode step${t5 ? ' with the T5 bias' : ''}: seq ${seq}, past ${past}`, () => check(decodeGraph(t5), decodeInputs(2, seq, past, 3), new InterpreterDevice()));
    }
  }
});

describe('attention programs on WebGPU', () => {
  it('T5 encoder and decoder attention, 150 tokens', async () => {
    for (const bidirectional of [true, false]) await check(t5AttentionGraph(bidirectional), t5Inputs(2, 150), await WebGpuDevice.create());
  });
  it('decode steps with the T5 bias, past 0 and 130', async () => {
    for (const [seq, past] of [[1, 0], [7, 130]] as const) await check(decodeGraph(true), decodeInputs(2, seq, past, 3), await WebGpuDevice.create());
  });
  it('an integer bias and a bool bias', async () => {
    for (const { mask, bias } of BIASES.slice(0, 2)) await check(attentionGraph(mask, bias), attentionInputs(3, 19, 2), await WebGpuDevice.create());
  });
});
