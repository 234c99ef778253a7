// Launch parameters for a batch of dispatches: packed side by side in host memory, each at an offset
// aligned to minUniformBufferOffsetAlignment, and uploaded with one writeBuffer per chunk at submit.
// Each dispatch then binds its slice through a dynamic offset, so its bind group can be reused.
/// <reference types="@webgpu/types" />
import type { GpuContext } from './device.js';
import { Usage, alignTo } from './buffers.js';

const CHUNK_BYTES = 1 << 20;

export interface UniformChunk {
  readonly id: number;
  readonly buffer: GPUBuffer;
  readonly host: Uint8Array;
  used: number;
}

export interface UniformSlot {
  chunk: UniformChunk;
  offset: number;
}

/** Smallest uniform binding we make: a struct of one scalar still occupies 16 bytes. */
export const uniformBindingSize = (bytes: number): number => Math.max(16, alignTo(bytes, 16));

export class UniformArena {
  private readonly chunks: UniformChunk[] = [];
  private current = 0;
  private readonly alignment: number;

  constructor(private readonly ctx: GpuContext) {
    this.alignment = ctx.limits.minUniformBufferOffsetAlignment;
  }

  /** Copies `bytes` into the batch being recorded; the slot's chunk holds `bindingSize` bytes from `offset`. */
  push(bytes: Uint8Array, bindingSize: number): UniformSlot {
    let chunk = this.chunks[this.current];
    if (!chunk || chunk.used + bindingSize > CHUNK_BYTES) {
      if (chunk) this.current++;
      chunk = this.chunks[this.current] ??= this.newChunk();
    }
    const offset = chunk.used;
    chunk.host.set(bytes, offset);
    chunk.host.fill(0, offset + bytes.length, offset + bindingSize);
    chunk.used = alignTo(offset + bindingSize, this.alignment);
    return { chunk, offset };
  }

  /** Queues the batch's parameters for upload (before the batch's submit) and starts a new batch. */
  upload(): void {
    const { queue } = this.ctx.device;
    for (let i = 0; i <= this.current && i < this.chunks.length; i++) {
      const chunk = this.chunks[i]!;
      if (chunk.used > 0) queue.writeBuffer(chunk.buffer, 0, chunk.host.buffer, chunk.host.byteOffset, alignTo(chunk.used, 4));
      chunk.used = 0;
    }
    this.current = 0;
  }

  private newChunk(): UniformChunk {
    const buffer = this.ctx.device.createBuffer({ label: `ptm launch parameters ${this.chunks.length}`, size: CHUNK_BYTES, usage: Usage.UNIFORM | Usage.COPY_DST });
    return { id: this.chunks.length, buffer, host: new Uint8Array(CHUNK_BYTES), used: 0 };
  }
}
