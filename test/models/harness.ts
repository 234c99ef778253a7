// Harness code shared by the model tests in this folder: the relative error norm, the list of measured
// errors printed at the end of a file, onnxruntime feeds, and the WebGPU / onnxruntime / WGSL + nvcc
// checks of a tiny model against its CPU reference. Each test file keeps its own models, references
// and tolerances; these helpers take the tolerance-free parts.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import * as ort from 'onnxruntime-node';
import type { Compiled } from '../../src/api.js';
import { emitCuda, LIBRARY_NAME } from '../../src/codegen/cuda/emit.js';
import type { Program } from '../../src/codegen/lower/program.js';
import { exportOnnx } from '../../src/codegen/onnx/index.js';
import { renderWgsl } from '../../src/codegen/render/wgsl.js';
import type { Graph } from '../../src/ir/types.js';
import type { Tensor } from '../../src/runtime/index.js';
import { ProgramSession } from '../../src/runtime/program/session.js';
import type { WebGpuDevice } from '../../src/runtime/program/webgpu-device.js';
import { make, writeEmitted } from '../cuda/programs.js';

/** Relative error norm ||ours - ref|| / ||ref||; expects equal lengths. */
export function relativeError(ours: ArrayLike<number>, ref: ArrayLike<number>): number {
  expect(ours.length).toBe(ref.length);
  let err = 0, norm = 0;
  for (let i = 0; i < ref.length; i++) {
    err += (ours[i]! - ref[i]!) ** 2;
    norm += ref[i]! ** 2;
  }
  return Math.sqrt(err / norm);
}

/** Records measured errors and prints them once after the file's tests, under `title`; returns the recorder. */
export function errorLog(title: string): (what: string, value: number) => void {
  const measured: string[] = [];
  afterAll(() => console.info(`${title}\n  ${measured.join('\n  ')}`));
  return (what, value) => void measured.push(`${what}: ${value.toExponential(2)}`);
}

/** A runtime tensor as an onnxruntime tensor: i32 -> int32, bool -> bool, anything else -> float32. */
export function toOrt(t: Tensor): ort.Tensor {
  switch (t.dtype) {
    case 'i32': return new ort.Tensor('int32', Int32Array.from(t.data), t.shape);
    case 'bool': return new ort.Tensor('bool', Uint8Array.from(t.data), t.shape);
    default: return new ort.Tensor('float32', Float32Array.from(t.data), t.shape);
  }
}

/** Exports `graph` with `params` to ONNX and runs it on onnxruntime-node; the outputs by name. */
export async function runOnnx(graph: Graph, params: Map<string, Tensor>, inputs: Record<string, Tensor>): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(exportOnnx(graph, params).model);
  const out = await session.run(Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, toOrt(v)])));
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
}

/** A tiny model as the backend checks need it: compiled, its weights and inputs, its f32 CPU outputs. */
export interface TinyRun {
  compiled: Compiled;
  params: Map<string, Tensor>;
  inputs: Record<string, Tensor>;
  f32: ReadonlyMap<string, Tensor>;
}

/**
 * Runs the model's program on WebGPU and checks every output against the f32 CPU reference:
 * relative error norm <= `tolerance`, each noted as `label(out)`; with `shapes`, the shapes too.
 */
export async function expectWebGpuMatchesCpu(
  b: TinyRun, device: WebGpuDevice, tolerance: number, note: (what: string, value: number) => void, label: (out: string) => string, shapes = false,
): Promise<void> {
  const outputs = await ProgramSession.create(b.compiled.program, b.params, device).run(b.inputs);
  for (const [out, ref] of b.f32) {
    if (shapes) expect(outputs.get(out)!.shape, out).toEqual(ref.shape);
    const err = relativeError(outputs.get(out)!.data, ref.data);
    note(label(out), err);
    expect(err, out).toBeLessThanOrEqual(tolerance);
  }
}

/**
 * Runs the exported ONNX on onnxruntime-node and checks every output against the f32 CPU reference:
 * same length, outputs not trivially zero (largest |output| > 0.1), and max abs error <=
 * `tolerance` x max(1, largest |output|). `label(out, scale)` names the noted max abs error.
 */
export async function expectOnnxMaxAbsAgreement(
  b: TinyRun, tolerance: number, note: (what: string, value: number) => void, label: (out: string, scale: number) => string,
): Promise<void> {
  const theirs = await runOnnx(b.compiled.graph, b.params, b.inputs);
  for (const [out, ref] of b.f32) {
    const got = theirs[out]!;
    expect(got.length, out).toBe(ref.data.length);
    let maxAbs = 0, scale = 0;
    for (let i = 0; i < got.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(got[i]! - ref.data[i]!));
      scale = Math.max(scale, Math.abs(ref.data[i]!));
    }
    note(label(out, scale), maxAbs);
    expect(scale, out).toBeGreaterThan(0.1); // not trivially zero
    expect(maxAbs, out).toBeLessThanOrEqual(tolerance * Math.max(1, scale));
  }
}

/** What nvcc printed for a merged build, and the fingerprints of the kernels it compiled. */
export interface NvccBuild {
  output: string;
  fingerprints: Set<string>;
}

/**
 * Starts one nvcc build in `dir` of the kernels of several programs, merged into one program named
 * `name` (their launches in order, no buffers; the manifest is not meant to run): one translation
 * unit instead of one per model keeps the tests fast. `programs` is called inside the build, so a
 * model that fails to compile rejects the build, not the caller; the rejection is left to the
 * tests that await it.
 */
export function startNvccBuild(dir: string, name: string, programs: () => Program[]): Promise<NvccBuild> {
  const build = (async () => {
    const ps = programs();
    const emitted = writeEmitted(dir, { ...ps[0]!, name, buffers: [], outputs: [], launches: ps.flatMap((p) => p.launches) });
    return { output: await make(dir), fingerprints: new Set(emitted.manifest.kernels.map((k) => k.fingerprint)) };
  })();
  build.catch(() => {}); // reported by the tests that await it
  return build;
}

/** A merged nvcc build in its own temporary folder. */
export interface NvccWorkspace {
  dir: string;
  /** The build started by the enclosing describe's beforeAll. */
  build(): Promise<NvccBuild>;
}

/**
 * A temporary folder `ptm-<prefix>-...` for one merged nvcc build (see startNvccBuild): the build
 * starts before the enclosing describe's tests (call this in the describe body) and the folder is
 * removed after them.
 */
export function nvccWorkspace(prefix: string, name: string, programs: () => Program[]): NvccWorkspace {
  const dir = mkdtempSync(join(tmpdir(), `ptm-${prefix}-`));
  let build: Promise<NvccBuild>;
  beforeAll(() => {
    build = startNvccBuild(dir, name, programs);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return { dir, build: () => build };
}

/**
 * Every launch of `program` renders to WGSL, and the workspace's nvcc build printed nothing,
 * produced the library, and holds every CUDA kernel of `program`.
 */
export async function expectWgslAndNvcc(program: Program, nvcc: NvccWorkspace): Promise<void> {
  for (const launch of program.launches) expect(renderWgsl(launch.instance.kernel)).toMatch(/@compute/);
  const own = emitCuda(program).manifest;
  const { output, fingerprints } = await nvcc.build();
  expect(output.trim(), 'nvcc printed something').toBe('');
  expect(readFileSync(join(nvcc.dir, LIBRARY_NAME)).subarray(1, 4).toString()).toBe('ELF');
  for (const k of own.kernels) expect(fingerprints.has(k.fingerprint), `${k.symbol} is in the nvcc build`).toBe(true);
}
