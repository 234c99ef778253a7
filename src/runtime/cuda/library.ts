// The emitted library's C ABI (src/codegen/cuda/host-abi.ts) bound through koffi, and probeCuda(): whether
// CUDA can run here and, if not, exactly why. Nothing here crashes without a GPU: koffi is loaded
// lazily, and every entry point that needs the driver throws a PtmError `backend_unavailable`.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { PtmError } from '../../diagnostics/diagnostic.js';
import { diag } from '../../diagnostics/catalogue.js';
import { noSpan } from '../../diagnostics/span.js';

type KoffiFunction = (...args: unknown[]) => unknown;
interface Koffi {
  load(path: string): { func(signature: string): KoffiFunction; unload?(): void };
}

export interface CudaProbe {
  ok: boolean;
  /** When ok: the driver and GPUs found; otherwise what is missing and what to do. */
  reason: string;
  /** nvcc's release (e.g. `13.0`), or null when nvcc is not on PATH. */
  nvcc: string | null;
}

/** The ABI's functions; every int result is 0 or an error code explained by lastError(). */
export interface CudaLibrary {
  readonly path: string;
  abiVersion(): number;
  kernelCount(): number;
  kernelName(id: number): string | null;
  lastError(): string;
  malloc(out: [unknown], bytes: number): number;
  free(ptr: bigint): number;
  upload(dst: bigint, src: Uint8Array, bytes: number): number;
  download(dst: Uint8Array, src: bigint, bytes: number): number;
  memsetZero(dst: bigint, bytes: number): number;
  sync(): number;
  launch(kernel: number, buffers: BigUint64Array, params: Uint32Array, gx: number, gy: number, gz: number): number;
}

let koffiCache: Koffi | null | undefined;
let koffiError = '';

function loadKoffi(): Koffi | null {
  if (koffiCache !== undefined) return koffiCache;
  try {
    const mod = createRequire(import.meta.url)('koffi') as Koffi & { default?: Koffi };
    koffiCache = mod.default ?? mod;
  } catch (e) {
    koffiError = (e as Error).message.split('\n')[0]!;
    koffiCache = null;
  }
  return koffiCache;
}

const unavailable = (why: string): PtmError => new PtmError(diag.backend_unavailable(noSpan('<cuda>'), 'cuda', why));

function nvccRelease(): string | null {
  try {
    return /release (\d+\.\d+)/.exec(execFileSync('nvcc', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))?.[1] ?? 'unknown';
  } catch {
    return null;
  }
}

/** Whether CUDA programs can run here; never throws. */
export function probeCuda(): CudaProbe {
  const nvcc = nvccRelease();
  const compile = nvcc ? `nvcc ${nvcc} is here, so CUDA code compiles but cannot run` : 'nvcc is not on PATH either, so CUDA code cannot even be compiled here';
  const koffi = loadKoffi();
  if (!koffi) return { ok: false, nvcc, reason: `the koffi package (the FFI that loads CUDA libraries) cannot be loaded: ${koffiError}; run npm install (${compile})` };
  let driver: ReturnType<Koffi['load']>;
  try {
    driver = koffi.load('libcuda.so.1');
  } catch (e) {
    return { ok: false, nvcc, reason: `no NVIDIA driver here: libcuda.so.1 cannot be opened (${(e as Error).message.split('\n')[0]}); ${compile}` };
  }
  try {
    const init = driver.func('int cuInit(unsigned int flags)');
    const count = driver.func('int cuDeviceGetCount(_Out_ int *count)');
    const status = init(0) as number;
    if (status !== 0) return { ok: false, nvcc, reason: `the NVIDIA driver is here but cuInit failed with CUDA error ${status} (no usable GPU?); ${compile}` };
    const out = [0];
    count(out);
    if (!out[0]) return { ok: false, nvcc, reason: `the NVIDIA driver finds no GPU; ${compile}` };
    return { ok: true, nvcc, reason: `NVIDIA driver with ${out[0]} GPU${out[0] === 1 ? '' : 's'}${nvcc ? `; nvcc ${nvcc}` : '; no nvcc: libraries must come prebuilt'}` };
  } catch (e) {
    return { ok: false, nvcc, reason: `libcuda.so.1 opened but could not be queried: ${(e as Error).message.split('\n')[0]}` };
  }
}

/** Binds a built library's ABI. `checkDriver` false skips the driver probe (for a library that needs none, in tests). */
export function openCudaLibrary(path: string, options: { checkDriver?: boolean } = {}): CudaLibrary {
  if (options.checkDriver ?? true) {
    const probe = probeCuda();
    if (!probe.ok) throw unavailable(probe.reason);
  }
  const koffi = loadKoffi();
  if (!koffi) throw unavailable(`the koffi package cannot be loaded (${koffiError}); run npm install`);
  if (!existsSync(path)) throw unavailable(`${path} does not exist: build it with \`make\` in the folder \`ptm compile --target cuda\` wrote`);
  let lib: ReturnType<Koffi['load']>;
  try {
    lib = koffi.load(path);
  } catch (e) {
    throw unavailable(`${path} cannot be loaded: ${(e as Error).message.split('\n')[0]}`);
  }
  const f = (signature: string) => lib.func(signature);
  const kernelName = f('const char *ptm_kernel_name(int kernel_id)');
  const lastError = f('const char *ptm_last_error(void)');
  return {
    path,
    abiVersion: f('int ptm_abi_version(void)') as () => number,
    kernelCount: f('int ptm_kernel_count(void)') as () => number,
    kernelName: (id) => kernelName(id) as string | null,
    lastError: () => String(lastError()),
    malloc: f('int ptm_malloc(_Out_ uint64_t *p, size_t bytes)') as CudaLibrary['malloc'],
    free: f('int ptm_free(uint64_t p)') as CudaLibrary['free'],
    upload: f('int ptm_upload(uint64_t dst, const void *src, size_t bytes)') as CudaLibrary['upload'],
    download: f('int ptm_download(void *dst, uint64_t src, size_t bytes)') as CudaLibrary['download'],
    memsetZero: f('int ptm_memset_zero(uint64_t dst, size_t bytes)') as CudaLibrary['memsetZero'],
    sync: f('int ptm_sync(void)') as CudaLibrary['sync'],
    launch: f('int ptm_launch(int kernel_id, const uint64_t *buffers, const uint32_t *params, uint32_t gx, uint32_t gy, uint32_t gz)') as CudaLibrary['launch'],
  };
}
