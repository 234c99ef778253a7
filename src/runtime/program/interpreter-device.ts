// A KernelDevice that runs kernels in the kernel IR interpreter over host memory: whole programs
// can be checked on any machine, no GPU needed (slowly: keep models tiny).
import { runKernel } from '../../codegen/kernel-ir/interpret.js';
import type { Kernel } from '../../codegen/kernel-ir/types.js';
import type { Binding, DeviceBuffer, KernelDevice } from './session.js';

export class InterpreterDevice implements KernelDevice {
  readonly name = 'interpreter';
  readonly alignment = 16;
  constructor(private readonly checkRaces = true) {}

  alloc(bytes: number): DeviceBuffer {
    return new ArrayBuffer(Math.ceil(bytes / 4) * 4);
  }

  write(buffer: DeviceBuffer, data: Uint8Array, offset = 0): void {
    new Uint8Array(buffer as ArrayBuffer, offset, data.byteLength).set(data);
  }

  async read(buffer: DeviceBuffer, offset: number, bytes: number): Promise<Uint8Array> {
    return new Uint8Array((buffer as ArrayBuffer).slice(offset, offset + bytes));
  }

  dispatch(kernel: Kernel, bindings: Binding[], params: Record<string, number>): void {
    const buffers = Object.fromEntries(kernel.buffers.map((b, i) => {
      const { buffer, offset, size } = bindings[i]!;
      const View = b.type.scalar === 'f32' ? Float32Array : b.type.scalar === 'i32' ? Int32Array : Uint32Array;
      return [b.name, new View(buffer as ArrayBuffer, offset, Math.floor(size / 4))];
    }));
    runKernel(kernel, { buffers, params, checkRaces: this.checkRaces });
  }

  async flush(): Promise<void> {}
}
