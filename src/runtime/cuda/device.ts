// A KernelDevice over an emitted CUDA library (ProgramSession runs Programs on it as on WebGPU): buffers
// are device pointers, a dispatch evaluates the kernel's grid, packs its u32 params and calls ptm_launch
// with the id the manifest gives that kernel (matched by the fingerprint of its rendered source).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { kernelFingerprint, LIBRARY_NAME } from '../../codegen/cuda/emit.js';
import type { Manifest } from '../../codegen/cuda/manifest.js';
import { MANIFEST_FORMAT } from '../../codegen/cuda/manifest.js';
import { evalGrid } from '../../codegen/kernel-ir/interpret.js';
import type { Kernel } from '../../codegen/kernel-ir/types.js';
import type { Span } from '../../diagnostics/span.js';
import { formatLoc } from '../../diagnostics/span.js';
import type { Binding, DeviceBuffer, KernelDevice } from '../program/session.js';
import type { CudaLibrary } from './library.js';
import { openCudaLibrary } from './library.js';

/** A failure reported by the CUDA library: the call, its code and ptm_last_error(), and the kernel if any. */
export class CudaError extends Error {
  override readonly name = 'CudaError';
  constructor(message: string, readonly code: number, readonly kernel?: string, readonly locs: readonly Span[] = []) {
    super(message);
  }
}

interface CudaBuffer {
  ptr: bigint;
  bytes: number;
  label: string;
}

export class CudaDevice implements KernelDevice {
  readonly name = 'cuda';
  readonly alignment: number;
  private readonly ids = new WeakMap<Kernel, number>();
  private readonly byFingerprint: Map<string, number>;

  constructor(readonly library: CudaLibrary, readonly manifest: Manifest) {
    if (manifest.format !== MANIFEST_FORMAT) throw new Error(`cuda: manifest format ${String(manifest.format)}, expected ${MANIFEST_FORMAT}`);
    const count = library.kernelCount();
    if (count !== manifest.kernels.length) throw new Error(`cuda: ${library.path} has ${count} kernels, its manifest ${manifest.kernels.length}: rebuild it`);
    this.alignment = manifest.alignment;
    this.byFingerprint = new Map(manifest.kernels.map((k) => [k.fingerprint, k.id]));
  }

  /** The device for a folder written by `ptm compile --target cuda` and built there with make. */
  static open(dir: string, options: { checkDriver?: boolean } = {}): CudaDevice {
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
    return new CudaDevice(openCudaLibrary(join(dir, manifest.library ?? LIBRARY_NAME), options), manifest);
  }

  private check(code: number, what: string, kernel?: Kernel): void {
    if (code === 0) return;
    const where = kernel ? ` (kernel ${kernel.name}${kernel.locs.length ? `, computing ${kernel.locs.map(formatLoc).join(', ')}` : ''})` : '';
    throw new CudaError(`cuda: ${what} failed${where}: ${this.library.lastError() || `error ${code}`}`, code, kernel?.name, kernel?.locs);
  }

  alloc(bytes: number, label: string): DeviceBuffer {
    const out: [unknown] = [0];
    this.check(this.library.malloc(out, Math.max(bytes, 4)), `allocating ${bytes} bytes for ${label}`);
    return { ptr: BigInt(out[0] as number | bigint), bytes, label } satisfies CudaBuffer;
  }

  write(buffer: DeviceBuffer, data: Uint8Array, offset = 0): void {
    const b = buffer as CudaBuffer;
    if (offset + data.byteLength > b.bytes) throw new Error(`cuda: writing ${data.byteLength} bytes at ${offset} overflows ${b.label} (${b.bytes} bytes)`);
    this.check(this.library.upload(b.ptr + BigInt(offset), data, data.byteLength), `uploading ${b.label}`);
  }

  read(buffer: DeviceBuffer, offset: number, bytes: number): Promise<Uint8Array> {
    const b = buffer as CudaBuffer;
    const out = new Uint8Array(bytes);
    this.check(this.library.download(out, b.ptr + BigInt(offset), bytes), `downloading ${b.label}`);
    return Promise.resolve(out);
  }

  dispatch(kernel: Kernel, bindings: Binding[], params: Record<string, number>): void {
    const id = this.kernelId(kernel);
    const [gx, gy, gz] = evalGrid(kernel, params);
    const packed = Uint32Array.from(kernel.params, (p) => params[p.name]!);
    const pointers = BigUint64Array.from(bindings, (b) => (b.buffer as CudaBuffer).ptr + BigInt(b.offset));
    this.check(this.library.launch(id, pointers, packed, gx, gy, gz), `launching on grid (${gx}, ${gy}, ${gz})`, kernel);
  }

  flush(): Promise<void> {
    this.check(this.library.sync(), 'synchronizing');
    return Promise.resolve();
  }

  free(buffer: DeviceBuffer): void {
    this.check(this.library.free((buffer as CudaBuffer).ptr), `freeing ${(buffer as CudaBuffer).label}`);
  }

  /** The library's id for `kernel`, by the fingerprint of its rendered source (cached per Kernel object). */
  kernelId(kernel: Kernel): number {
    let id = this.ids.get(kernel);
    if (id === undefined) {
      id = this.byFingerprint.get(kernelFingerprint(kernel));
      if (id === undefined) throw new CudaError(`cuda: kernel ${kernel.name} is not in ${this.library.path}: it was built from another program; compile and build again`, -1, kernel.name, kernel.locs);
      this.ids.set(kernel, id);
    }
    return id;
  }
}
