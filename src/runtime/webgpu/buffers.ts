// Storage buffers for tensors: create, upload, download (through a staging buffer and mapAsync), and
// bind sub-ranges. Sizes are checked against the device's binding limit here; splitting a tensor
// that is too big is the compiler's job, so this only says clearly that it must.
/// <reference types="@webgpu/types" />
import type { GpuContext } from './device.js';
import { WebGpuError } from './errors.js';

// GPUBufferUsage / GPUMapMode values (fixed by the spec), so this module works before Dawn's globals exist.
export const Usage = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80, QUERY_RESOLVE: 0x200 } as const;
const MAP_READ_MODE = 0x1;

export type ElementType = 'f32' | 'i32' | 'u32';
export type HostArray = Float32Array | Int32Array | Uint32Array;

const ARRAYS = { f32: Float32Array, i32: Int32Array, u32: Uint32Array } as const;

export const alignTo = (n: number, alignment: number): number => Math.ceil(n / alignment) * alignment;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(bytes % 2 ** 20 ? 1 : 0)} MiB`;

/** Throws unless a binding of `bytes` for tensor `name` fits the device's maxStorageBufferBindingSize. */
export function checkBindingSize(ctx: GpuContext, name: string, bytes: number): void {
  const limit = ctx.limits.maxStorageBufferBindingSize;
  if (bytes > limit) {
    throw new WebGpuError(
      'binding_too_large',
      `webgpu: tensor '${name}' needs ${bytes} bytes (${mib(bytes)}) but this device binds at most ` +
        `maxStorageBufferBindingSize = ${limit} bytes (${mib(limit)}) per storage buffer; the compiler must split it`,
    );
  }
}

/** A storage buffer for tensor `name` (the buffer's label), its size padded to a multiple of 4 bytes. */
export function createStorageBuffer(ctx: GpuContext, name: string, byteLength: number): GPUBuffer {
  checkBindingSize(ctx, name, byteLength);
  const size = Math.max(4, alignTo(byteLength, 4));
  return ctx.device.createBuffer({ label: name, size, usage: Usage.STORAGE | Usage.COPY_SRC | Usage.COPY_DST });
}

/** A new storage buffer holding `data` (written at creation, no queue round trip). */
export function uploadTensor(ctx: GpuContext, name: string, data: HostArray): GPUBuffer {
  checkBindingSize(ctx, name, data.byteLength);
  const size = Math.max(4, alignTo(data.byteLength, 4));
  const buffer = ctx.device.createBuffer({
    label: name,
    size,
    usage: Usage.STORAGE | Usage.COPY_SRC | Usage.COPY_DST,
    mappedAtCreation: true,
  });
  new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  buffer.unmap();
  return buffer;
}

/** Writes `data` into a buffer (or a bound range of one) at `byteOffset` from its start, in queue order. */
export function writeTensor(ctx: GpuContext, target: GPUBuffer | GPUBufferBinding, data: HostArray, byteOffset = 0): void {
  const binding = 'buffer' in target ? target : { buffer: target };
  const offset = (binding.offset ?? 0) + byteOffset;
  const room = (binding.size ?? binding.buffer.size - (binding.offset ?? 0)) - byteOffset;
  if (offset % 4 !== 0 || data.byteLength > room) {
    throw new WebGpuError('binding_out_of_range', `webgpu: writing ${data.byteLength} bytes at offset ${offset} of '${binding.buffer.label}' (room ${room}; offsets must be multiples of 4)`);
  }
  ctx.device.queue.writeBuffer(binding.buffer, offset, data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Reads a buffer (or a bound range of one) back as `type`. Work submitted earlier runs first; work
 * still being recorded (an executor's unflushed dispatches) does not: use WebGpuExecutor.download.
 */
export async function downloadTensor(ctx: GpuContext, source: GPUBuffer | GPUBufferBinding, type: ElementType): Promise<HostArray> {
  const binding = 'buffer' in source ? source : { buffer: source };
  const offset = binding.offset ?? 0;
  const bytes = binding.size ?? binding.buffer.size - offset;
  const padded = alignTo(bytes, 4);
  const { device } = ctx;
  const staging = device.createBuffer({ label: `${binding.buffer.label} (readback)`, size: Math.max(4, padded), usage: Usage.MAP_READ | Usage.COPY_DST });
  try {
    const encoder = device.createCommandEncoder();
    encoder.copyBufferToBuffer(binding.buffer, offset, staging, 0, padded);
    device.queue.submit([encoder.finish()]);
    await staging.mapAsync(MAP_READ_MODE, 0, Math.max(4, padded));
    const copy = staging.getMappedRange(0, Math.max(4, padded)).slice(0, Math.floor(bytes / 4) * 4);
    staging.unmap();
    return new ARRAYS[type](copy);
  } finally {
    staging.destroy();
  }
}

/**
 * Binds bytes [offset, offset + size) of a buffer, checked against minStorageBufferOffsetAlignment,
 * the buffer's size and the binding limit; `name` is the tensor the range holds, for errors.
 */
export function bindRange(ctx: GpuContext, buffer: GPUBuffer, offset: number, size: number, name = buffer.label): GPUBufferBinding {
  const alignment = ctx.limits.minStorageBufferOffsetAlignment;
  if (offset % alignment !== 0) {
    throw new WebGpuError(
      'binding_misaligned',
      `webgpu: tensor '${name}' is bound at offset ${offset} of '${buffer.label}', not a multiple of ` +
        `minStorageBufferOffsetAlignment = ${alignment}; the memory plan must align it (next: ${alignTo(offset, alignment)})`,
    );
  }
  if (size % 4 !== 0 || size <= 0 || offset + size > buffer.size) {
    throw new WebGpuError('binding_out_of_range', `webgpu: tensor '${name}' binds [${offset}, ${offset + size}) of '${buffer.label}' (${buffer.size} bytes; sizes are positive multiples of 4)`);
  }
  checkBindingSize(ctx, name, size);
  return { buffer, offset, size };
}

/** The offset alignment sub-range bindings must respect on this device (for memory planning). */
export const storageOffsetAlignment = (ctx: GpuContext): number => ctx.limits.minStorageBufferOffsetAlignment;
