// Programs and tools the CUDA tests share: hand-built Programs over test kernels, the models through the
// real pipeline, nvcc/make/gcc builds (failing clearly when a tool is missing) and the Python evaluator.
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { compileGraph } from '../../src/api.js';
import { emitCuda } from '../../src/codegen/cuda/emit.js';
import * as k from '../../src/codegen/kernel-ir/build.js';
import type { Kernel } from '../../src/codegen/kernel-ir/types.js';
import { lowerGraph } from '../../src/codegen/lower/lower.js';
import type { Launch, Program, ProgramBuffer } from '../../src/codegen/lower/program.js';
import type { Dim } from '../../src/ir/dim.js';
import type { Graph } from '../../src/ir/types.js';
import { FUSION_PIPELINE, runPipeline } from '../../src/passes/pipeline.js';
import { intOps, mathOps, reduceSum, tiledMatmul, vec4Scale, vectorAdd } from '../kernel-ir/kernels.js';

export const ROOT = join(import.meta.dirname, '..', '..');
const run = promisify(execFile);
const loc = { file: 'test.ptm', line: 1, col: 1, offset: 0, end: 0 };

/** vector_add with another workgroup width: same name, different source, so the emitter must rename it. */
export function vectorAddWide(): Kernel {
  const base = vectorAdd();
  return { ...base, workgroupSize: [128, 1, 1], grid: [k.ceilDiv(k.param(k.uniform('n')), 128), k.u(1), k.u(1)] };
}

function buffer(id: string, kind: ProgramBuffer['kind'], elements: Dim, name?: string, storage: ProgramBuffer['storage'] = 'f32'): ProgramBuffer {
  return { id, kind, storage, dtype: storage === 'f32' ? 'f32' : 'i32', elements, ...(name ? { name } : {}) };
}

function launch(kernel: Kernel, buffers: string[], params: Record<string, Dim>): Launch {
  const bind = kernel.buffers.map((b, i) => (b.access === 'read_write' ? { kind: 'output' as const, index: 0 } : { kind: 'input' as const, index: i }));
  return { instance: { kernel, bind, params }, buffers, op: 'add', loc: { ...loc, line: 1 + buffers.length } };
}

const emptyGraph = (name: string): Graph => ({ name, symbols: [], inputs: [], params: [], ops: [], outputs: [] });

/**
 * y = ((x + bias) + x) + (x + bias) = 3x + 2 bias over `seq` floats, in three vector_add launches (two of
 * them the 128-wide variant) through two arena temps.
 */
export function addProgram(): Program {
  const value = (id: string) => ({ id, type: { dtype: 'f32' as const, shape: ['seq'] } });
  const graph: Graph = {
    name: 'adds', symbols: ['seq'], inputs: [{ name: 'x', value: value('%x'), loc }], params: [{ name: 'bias', value: value('%bias'), init: { kind: 'zeros' }, loc }],
    ops: [], outputs: [{ name: 'y', value: value('%y'), loc }],
  };
  const add = vectorAdd(), wide = vectorAddWide();
  return {
    name: 'adds', symbols: ['seq'], graph,
    buffers: [buffer('%x', 'input', 'seq', 'x'), buffer('%bias', 'param', 'seq', 'bias'), buffer('%t1', 'temp', 'seq'), buffer('%t2', 'temp', 'seq'), buffer('%y', 'output', 'seq', 'y')],
    folded: emptyGraph('adds_folded'),
    launches: [launch(add, ['%x', '%bias', '%t1'], { n: 'seq' }), launch(wide, ['%t1', '%x', '%t2'], { n: 'seq' }), launch(wide, ['%t2', '%t1', '%y'], { n: 'seq' })],
    outputs: [{ name: 'y', buffer: '%y', shape: ['seq'], dtype: 'f32' }],
    views: new Map(),
  };
}

/**
 * One launch of every test kernel whose params are all u32, as template kernels' are (f32, i32, u32 and
 * vec4 buffers; shared memory; barriers), for nvcc.
 */
export function zooProgram(): Program {
  const all = [vectorAdd(), vectorAddWide(), reduceSum(), tiledMatmul(), vec4Scale(), intOps(), mathOps()];
  const kernels = all.filter((kernel) => kernel.params.every((p) => p.type.scalar === 'u32'));
  const buffers: ProgramBuffer[] = [];
  const launches = kernels.map((kernel, i) => {
    const ids = kernel.buffers.map((b) => {
      const id = `%k${i}.${b.name}`;
      buffers.push(buffer(id, b.access === 'read' ? 'input' : 'temp', dimFor(b.type.lanes), b.name, b.type.scalar === 'f32' ? 'f32' : b.type.scalar === 'i32' ? 'i32' : 'u32'));
      return id;
    });
    return launch(kernel, ids, Object.fromEntries(kernel.params.map((p, n) => [p.name, n === 0 ? 'seq' : 4])));
  });
  return { name: 'zoo', symbols: ['seq'], graph: emptyGraph('zoo'), buffers, folded: emptyGraph('zoo_folded'), launches, outputs: [], views: new Map() };
}
const dimFor = (lanes: number): Dim => (lanes === 4 ? '4*seq' : 'seq');

/** models/NAME.ptm with `set`, through compileGraph -> FUSION_PIPELINE -> lowerGraph. */
export function modelProgram(model: 'gpt2' | 'bert', set: Record<string, number>) {
  const file = `models/${model}.ptm`;
  const { graph } = compileGraph(readFileSync(join(ROOT, file), 'utf8'), { file, set });
  return { graph, program: lowerGraph(runPipeline(graph, FUSION_PIPELINE)) };
}

export function writeEmitted(dir: string, program: Program): ReturnType<typeof emitCuda> {
  const emitted = emitCuda(program);
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(emitted.files)) writeFileSync(join(dir, name), content);
  return emitted;
}

/** A tool's path, or a thrown Error saying what is missing (CI has nvcc, make, gcc and python3). */
export function requireTool(tool: string, why: string): string {
  try {
    return execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(`${tool} is not on PATH: ${why}`);
  }
}

/** Runs the emitted Makefile silently in `dir` (nvcc with -Werror all-warnings); resolves to what nvcc printed. */
export async function make(dir: string): Promise<string> {
  requireTool('nvcc', 'the CUDA tests compile every emitted kernels.cu with nvcc (CUDA 13.0 for sm_90)');
  requireTool('make', 'the CUDA tests build with the emitted Makefile');
  try {
    const { stdout, stderr } = await run('make', ['-s', '-C', dir, '--no-print-directory'], { maxBuffer: 1 << 24 });
    return `${stdout}${stderr}`;
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`nvcc failed in ${dir}:\n${err.stderr ?? ''}${err.stdout ?? ''}\n${err.message}`);
  }
}

/** The fake CUDA library (test/cuda/fake-cuda-abi.c) built for kernels of the given workgroup widths. */
export function buildFakeLibrary(dir: string, workgroups: number[]): string {
  requireTool('gcc', 'the CUDA host tests build a fake library with gcc');
  const out = join(dir, 'libfake_cuda.so');
  execFileSync('gcc', ['-shared', '-fPIC', '-O1', '-Wall', '-Werror', `-DKERNEL_COUNT=${workgroups.length}`, `-DWORKGROUPS=${workgroups.join(',')}`, '-o', out, join(ROOT, 'test', 'cuda', 'fake-cuda-abi.c')]);
  return out;
}

/** scripts/gpu-check.py with arguments; returns stdout (throws with stderr on a non-zero exit). */
export function gpuCheckPy(...args: string[]): string {
  requireTool('python3', 'the CUDA tests run scripts/gpu-check.py');
  try {
    return execFileSync('python3', [join(ROOT, 'scripts', 'gpu-check.py'), ...args], { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; status?: number };
    throw new Error(`gpu-check.py ${args[0]} exited ${err.status}:\n${err.stderr}\n${err.stdout}`);
  }
}
