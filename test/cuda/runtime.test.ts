// The CUDA hosts without a GPU: probeCuda explains itself; entry points throw backend_unavailable; and
// over a fake library (test/cuda/fake-cuda-abi.c, host memory) ProgramSession on CudaDevice and
// scripts/gpu-check.py run the same Program to the same numbers, through the same ABI.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emitCuda } from '../../src/codegen/cuda/emit.js';
import { isPtmError } from '../../src/diagnostics/index.js';
import { ProgramSession } from '../../src/runtime/program/session.js';
import { CudaDevice, CudaError, openCudaLibrary, probeCuda } from '../../src/runtime/cuda/index.js';
import { writeProgramArtifacts } from '../../src/runtime/cuda/gpu-check-artifacts.js';
import type { Tensor } from '../../src/runtime/tensor.js';
import { tensor } from '../../src/runtime/tensor.js';
import { vectorAdd } from '../kernel-ir/kernels.js';
import { addProgram, buildFakeLibrary, gpuCheckPy, ROOT, writeEmitted } from './programs.js';

const dir = mkdtempSync(join(tmpdir(), 'ptm-cuda-runtime-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const SEQ = 300;
const x = tensor('f32', [SEQ], Float32Array.from({ length: SEQ }, (_, i) => Math.sin(i) * 3));
const bias = tensor('f32', [SEQ], Float32Array.from({ length: SEQ }, (_, i) => i / 7 - 20));
/** y = ((x + bias) + x) + (x + bias), rounded as f32 step by step like the kernels. */
const expected = Float32Array.from(x.data, (xi, i) => {
  const t1 = Math.fround(xi + bias.data[i]!);
  return Math.fround(Math.fround(t1 + xi) + t1);
});
let fake = '';

beforeAll(() => {
  fake = buildFakeLibrary(dir, [64, 128]);
});

describe('without a GPU', () => {
  const hasDriver = probeCuda().ok;

  it('probeCuda says why CUDA cannot run here, without throwing', () => {
    const probe = probeCuda();
    if (hasDriver) return expect(probe.reason).toMatch(/NVIDIA driver with \d+ GPU/);
    expect(probe.ok).toBe(false);
    expect(probe.reason).toMatch(/no NVIDIA driver here: libcuda\.so\.1 cannot be opened/);
    expect(probe.reason).toMatch(probe.nvcc ? /nvcc \d+\.\d+ is here, so CUDA code compiles but cannot run/ : /nvcc is not on PATH/);
  });

  it.skipIf(hasDriver)('CudaDevice.open throws a PtmError backend_unavailable naming the reason', () => {
    writeEmitted(join(dir, 'adds'), addProgram());
    let error: unknown;
    try {
      CudaDevice.open(join(dir, 'adds'));
    } catch (e) {
      error = e;
    }
    expect(isPtmError(error)).toBe(true);
    const d = (error as { diagnostics: { code: string; message: string }[] }).diagnostics[0]!;
    expect(d.code).toBe('backend_unavailable');
    expect(d.message).toMatch(/backend 'cuda' is not available here: no NVIDIA driver here/);
  });
});

describe('over a fake library', () => {
  it('ProgramSession on CudaDevice runs the program through ptm_launch with the right ids, grids and arena offsets', async () => {
    const { manifest } = emitCuda(addProgram());
    const device = new CudaDevice(openCudaLibrary(fake, { checkDriver: false }), manifest);
    const session = ProgramSession.create(addProgram(), new Map<string, Tensor>([['bias', bias]]), device);
    const y = (await session.run({ x })).get('y')!;
    expect(y.shape).toEqual([SEQ]);
    expect(Array.from(y.data)).toEqual(Array.from(expected));
  });

  it('names the kernel and the library when a kernel is not in it', () => {
    const device = new CudaDevice(openCudaLibrary(fake, { checkDriver: false }), emitCuda(addProgram()).manifest);
    const other = { ...vectorAdd(), workgroupSize: [32, 1, 1] as [number, number, number] };
    expect(() => device.kernelId(other)).toThrow(CudaError);
    expect(() => device.kernelId(other)).toThrow(/kernel vector_add is not in .*libfake_cuda\.so: it was built from another program/);
  });

  it('turns a failing call into a CudaError with ptm_last_error()', () => {
    const device = new CudaDevice(openCudaLibrary(fake, { checkDriver: false }), emitCuda(addProgram()).manifest);
    const buffer = device.alloc(64, 'b');
    const kernel = addProgram().launches[0]!.instance.kernel;
    const bind = { buffer, offset: 0, size: 64 };
    expect(() => device.dispatch({ ...kernel, grid: [kernel.grid[1], kernel.grid[1], kernel.grid[1]] }, [bind, bind, bind], { n: 16 })).toThrow(/is not in/);
    // A grid the fake refuses: the right kernel, n = 16 but a grid of one workgroup per element.
    const locs = [{ file: 'test.ptm', line: 4, col: 1, offset: 0, end: 0 }];
    const wrongGrid = { ...kernel, locs, grid: [{ k: 'param', type: kernel.grid[0].type, name: 'n' }, kernel.grid[1], kernel.grid[2]] } as typeof kernel;
    device['ids'].set(wrongGrid, 0); // as if the host mapped it to kernel 0
    expect(() => device.dispatch(wrongGrid, [bind, bind, bind], { n: 16 })).toThrow(/launching on grid \(16, 1, 1\) failed \(kernel vector_add, computing test\.ptm:4:1\): fake kernel 0: grid \(16, 1, 1\) for n = 16, expected \(1, 1, 1\)/);
  });
});

describe('scripts/gpu-check.py run-program over the fake library', () => {
  const folder = join(dir, 'adds-check');
  beforeAll(() => {
    writeProgramArtifacts(folder, addProgram(), {
      role: 'check', meta: { model: 'hand-built' }, symbols: new Map([['seq', SEQ]]), inputs: { x },
      params: new Map([['bias', bias]]), reference: new Map([['y', tensor('f32', [SEQ], expected)]]),
    });
  });

  it('checks the program against its reference: PASS', () => {
    const result = JSON.parse(gpuCheckPy('run-program', folder, fake));
    expect(result.correctness).toEqual([{ program: 'adds-check', output: 'y', shape: [SEQ], rel_err: 0, max_abs_err: 0, non_finite: 0, pass: true }]);
    expect(result.forward.launches).toBe(3);
  });

  it('times launches and forward passes with events, and prints the summary table', () => {
    const script = [
      'import importlib.util, json, sys',
      'import numpy as np',
      "spec = importlib.util.spec_from_file_location('gpu_check', sys.argv[1])",
      'm = importlib.util.module_from_spec(spec)',
      'spec.loader.exec_module(m)',
      "p = {'dir': 'adds-check', 'folder': sys.argv[2], 'manifest': m.load_json(sys.argv[2] + '/cuda/manifest.json'), 'data': m.load_json(sys.argv[2] + '/data.json')}",
      'lib = m.Library(sys.argv[3])',
      'rng = np.random.default_rng(0)',
      'forward = m.time_forward(np, lib, p, rng, lambda _: None)',
      'launch = m.time_launch(np, lib, p, 1, rng)',
      "kernel = {'kind': 'matmul', 'label': 'adds #1', 'm': 2, 'k': 3, 'n': 4, 'ptm_ms': 0.5, 'torch_ms': 0.25, 'ptm_tflops': 1.5}",
      "attention = {'kind': 'attention', 'label': 'attn', 'batch': 1, 'heads': 12, 'seq': 128, 'dh': 64, 'causal': True, 'ptm_ms': 0.1, 'torch_ms': 0.1, 'ptm_tflops': 0.2}",
      "row = {'program': 'adds-check', 'output': 'y', 'rel_err': 1e-7, 'max_abs_err': 2e-6, 'pass': True}",
      "print(json.dumps({'forward': forward['launches'], 'times': len(launch), 'table': m.table({'device': lib.device_name(), 'correctness': [row], 'kernels': [kernel, attention], 'forward': [forward]})}))",
    ].join('\n');
    const path = join(dir, 'helpers.py');
    writeFileSync(path, script);
    const out = JSON.parse(execFileSync('python3', [path, join(ROOT, 'scripts', 'gpu-check.py'), folder, fake], { encoding: 'utf8' }));
    expect(out.forward).toBe(3);
    expect(out.times).toBe(50);
    expect(out.table).toContain('ptm gpu-check on fake CUDA device (host memory)');
    expect(out.table).toMatch(/adds #1 +2x3 @ 3x4 +0\.5000 +0\.2500 +2\.00x +1\.50/);
    expect(out.table).toMatch(/attn +\[1,12,128,64\] causal/);
    expect(out.table.trim().split('\n').pop()).toBe('RESULT: PASS (1/1 outputs within rel err 0.0001)');
  });

  it('poisons outputs with NaN, so an element no kernel writes fails the check', () => {
    const program = addProgram();
    program.launches[2]!.instance.params = { n: 'seq-1' };
    const skipping = join(dir, 'adds-skip');
    writeProgramArtifacts(skipping, program, {
      role: 'check', meta: {}, symbols: new Map([['seq', SEQ]]), inputs: { x }, params: new Map([['bias', bias]]), reference: new Map([['y', tensor('f32', [SEQ], expected)]]),
    });
    expect(() => gpuCheckPy('run-program', skipping, fake)).toThrow(/"rel_err": null, "max_abs_err": null, "non_finite": 1, "pass": false/);
  });

  it('reports a wrong result as FAIL', () => {
    const path = join(folder, 'reference.bin');
    const good = readFileSync(path);
    const bad = new Float32Array(good.buffer.slice(good.byteOffset, good.byteOffset + good.byteLength));
    bad[17]! += 1;
    writeFileSync(path, new Uint8Array(bad.buffer));
    try {
      expect(() => gpuCheckPy('run-program', folder, fake)).toThrow(/exited 1[\s\S]*"pass": false/);
    } finally {
      writeFileSync(path, good);
    }
  });
});
