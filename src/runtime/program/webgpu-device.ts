// A KernelDevice over WebGPU (Dawn in Node, navigator.gpu in a browser): kernels rendered to WGSL
// once each, dispatches batched by the executor until flush.
/// <reference types="@webgpu/types" />
import { evalGrid } from '../../codegen/kernel-ir/interpret.js';
import type { Kernel } from '../../codegen/kernel-ir/types.js';
import { packParams, renderWgsl } from '../../codegen/render/wgsl.js';
import type { GpuContext } from '../webgpu/index.js';
import { acquireDevice, WebGpuExecutor, writeTensor } from '../webgpu/index.js';
import type { Binding, DeviceBuffer, KernelDevice } from './session.js';

export class WebGpuDevice implements KernelDevice {
  readonly name: string;
  readonly alignment: number;
  readonly bufferPerSlot = true;
  private readonly executor: WebGpuExecutor;
  private readonly wgsl = new WeakMap<Kernel, string>();

  private constructor(readonly ctx: GpuContext) {
    this.name = `webgpu (${ctx.adapterInfo.description || ctx.adapterInfo.vendor})`;
    this.alignment = Math.max(256, ctx.limits.minStorageBufferOffsetAlignment);
    this.executor = new WebGpuExecutor(ctx, { packParams });
  }

  static async create(): Promise<WebGpuDevice> {
    return new WebGpuDevice(await acquireDevice());
  }

  get maxBindingBytes(): number {
    return this.ctx.limits.maxStorageBufferBindingSize;
  }

  alloc(bytes: number, label: string): DeviceBuffer {
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    return this.ctx.device.createBuffer({ label, size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  }

  write(buffer: DeviceBuffer, data: Uint8Array, offset = 0): void {
    writeTensor(this.ctx, buffer as GPUBuffer, new Uint32Array(data.buffer, data.byteOffset, data.byteLength / 4), offset);
  }

  async read(buffer: DeviceBuffer, offset: number, bytes: number): Promise<Uint8Array> {
    const out = await this.executor.download({ buffer: buffer as GPUBuffer, offset, size: Math.ceil(bytes / 4) * 4 }, 'u32');
    return new Uint8Array(out.buffer, out.byteOffset, bytes);
  }

  dispatch(kernel: Kernel, bindings: Binding[], params: Record<string, number>): void {
    let text = this.wgsl.get(kernel);
    if (text === undefined) {
      text = renderWgsl(kernel);
      this.wgsl.set(kernel, text);
    }
    const gpuBindings = bindings.map((b) => ({ buffer: b.buffer as GPUBuffer, offset: b.offset, size: Math.ceil(b.size / 4) * 4 }));
    this.executor.dispatch(kernel, text, gpuBindings, params, evalGrid(kernel, params));
  }

  flush(): Promise<void> {
    return this.executor.flush();
  }

  free(buffer: DeviceBuffer): void {
    (buffer as GPUBuffer).destroy();
  }
}
