/// <reference types="@webgpu/types" />
// Every test kernel rendered to WGSL and run on WebGPU (Dawn over Mesa lavapipe in CI), compared with
// the interpreter: exact for integer results and single rounded f32 ops; otherwise within 1e-6 relative
// (lavapipe's exp/log/pow are off by up to ~10 ulps, and it does not fuse fma) plus an absolute 1e-7
// (its tanh near 0 is (e^2x - 1)/(e^2x + 1): absolute error ~2e-8, relative 2e-5 at x = 1e-3).
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Kernel } from '../../src/codegen/kernel-ir/types.js';
import { evalGrid, runKernel, type KernelArray } from '../../src/codegen/kernel-ir/interpret.js';
import { packParams, renderWgsl } from '../../src/codegen/render/wgsl.js';
import { INT_OPS, intOps, MATH_OPS, mathOps, reduceSum, tiledMatmul, vec4Scale, vectorAdd } from '../kernel-ir/kernels.js';
import { vec4Math } from './all-kernels.js';

let device: GPUDevice;

beforeAll(async () => {
  const dawn = (await import('webgpu')) as unknown as { create(options: string[]): GPU; globals: object };
  Object.assign(globalThis, dawn.globals);
  // Dawn crashes once its GPU object is collected: keep it for the life of the process.
  const holder = globalThis as { __ptmDawnGpu?: GPU };
  holder.__ptmDawnGpu ??= dawn.create([]);
  const adapter = await holder.__ptmDawnGpu.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter: run scripts/install-lavapipe.sh to install Mesa lavapipe (a CPU Vulkan driver)');
  device = await adapter.requestDevice({ requiredLimits: { maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage } });
});

afterAll(() => device?.destroy());

type Arrays = Record<string, KernelArray>;

/** Compiles `kernel`'s WGSL (failing with Dawn's messages), runs it once, returns its read_write buffers. */
async function runOnGpu(kernel: Kernel, inputs: Arrays, params: Record<string, number>): Promise<Arrays> {
  const code = renderWgsl(kernel);
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code });
  const messages = (await module.getCompilationInfo()).messages.map((m) => `${m.type} ${m.lineNum}:${m.linePos} ${m.message}`);
  const entries: GPUBindGroupLayoutEntry[] = kernel.buffers.map((b, binding) => ({
    binding, visibility: GPUShaderStage.COMPUTE, buffer: { type: b.access === 'read' ? 'read-only-storage' : 'storage' },
  }));
  if (kernel.params.length) entries.push({ binding: kernel.buffers.length, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } });
  const layout = device.createBindGroupLayout({ entries });
  const pipeline = device.createComputePipeline({ layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }), compute: { module, entryPoint: 'main' } });
  const error = await device.popErrorScope();
  if (error || messages.some((m) => m.startsWith('error'))) throw new Error(`WGSL of ${kernel.name} rejected: ${error?.message ?? ''}\n${messages.join('\n')}\n--- source ---\n${code}`);

  const gpuBuffers = kernel.buffers.map((b) => {
    const data = inputs[b.name]!;
    const buffer = device.createBuffer({ size: Math.max(16, data.byteLength), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(buffer, 0, data);
    return buffer;
  });
  const bindings: GPUBindGroupEntry[] = gpuBuffers.map((buffer, binding) => ({ binding, resource: { buffer } }));
  if (kernel.params.length) {
    const bytes = packParams(kernel, params);
    const uniform = device.createBuffer({ size: bytes.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(uniform, 0, bytes);
    bindings.push({ binding: kernel.buffers.length, resource: { buffer: uniform } });
  }
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, device.createBindGroup({ layout, entries: bindings }));
  pass.dispatchWorkgroups(...evalGrid(kernel, params));
  pass.end();
  const readbacks = kernel.buffers.map((b, n) => {
    if (b.access === 'read') return null;
    const staging = device.createBuffer({ size: gpuBuffers[n]!.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    encoder.copyBufferToBuffer(gpuBuffers[n]!, 0, staging, 0, gpuBuffers[n]!.size);
    return staging;
  });
  device.queue.submit([encoder.finish()]);
  const out: Arrays = {};
  for (const [n, b] of kernel.buffers.entries()) {
    const staging = readbacks[n];
    if (!staging) continue;
    await staging.mapAsync(GPUMapMode.READ);
    const like = inputs[b.name]!;
    const Ctor = like.constructor as new (buffer: ArrayBuffer) => KernelArray;
    out[b.name] = new Ctor(staging.getMappedRange().slice(0, like.byteLength));
    staging.unmap();
  }
  return out;
}

/** Runs `kernel` on the GPU and in the interpreter from the same inputs; returns both sets of outputs. */
async function both(kernel: Kernel, inputs: Arrays, params: Record<string, number>): Promise<{ gpu: Arrays; ref: Arrays }> {
  const gpu = await runOnGpu(kernel, inputs, params);
  const ref: Arrays = Object.fromEntries(Object.entries(inputs).map(([name, a]) => [name, a.slice()]));
  runKernel(kernel, { buffers: ref, params });
  return { gpu, ref };
}

/** |gpu - interpreter| <= relative * |interpreter| + absolute, element by element. */
function expectClose(actual: KernelArray, expected: KernelArray, relative: number, what: string, absolute = 0): void {
  expect(actual.length).toBe(expected.length);
  for (let j = 0; j < expected.length; j++) {
    const [a, e] = [actual[j]!, expected[j]!];
    if (Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e))) continue;
    expect(Math.abs(a - e), `${what}[${j}]: gpu ${a}, interpreter ${e}`).toBeLessThanOrEqual(relative * Math.abs(e) + absolute);
  }
}

const floats = (n: number, seed: number) => {
  let s = seed;
  return Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0), s / 2 ** 31 - 1));
};

describe('WGSL on Dawn matches the interpreter', () => {
  test('vector_add', async () => {
    const n = 1000;
    const { gpu, ref } = await both(vectorAdd(), { a: floats(n, 1), b: floats(n, 2), out: new Float32Array(n) }, { n });
    expect(gpu.out).toEqual(ref.out); // one rounded add: exact
  });

  test('reduce_sum', async () => {
    const n = 5000;
    const { gpu, ref } = await both(reduceSum(), { x: floats(n, 3), partial: new Float32Array(8) }, { n });
    expect(gpu.partial).toEqual(ref.partial); // same order of f32 adds: exact
  });

  test('matmul_tiled_16', async () => {
    const [M, N, K] = [37, 29, 45];
    const { gpu, ref } = await both(tiledMatmul(), { a: floats(M * K, 4), b: floats(K * N, 5), c: new Float32Array(M * N) }, { M, N, K });
    // lavapipe does not fuse fma (WGSL allows that; it matched an unfused reference exactly), the
    // interpreter does: errors differ by up to an ulp per step, relative to the sum of |products|.
    expectClose(gpu.c!, ref.c!, 1e-6, 'c', 1e-6);
  });

  test('vec4_scale', async () => {
    const n4 = 40;
    const { gpu, ref } = await both(vec4Scale(), { a: floats(4 * n4, 6), out: new Float32Array(4 * n4), lanes: new Float32Array(n4) }, { n4, scale: 0.37 });
    expect(gpu.out).toEqual(ref.out);
    expect(gpu.lanes).toEqual(ref.lanes);
  });

  test('int_ops: exact integer semantics', async () => {
    const a = Int32Array.from([7, -7, 7, -7, -2147483648, 5, 2147483647, 3, -1, 123456789, 0, -5]);
    const b = Int32Array.from([2, 2, -2, -2, -1, 0, 1, 35, 31, 987654321, 0, 32]);
    const x = Float32Array.from([2.9, -2.9, 3e9, -3e9, 1.5, 0.5, 1e10, -0.75, 4294967040, 2147483520, -2147483904, 0.49]);
    const n = a.length;
    const { gpu, ref } = await both(intOps(), { a, b, x, out_i: new Int32Array(n * INT_OPS), out_u: new Uint32Array(n * INT_OPS) }, { n });
    expect([...gpu.out_i!]).toEqual([...ref.out_i!]);
    expect([...gpu.out_u!]).toEqual([...ref.out_u!]);
  });

  test('math_ops', async () => {
    const x = Float32Array.from([-3, -0.5, 0, 0.1, 1, 2.5, 10, 80, -80, 1e-3, 7.25, -7.25, 0.75, 33]);
    const n = x.length;
    const { gpu, ref } = await both(mathOps(), { x, out: new Float32Array(n * MATH_OPS) }, { n });
    expectClose(gpu.out!, ref.out!, 1e-6, 'out', 1e-7);
  });

  test('vec4_math', async () => {
    const n4 = 16;
    const { gpu, ref } = await both(vec4Math(), { a: floats(4 * n4, 7).map((v) => v * 3), out: new Float32Array(4 * n4) }, { n4 });
    expectClose(gpu.out!, ref.out!, 1e-6, 'out', 1e-7);
  });
});
