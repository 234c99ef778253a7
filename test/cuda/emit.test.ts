// emitCuda: the files, deduplication and renaming of kernels, byte-identical output, and nvcc (through
// the emitted Makefile, -Werror all-warnings) on hand-built kernels and on GPT-2 and BERT (one layer).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emitCuda, LIBRARY_NAME, NVCC_FLAGS } from '../../src/codegen/cuda/emit.js';
import { ABI_PROTOTYPES } from '../../src/codegen/cuda/host-abi.js';
import { gridTree } from '../../src/codegen/cuda/manifest.js';
import * as k from '../../src/codegen/kernel-ir/build.js';
import { vectorAdd } from '../kernel-ir/kernels.js';
import { addProgram, make, modelProgram, writeEmitted, zooProgram } from './programs.js';

const dir = mkdtempSync(join(tmpdir(), 'ptm-cuda-emit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const builds: Record<string, Promise<string>> = {};

beforeAll(() => {
  // nvcc takes seconds per file: start every build once, in parallel; the tests await theirs.
  writeEmitted(join(dir, 'zoo'), zooProgram());
  writeEmitted(join(dir, 'empty'), { ...addProgram(), launches: [] });
  writeEmitted(join(dir, 'gpt2'), modelProgram('gpt2', {}).program); // full size, as shipped
  writeEmitted(join(dir, 'bert'), modelProgram('bert', {}).program);
  for (const name of ['zoo', 'empty', 'gpt2', 'bert']) {
    builds[name] = make(join(dir, name));
    builds[name].catch(() => {}); // reported by the test that awaits it
  }
});

describe('emitCuda on a hand-built program', () => {
  it('writes kernels.cu, manifest.json, Makefile, build.sh and README.txt', () => {
    const { files } = emitCuda(addProgram());
    expect(Object.keys(files).sort()).toEqual(['Makefile', 'README.txt', 'build.sh', 'kernels.cu', 'manifest.json']);
    expect(files.Makefile).toContain(`NVCCFLAGS := ${NVCC_FLAGS.join(' ')}`);
    expect(files.Makefile).toContain(`${LIBRARY_NAME}: kernels.cu`);
    expect(files['build.sh']).toContain(NVCC_FLAGS.join(' '));
    for (const prototype of ABI_PROTOTYPES) expect(files['README.txt']).toContain(prototype);
  });

  it('emits each distinct kernel once, renaming a different kernel that reuses a name', () => {
    const { files, manifest } = emitCuda(addProgram());
    const source = files['kernels.cu'] as string;
    expect(manifest.kernels.map((x) => [x.symbol, x.name, x.workgroupSize[0]])).toEqual([['vector_add', 'vector_add', 64], ['vector_add_v2', 'vector_add', 128]]);
    expect(manifest.launches.map((l) => l.kernel)).toEqual([0, 1, 1]);
    expect(source.match(/__global__ void/g)).toHaveLength(2);
    expect(source).toContain('extern "C" __global__ void __launch_bounds__(128) vector_add_v2(');
    expect(source).toContain('vector_add_v2<<<dim3(gx, gy, gz), dim3(128, 1, 1)>>>(static_cast<float*>(buffers[0]), static_cast<float*>(buffers[1]), static_cast<float*>(buffers[2]), params[0]);');
    expect(manifest.kernels[0]!.fingerprint).not.toBe(manifest.kernels[1]!.fingerprint);
  });

  it('keeps kernels apart that differ only in their grid (the source does not contain it)', () => {
    const program = addProgram();
    const first = program.launches[0]!;
    const kernel = first.instance.kernel;
    const twice = { ...kernel, grid: [k.mul(kernel.grid[0], 2), kernel.grid[1], kernel.grid[2]] as typeof kernel.grid };
    program.launches.push({ ...first, instance: { ...first.instance, kernel: twice } });
    const { manifest } = emitCuda(program);
    expect(manifest.kernels.map((x) => x.symbol)).toEqual(['vector_add', 'vector_add_v2', 'vector_add_v3']);
    expect(manifest.kernels[2]!.grid[0]).toEqual(['*', ['/', ['+', 'n', 63], 64], 2]);
  });

  it('describes buffers, launches and outputs in the manifest', () => {
    const { manifest } = emitCuda(addProgram());
    expect(manifest.symbols).toEqual(['seq']);
    expect(manifest.inputs).toEqual([{ name: 'x', buffer: '%x', shape: ['seq'], dtype: 'f32' }]);
    expect(manifest.outputs).toEqual([{ name: 'y', buffer: '%y', shape: ['seq'], dtype: 'f32' }]);
    expect(manifest.buffers.find((b) => b.id === '%bias')).toEqual({ id: '%bias', kind: 'param', storage: 'f32', dtype: 'f32', elements: 'seq', name: 'bias', bound: true });
    expect(manifest.launches[1]).toEqual({ kernel: 1, buffers: ['%t1', '%x', '%t2'], params: ['seq'], op: 'add', loc: 'test.ptm:4:1' });
    expect(manifest.kernels[0]!.grid).toEqual([['/', ['+', 'n', 63], 64], 1, 1]);
  });

  it('refuses grid expressions outside u32 params, constants and + - * / % min max', () => {
    const kernel = vectorAdd();
    const n = k.param(k.uniform('n'));
    expect(() => gridTree(kernel, k.select(k.lt(n, 4), n, k.u(4)))).toThrow(/grid uses a 'select' expression/);
    expect(() => gridTree(kernel, k.bin('<<', n, k.u(1)))).toThrow(/grid uses '<<'/);
  });

  it('is deterministic: two compilations give byte-identical files', () => {
    const first = emitCuda(modelProgram('gpt2', { layers: 2 }).program).files;
    const second = emitCuda(modelProgram('gpt2', { layers: 2 }).program).files;
    expect(Object.keys(second)).toEqual(Object.keys(first));
    for (const name of Object.keys(first)) expect(second[name], name).toEqual(first[name]);
  });
});

describe('nvcc -Werror all-warnings through the emitted Makefile', () => {
  for (const name of ['zoo', 'empty', 'gpt2', 'bert']) {
    it(`builds ${name} without a warning`, async () => {
      const output = await builds[name]!;
      expect(output.trim(), 'nvcc printed something').toBe('');
      expect(readFileSync(join(dir, name, LIBRARY_NAME)).subarray(1, 4).toString()).toBe('ELF');
    }, 300_000);
  }

  it('dedupes the model kernels: gpt2 and bert launch far more often than they have kernels', () => {
    const gpt2 = JSON.parse(readFileSync(join(dir, 'gpt2', 'manifest.json'), 'utf8'));
    const bert = JSON.parse(readFileSync(join(dir, 'bert', 'manifest.json'), 'utf8'));
    const oneLayer = emitCuda(modelProgram('gpt2', { layers: 1 }).program).manifest;
    expect(gpt2.launches.length).toBeGreaterThan(oneLayer.launches.length);
    expect(gpt2.kernels.map((x: { fingerprint: string }) => x.fingerprint)).toEqual(oneLayer.kernels.map((x) => x.fingerprint));
    expect(bert.kernels.length).toBeLessThan(bert.launches.length);
  });
});
