// One WebGPU device per process: Dawn (the `webgpu` package) in Node, navigator.gpu in a browser.
// acquireDevice() caches it; probeWebGpu() says whether it works here and, if not, exactly why.
/// <reference types="@webgpu/types" />
import { WebGpuError } from './errors.js';

export interface AdapterInfo {
  vendor: string;
  architecture: string;
  description: string;
}

/** The device's numeric limits, copied once into a plain object (reading Dawn's is a native call). */
export type Limits = { readonly [K in keyof GPUSupportedLimits as GPUSupportedLimits[K] extends number ? K : never]: number };

export interface GpuContext {
  readonly device: GPUDevice;
  readonly adapterInfo: AdapterInfo;
  /** The device's limits (raised to the adapter's where that matters, see requestedLimits). */
  readonly limits: Limits;
  readonly features: ReadonlySet<string>;
  /** Messages of errors no error scope caught, oldest first (the last 100). */
  readonly uncapturedErrors: string[];
  /** Why the device was lost; null while it works. */
  lost: string | null;
}

export type ProbeResult =
  | { ok: true; info: AdapterInfo & { features: string[]; maxStorageBufferBindingSize: number } }
  | { ok: false; reason: string };

// Dawn's GPU object must outlive every device it made: once collected, Dawn crashes at random.
// Held here for the life of the process, and on globalThis in case this module is loaded twice.
let dawnGpu: GPU | undefined;
let cached: Promise<GpuContext> | undefined;
let current: GpuContext | undefined;

/** The process's WebGPU device, created on first call. Throws a WebGpuError saying why if there is none. */
export function acquireDevice(): Promise<GpuContext> {
  cached ??= createContext().catch((e: unknown) => {
    cached = undefined; // let a later call try again (e.g. after installing a driver)
    throw e;
  });
  return cached;
}

/** Whether WebGPU works here; never throws. On failure `reason` says what is missing and how to fix it. */
export async function probeWebGpu(): Promise<ProbeResult> {
  try {
    const ctx = await acquireDevice();
    if (ctx.lost) return { ok: false, reason: `the WebGPU device was lost: ${ctx.lost}` };
    return {
      ok: true,
      info: { ...ctx.adapterInfo, features: [...ctx.features].sort(), maxStorageBufferBindingSize: ctx.limits.maxStorageBufferBindingSize },
    };
  } catch (e) {
    return { ok: false, reason: e instanceof Error ? e.message : String(e) };
  }
}

const unavailable = (reason: string) => new WebGpuError('webgpu_unavailable', `webgpu: ${reason}`);

async function loadGpu(): Promise<{ gpu: GPU; inNode: boolean }> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return { gpu: nav.gpu, inNode: false };
  if (dawnGpu) return { gpu: dawnGpu, inNode: true };
  let dawn: { create(options: string[]): GPU; globals: object };
  try {
    const specifier = 'webgpu'; // a variable, so browser bundlers leave the Node-only package out
    dawn = (await import(/* @vite-ignore */ specifier)) as typeof dawn;
  } catch (e) {
    throw unavailable(
      `the 'webgpu' package (Dawn for Node) could not be loaded (${(e as Error).message}); run npm install ` +
        `(prebuilt for linux-x64/arm64, darwin, win32)`,
    );
  }
  Object.assign(globalThis, dawn.globals);
  try {
    dawnGpu = dawn.create([]);
  } catch (e) {
    throw unavailable(`Dawn's create() failed: ${(e as Error).message}`);
  }
  (globalThis as { __ptmDawnGpu?: GPU }).__ptmDawnGpu = dawnGpu;
  return { gpu: dawnGpu, inNode: true };
}

async function whyNoAdapter(inNode: boolean): Promise<string> {
  if (!inNode) return 'navigator.gpu.requestAdapter() returned null (WebGPU disabled or this GPU is blocklisted)';
  const { explainNoAdapter } = await import('./node-env.js');
  return explainNoAdapter();
}

/** Limits raised to what the adapter offers: big weights need big bindings, offsets as fine as allowed. */
function requestedLimits(adapter: GPUAdapter): Record<string, number> {
  const a = adapter.limits;
  return {
    maxStorageBufferBindingSize: a.maxStorageBufferBindingSize,
    maxBufferSize: a.maxBufferSize,
    maxStorageBuffersPerShaderStage: a.maxStorageBuffersPerShaderStage,
    maxComputeWorkgroupStorageSize: a.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: a.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: a.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupSizeY: a.maxComputeWorkgroupSizeY,
    maxComputeWorkgroupSizeZ: a.maxComputeWorkgroupSizeZ,
    // Dawn's device defaults to 256 even where the adapter allows 16 (lavapipe).
    minUniformBufferOffsetAlignment: a.minUniformBufferOffsetAlignment,
    minStorageBufferOffsetAlignment: a.minStorageBufferOffsetAlignment,
  };
}

const WANTED_FEATURES: GPUFeatureName[] = ['shader-f16', 'subgroups', 'timestamp-query'];

function copyLimits(limits: GPUSupportedLimits): Limits {
  const copy: Record<string, number> = {};
  for (const key in limits) {
    const value = (limits as unknown as Record<string, unknown>)[key];
    if (typeof value === 'number') copy[key] = value;
  }
  return Object.freeze(copy) as Limits;
}

async function createContext(): Promise<GpuContext> {
  const { gpu, inNode } = await loadGpu();
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    throw unavailable(`requestAdapter() failed: ${(e as Error).message}`);
  }
  if (!adapter) throw unavailable(await whyNoAdapter(inNode));
  const features = WANTED_FEATURES.filter((f) => adapter.features.has(f));
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits: requestedLimits(adapter) });
  } catch (e) {
    throw unavailable(`requestDevice() failed on ${adapter.info.description || adapter.info.vendor}: ${(e as Error).message}`);
  }
  const info = adapter.info;
  const ctx: GpuContext = {
    device,
    adapterInfo: { vendor: info.vendor, architecture: info.architecture, description: info.description || info.device },
    limits: copyLimits(device.limits),
    features: new Set([...device.features]),
    uncapturedErrors: [],
    lost: null,
  };
  device.addEventListener('uncapturederror', (event) => {
    ctx.uncapturedErrors.push((event as GPUUncapturedErrorEvent).error.message);
    if (ctx.uncapturedErrors.length > 100) ctx.uncapturedErrors.shift();
  });
  void device.lost.then((lost) => {
    ctx.lost = `${lost.reason}: ${lost.message}`;
    if (current === ctx) cached = current = undefined; // the next acquireDevice() makes a fresh device
  });
  // A device lost at birth (driver crash, out of memory) shows up within a turn of the event loop.
  await new Promise((resolve) => setTimeout(resolve, 0));
  if (ctx.lost) throw unavailable(`the device was lost right after creation: ${ctx.lost}`);
  current = ctx;
  return ctx;
}
