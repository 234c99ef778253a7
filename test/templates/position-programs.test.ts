// Positions from graph to kernels: iotas numbered from `past` (decoding with a cache) go through the
// fusion pipeline and lowering and run in a session on the kernel IR interpreter and on WebGPU.
// Fusion makes them iota leaves of elementwise bodies (also through a reshape to [seq, 1], and when two
// bodies read one iota), gathers from a start, or, where a matmul reads one or it is an output, an
// elementwise kernel of its own. References: float64 formulas here, with the angle rounded to f32 as a
// kernel computes it; tolerances: 2e-6 for values of order 1 (f32 rounding of a few ops plus sin/cos
// at ~1.5e-7, see positions.test.ts), integer positions exact.
import { describe, expect, it } from 'vitest';
import { lowerGraph } from '../../src/codegen/lower/lower.js';
import type { Program } from '../../src/codegen/lower/program.js';
import type { FusedExpr } from '../../src/ir/fused.js';
import { printFused } from '../../src/ir/fused.js';
import { FUSION_PIPELINE, runPipeline } from '../../src/passes/pipeline.js';
import type { Tensor } from '../../src/runtime/index.js';
import { initParams, tensor } from '../../src/runtime/index.js';
import type { KernelDevice } from '../../src/runtime/program/session.js';
import { ProgramSession } from '../../src/runtime/program/session.js';
import { InterpreterDevice } from '../../src/runtime/program/interpreter-device.js';
import { WebGpuDevice } from '../../src/runtime/program/webgpu-device.js';
import { seeded } from './helpers.js';
import { POSITION_GRAPH, positionsGraph } from './position-graph.js';

const TOL = 2e-6;
const { D } = POSITION_GRAPH;

function compileProgram(): Program {
  return lowerGraph(runPipeline(positionsGraph(), FUSION_PIPELINE, { verify: true }));
}

function expected(name: string, params: Map<string, Tensor>, x: Float32Array, seq: number, past: number): number[] {
  const p = (n: string) => params.get(n)!.data;
  const angle = (i: number, j: number) => Math.fround((past + i) * p('freq')[j]!);
  const grid = (cols: number, f: (i: number, j: number) => number) => Array.from({ length: seq * cols }, (_, n) => f(Math.floor(n / cols), n % cols));
  switch (name) {
    case 'h': return grid(D, (i, j) => x[i * D + j]! + p('wpe')[(past + i) * D + j]! + Math.sin(angle(i, j)));
    case 'c': return grid(D, (i, j) => Math.cos(angle(i, j)));
    case 'positions': return grid(1, (i) => past + i);
    default: return grid(4, (i, j) => (past + i) * p('w')[j]!);
  }
}

async function runOn(device: KernelDevice, seq: number, past: number): Promise<void> {
  const program = compileProgram();
  const params = initParams(program.graph, 11);
  const rand = seeded(seq * 100 + past);
  const x = Float32Array.from({ length: seq * D }, () => rand() * 4 - 2);
  const outputs = await ProgramSession.create(program, params, device).run({ x: tensor('f32', [seq, D], x), cache: tensor('f32', [past, D], new Float32Array(past * D)) });
  for (const name of ['h', 'c', 'positions', 'm']) {
    const got = outputs.get(name)!.data, want = expected(name, params, x, seq, past);
    const worst = want.reduce((m, v, n) => Math.max(m, Math.abs(Number(got[n]) - v) / Math.max(Math.abs(v), 1)), 0);
    expect(worst, `${name}, seq ${seq}, past ${past}`).toBeLessThanOrEqual(name === 'positions' ? 0 : TOL);
  }
}

describe('positions from past through fusion and lowering', () => {
  it('fuses iotas into bodies (through a reshape, read by two bodies), gathers from past, and launches the rest as iota kernels', () => {
    const program = compileProgram();
    const bodies = program.graph.ops.filter((op) => op.op === 'fused_elementwise').map((op) => printFused(op.attrs.expr as FusedExpr));
    expect(bodies.filter((b) => b.includes('(iota:i32 [seq, 1] 0 past)'))).toHaveLength(2); // sin and cos bodies
    expect(bodies.some((b) => b.includes('(gather [$1] 64 (iota past) [seq, 8])'))).toBe(true);
    expect(program.launches.map((l) => l.op).filter((op) => op === 'iota')).toHaveLength(2); // the output and the matmul's operand
    expect(program.graph.ops.filter((op) => op.op === 'reshape' && op.operands[0]!.type.dtype === 'i32')).toEqual([]);
  });

  for (const [seq, past] of [[5, 0], [7, 9], [1, 63]] as const) {
    it(`kernel IR interpreter, seq ${seq}, past ${past}`, () => runOn(new InterpreterDevice(), seq, past));
    it(`WebGPU, seq ${seq}, past ${past}`, async () => runOn(await WebGpuDevice.create(), seq, past));
  }

  it('refuses positions past the end of the table on the host (a kernel would clamp them silently)', async () => {
    const program = compileProgram();
    const session = ProgramSession.create(program, initParams(program.graph, 11), new InterpreterDevice());
    const run = session.run({ x: tensor('f32', [7, D], new Float32Array(7 * D)), cache: tensor('f32', [60, D], new Float32Array(60 * D)) });
    await expect(run).rejects.toThrow(/positions run to 66 \(length seq = 7 from past = 60\), but the position table has 64 rows/);
  });
});
