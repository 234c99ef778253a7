// `ptm doctor`: which backends can run here, and for each one that cannot, why and what to do.
// Nothing is silently skipped: every backend gets a line.
import { probeWebGpu } from './device.js';

export interface BackendReport {
  backend: 'cpu' | 'webgpu' | 'cuda';
  available: boolean;
  /** What runs it (when available) or why it cannot run (when not). */
  detail: string;
  /** Further facts, e.g. that CUDA code can be compiled here though not run. */
  notes: string[];
}

/** One report per backend, in a fixed order: cpu, webgpu, cuda. */
export async function doctor(): Promise<BackendReport[]> {
  return [cpuReport(), await webgpuReport(), await cudaReport()];
}

/** Aligned lines for the CLI: `webgpu  ok   mesa llvmpipe ...`, notes indented below. */
export function formatDoctor(reports: readonly BackendReport[]): string {
  const width = Math.max(...reports.map((r) => r.backend.length));
  const lines: string[] = [];
  for (const r of reports) {
    lines.push(`${r.backend.padEnd(width)}  ${r.available ? 'ok' : 'no'}  ${r.detail}`);
    for (const note of r.notes) lines.push(`${' '.repeat(width)}      ${note}`);
  }
  return lines.join('\n');
}

function cpuReport(): BackendReport {
  return { backend: 'cpu', available: true, detail: 'reference interpreter in JavaScript (always available)', notes: [] };
}

async function webgpuReport(): Promise<BackendReport> {
  const probe = await probeWebGpu();
  if (!probe.ok) return { backend: 'webgpu', available: false, detail: probe.reason, notes: [] };
  const { vendor, architecture, description, maxStorageBufferBindingSize } = probe.info;
  const adapter = [description, vendor && `vendor ${vendor}`, architecture && `architecture ${architecture}`].filter(Boolean).join(', ');
  return {
    backend: 'webgpu',
    available: true,
    detail: adapter || 'adapter without a description',
    notes: [`features: ${probe.info.features.join(' ') || 'none'}`, `max storage binding: ${maxStorageBufferBindingSize} bytes`],
  };
}

async function cudaReport(): Promise<BackendReport> {
  const env = await import('./node-env.js').catch(() => null);
  if (!env) return { backend: 'cuda', available: false, detail: 'not in Node: CUDA needs the Node runtime', notes: [] };
  const nvccVersion = /release (\d+\.\d+)/.exec(env.tryRun('nvcc', ['--version']) ?? '')?.[1];
  const driver = await findCudaDriver(env.findSharedLibrary);
  if (!driver.path) {
    return {
      backend: 'cuda',
      available: false,
      detail: `no NVIDIA driver on this machine (${driver.why})`,
      notes: nvccVersion ? [`can compile CUDA (nvcc ${nvccVersion}) but cannot run it`] : ['nvcc not found either: cannot compile CUDA here'],
    };
  }
  return {
    backend: 'cuda',
    available: true,
    detail: `NVIDIA driver ${driver.path}${driver.version ? ` (CUDA driver API ${driver.version})` : ''}`,
    notes: nvccVersion ? [`nvcc ${nvccVersion}`] : ['nvcc not found: kernels must come prebuilt'],
  };
}

/** libcuda.so.1 opened through koffi when it is installed, else looked up on the linker path. */
async function findCudaDriver(find: (soname: string, extraDirs?: string[]) => string | null): Promise<{ path: string | null; version?: string; why: string }> {
  const extra = ['/usr/lib/wsl/lib', '/usr/local/nvidia/lib64', '/usr/lib/x86_64-linux-gnu/nvidia/current'];
  const koffi = await loadKoffi();
  if (koffi) {
    try {
      const lib = koffi.load('libcuda.so.1');
      const getVersion = lib.func('int cuDriverGetVersion(_Out_ int *version)');
      const out = [0];
      const status = getVersion(out);
      const v = out[0]!;
      return { path: find('libcuda.so.1', extra) ?? 'libcuda.so.1', version: status === 0 ? `${Math.floor(v / 1000)}.${(v % 1000) / 10}` : undefined, why: '' };
    } catch (e) {
      return { path: null, why: `libcuda.so.1 could not be opened: ${(e as Error).message.split('\n')[0]!.replace(/^Failed to load shared library: /, '')}` };
    }
  }
  const path = find('libcuda.so.1', extra);
  return path ? { path, why: '' } : { path: null, why: 'libcuda.so.1 not found by ldconfig or in the usual folders' };
}

interface Koffi {
  load(path: string): { func(signature: string): (...args: unknown[]) => number };
}

async function loadKoffi(): Promise<Koffi | null> {
  try {
    const specifier = 'koffi'; // optional; a variable so TypeScript and bundlers do not require it
    const mod = (await import(/* @vite-ignore */ specifier)) as { default?: Koffi } & Koffi;
    return mod.default ?? mod;
  } catch {
    return null;
  }
}
