// Shared by the WebGPU tests: the device (a failure, never a skip, when WebGPU is missing: CI must
// run it), hand-written kernels described as kernel IR, and a packer for their uniform structs.
import type { BufferParam, Kernel, UniformParam } from '../../src/codegen/kernel-ir/types.js';
import type { Span } from '../../src/diagnostics/span.js';
import { acquireDevice, probeWebGpu, type GpuContext } from '../../src/runtime/webgpu/index.js';

/** The process's device; throws the probe's reason (install hint included) when there is none. */
export async function gpu(): Promise<GpuContext> {
  const probe = await probeWebGpu();
  if (!probe.ok) throw new Error(`WebGPU is required for these tests: ${probe.reason}`);
  return acquireDevice();
}

export const span = (line: number, col: number, file = 'tiny.ptm'): Span => ({ file, line, col, offset: 0, end: 0 });

/** A kernel whose WGSL is written by hand: only its interface (buffers, params, locations) matters here. */
export function handKernel(name: string, buffers: BufferParam[], params: UniformParam[], locs: Span[] = [span(3, 5)]): Kernel {
  const zero = { k: 'const', type: { scalar: 'u32', lanes: 1 }, value: 1 } as const;
  return { name, workgroupSize: [64, 1, 1], buffers, params, shared: [], body: [], grid: [zero, zero, zero], locs };
}

/** Scalars of 4 bytes in declaration order, the struct padded to 16 bytes (what our hand WGSL declares). */
export function packScalars(kernel: Kernel, values: Record<string, number>): ArrayBuffer {
  const bytes = new ArrayBuffer(Math.max(16, Math.ceil((kernel.params.length * 4) / 16) * 16));
  const view = new DataView(bytes);
  kernel.params.forEach((p, i) => {
    const v = values[p.name];
    if (v === undefined) throw new Error(`missing parameter ${p.name}`);
    if (p.type.scalar === 'f32') view.setFloat32(i * 4, v, true);
    else if (p.type.scalar === 'i32') view.setInt32(i * 4, v, true);
    else view.setUint32(i * 4, v, true);
  });
  return bytes;
}

/** y[i] = a * x[i] + y[i] for i < n. */
export const SAXPY_WGSL = `
struct Params { n: u32, a: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i < params.n) { y[i] = params.a * x[i] + y[i]; }
}
`;

/** x[i] = x[i] + 1 for i < n. */
export const INCREMENT_WGSL = `
struct Params { n: u32 }
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x < params.n) { x[gid.x] = x[gid.x] + 1.0; }
}
`;
