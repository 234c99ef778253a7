// Child process of bench/run.js: measures the named engines on one model, all in this process.
// Cold phases run one engine after another; then warm runs are interleaved round-robin, so every
// engine sees the same machine load and the ratios stay meaningful on a shared machine. Every
// engine's outputs are checked against ptm-webgpu's (or the CPU reference's when ptm is absent).
// The JSON result is rewritten after every phase, so a crash keeps what was measured.
//
// Usage: node bench/engines.js <model.ptm> <result.json> <engine,...>
// Engines: ptm-webgpu, ort-webgpu, ort-wasm, ort-node, cpu-ref.
// Environment: PTM_BENCH_SEQ (128), PTM_BENCH_REPS (5), PTM_BENCH_WASM_THREADS (1),
//   PTM_BENCH_KERNELS (1: time each ptm kernel after the warm runs), PTM_BENCH_SKIP_CPU,
//   PTM_BENCH_SET ("layers=2,d=64": config overrides, for trying the benchmark out quickly).
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import { compile, exportOnnx, initParams, randomInputs, runGraph, ProgramSession, WebGpuDevice } from '../dist/index.js';
import { PerLaunchDevice, launchFlops } from './per-kernel.js';

const [file, resultPath, engineList] = process.argv.slice(2);
const wanted = engineList.split(',');
const SEQ = Number(process.env.PTM_BENCH_SEQ ?? 128);
const REPS = Math.max(1, Number(process.env.PTM_BENCH_REPS ?? 5));
const WASM_THREADS = Number(process.env.PTM_BENCH_WASM_THREADS ?? 1);
const KERNELS = process.env.PTM_BENCH_KERNELS !== '0';
const SKIP_CPU = process.env.PTM_BENCH_SKIP_CPU === '1';
const SET = Object.fromEntries((process.env.PTM_BENCH_SET ?? '').split(',').filter(Boolean).map((kv) => kv.split('=')).map(([k, v]) => [k, Number(v)]));
const ORT_WEB_DIST = pathToFileURL(dirname(createRequire(import.meta.url).resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm')) + '/').href;

const seconds = (t0) => (performance.now() - t0) / 1000;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const log = (msg) => console.log(`[${new Date().toISOString().slice(11, 19)} ${file} ${wanted.join(',')}] ${msg}`);
const message = (e) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e)).slice(0, 2000);
/** Threads of this process (Linux), to see whether onnxruntime-web really started its workers. */
const osThreads = () => Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN);

const result = {
  threadsAtStart: osThreads(), file, seq: SEQ, reps: REPS, set: SET, wasmThreads: WASM_THREADS, pid: process.pid,
  load: { start: os.loadavg() }, engines: {}, kernels: null, env: { LP_NUM_THREADS: process.env.LP_NUM_THREADS ?? null, MESA_SHADER_CACHE_DISABLE: process.env.MESA_SHADER_CACHE_DISABLE ?? null },
};
const save = () => writeFileSync(resultPath, JSON.stringify(result, null, 1));

// --- WebGPU: Dawn from the `webgpu` package as navigator.gpu, before onnxruntime-web is imported.
// ptm's acquireDevice() takes navigator.gpu when present, so both engines use this one GPU object.
if (wanted.includes('ptm-webgpu') || wanted.includes('ort-webgpu')) {
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  const gpu = create([]);
  globalThis.navigator = { gpu };
  globalThis.__benchDawnGpu = gpu; // Dawn crashes once this object is garbage-collected
  if (wanted.includes('ort-webgpu')) {
    // onnxruntime-web hands writeBuffer views of its wasm memory, a SharedArrayBuffer; Dawn's
    // binding rejects those ("Invalid argument"), so they are copied into a fresh ArrayBuffer.
    const writeBuffer = GPUQueue.prototype.writeBuffer;
    GPUQueue.prototype.writeBuffer = function (...args) {
      const data = args[2];
      if (data instanceof SharedArrayBuffer) args[2] = data.slice(0);
      else if (ArrayBuffer.isView(data) && data.buffer instanceof SharedArrayBuffer) {
        args[2] = data instanceof DataView ? new Uint8Array(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)) : new data.constructor(data);
      }
      return writeBuffer.apply(this, args);
    };
  }
}

// --- The model, its weights and inputs: the same for every engine.
let t = performance.now();
const compiled = compile(readFileSync(file, 'utf8'), { file, set: SET, maxBindingBytes: 128 * 2 ** 20 });
result.compile = { s: seconds(t), stages: compiled.stages, launches: compiled.program.launches.length };
const { graph, program } = compiled;
result.model = graph.name;
result.parameters = graph.params.reduce((a, p) => a + p.value.type.shape.reduce((x, d) => x * d, 1), 0);
t = performance.now();
const params = initParams(graph, 0);
const inputs = randomInputs(graph, 1, new Map([['batch', 1], ['seq', SEQ]]));
result.initS = seconds(t);
let onnx = null;
if (wanted.some((e) => e.startsWith('ort-'))) {
  t = performance.now();
  onnx = exportOnnx(graph, params).model;
  result.exportS = seconds(t);
  result.onnxBytes = onnx.byteLength;
}
log(`compiled in ${result.compile.s.toFixed(2)} s (${result.compile.launches} launches), weights and inputs in ${result.initS.toFixed(1)} s`);
save();

/** Outputs as { name: { data, shape } } with plain number arrays-like data. */
const fromPtm = (map) => Object.fromEntries([...map].map(([k, v]) => [k, { data: v.data, shape: v.shape }]));
const fromOrt = (out) => Object.fromEntries(Object.entries(out).map(([k, v]) => [k, { data: v.data, shape: [...v.dims] }]));
const ortFeeds = (ort) =>
  Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k,
    v.dtype === 'i32' ? new ort.Tensor('int32', Int32Array.from(v.data), v.shape)
    : v.dtype === 'bool' ? new ort.Tensor('bool', Uint8Array.from(v.data, Number), v.shape)
    : new ort.Tensor('float32', Float32Array.from(v.data), v.shape)]));

/** Max abs difference, relative error norm (as in test/program) and the reference's largest |value|. */
function compare(ours, reference) {
  let maxAbs = 0, err = 0, norm = 0, scale = 0;
  for (const [name, ref] of Object.entries(reference)) {
    const o = ours[name];
    if (!o) return { error: `output '${name}' is missing` };
    if (o.shape.join('x') !== ref.shape.join('x')) return { error: `output '${name}' has shape [${o.shape}], expected [${ref.shape}]` };
    for (let i = 0; i < ref.data.length; i++) {
      const a = Number(o.data[i]), b = Number(ref.data[i]);
      const d = Math.abs(a - b);
      if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? NaN : d; // NaN sticks
      err += d * d;
      norm += b * b;
      scale = Math.max(scale, Math.abs(b));
    }
  }
  return { maxAbs, relErr: Math.sqrt(err / norm), scale };
}

// --- The engines: setup() measures the cold phases and returns a run() for the warm rounds.
const engines = {
  async 'ptm-webgpu'(r) {
    let t0 = performance.now();
    const device = await WebGpuDevice.create();
    r.deviceS = seconds(t0);
    r.adapter = device.ctx.adapterInfo;
    r.features = [...device.ctx.features].sort();
    t0 = performance.now();
    const session = ProgramSession.create(program, params, device);
    r.sessionS = seconds(t0);
    t0 = performance.now();
    const first = await session.run(inputs);
    r.firstRunS = seconds(t0);
    r.coldS = r.deviceS + r.sessionS + r.firstRunS;
    engines.ptmDevice = device;
    return { first: fromPtm(first), run: async () => fromPtm(await session.run(inputs)) };
  },
  async 'ort-webgpu'(r) {
    const ort = await import('onnxruntime-web/webgpu');
    ort.env.wasm.numThreads = 1; // the ops the WebGPU EP leaves to the CPU (shapes) run in wasm on 1 thread
    ort.env.wasm.wasmPaths = ORT_WEB_DIST;
    ort.env.logLevel = 'error';
    r.version = ort.env.versions?.web;
    const t0 = performance.now();
    const session = await ort.InferenceSession.create(onnx, { executionProviders: ['webgpu'] });
    r.sessionS = seconds(t0);
    const device = await ort.env.webgpu.device;
    r.adapter = device?.adapterInfo ? { vendor: device.adapterInfo.vendor, architecture: device.adapterInfo.architecture, description: device.adapterInfo.description } : null;
    const feeds = ortFeeds(ort);
    const t1 = performance.now();
    const first = fromOrt(await session.run(feeds));
    r.firstRunS = seconds(t1);
    r.coldS = r.sessionS + r.firstRunS;
    return { first, run: async () => fromOrt(await session.run(feeds)) };
  },
  async 'ort-wasm'(r) {
    const ort = await import('onnxruntime-web');
    ort.env.wasm.numThreads = WASM_THREADS;
    ort.env.wasm.wasmPaths = ORT_WEB_DIST;
    ort.env.logLevel = 'error';
    r.version = ort.env.versions?.web;
    r.threads = WASM_THREADS;
    const t0 = performance.now();
    const session = await ort.InferenceSession.create(onnx, { executionProviders: ['wasm'] });
    r.sessionS = seconds(t0);
    r.effectiveThreads = ort.env.wasm.numThreads; // onnxruntime-web lowers it where threads are unsupported
    r.osThreads = osThreads();
    const feeds = ortFeeds(ort);
    const t1 = performance.now();
    const first = fromOrt(await session.run(feeds));
    r.firstRunS = seconds(t1);
    r.coldS = r.sessionS + r.firstRunS;
    return { first, run: async () => fromOrt(await session.run(feeds)) };
  },
  async 'ort-node'(r) {
    const ort = await import('onnxruntime-node');
    r.version = ort.env.versions?.node ?? ort.env.versions?.common;
    const t0 = performance.now();
    const session = await ort.InferenceSession.create(onnx);
    r.sessionS = seconds(t0);
    const feeds = ortFeeds(ort);
    const t1 = performance.now();
    const first = fromOrt(await session.run(feeds));
    r.firstRunS = seconds(t1);
    r.coldS = r.sessionS + r.firstRunS;
    return { first, run: async () => fromOrt(await session.run(feeds)) };
  },
};

const reference = { name: null, outputs: null }; // the outputs every engine is checked against
const running = [];
for (const name of wanted.filter((e) => e !== 'cpu-ref')) {
  const r = (result.engines[name] = { ok: false, loadAtStart: os.loadavg()[0] });
  try {
    if (!engines[name]) throw new Error(`unknown engine '${name}'`);
    log(`${name}: cold start`);
    const { first, run } = await engines[name](r);
    r.ok = true;
    if (!reference.outputs) Object.assign(reference, { name, outputs: first });
    else {
      r.check = { against: reference.name, ...compare(first, reference.outputs) };
      if (r.check.error) throw new Error(`wrong outputs: ${r.check.error}`);
    }
    running.push({ name, run, first, r: Object.assign(r, { warm: [] }) });
    log(`${name}: cold ${r.coldS.toFixed(2)} s (session ${r.sessionS.toFixed(2)} s, first run ${r.firstRunS.toFixed(2)} s)`);
  } catch (e) {
    Object.assign(r, { ok: false, failedIn: r.ok ? 'output check' : 'cold start', error: message(e) });
    log(`${name}: FAILED in ${r.failedIn}: ${r.error}`);
  }
  save();
}

// Warm rounds: each round runs every engine once, starting one further along each time.
for (let round = 0; round < REPS; round++) {
  for (let i = 0; i < running.length; i++) {
    const { name, run, r } = running[(round + i) % running.length];
    if (r.failedIn) continue;
    try {
      const t0 = performance.now();
      await run();
      r.warm.push(seconds(t0));
    } catch (e) {
      Object.assign(r, { ok: false, failedIn: `warm run ${round + 1}`, error: message(e) });
      log(`${name}: FAILED in ${r.failedIn}: ${r.error}`);
    }
  }
  log(`round ${round + 1}/${REPS}: ${running.map(({ name, r }) => `${name} ${r.warm.at(-1)?.toFixed(2) ?? '-'} s`).join(', ')}`);
  save();
}
for (const { r } of running) if (r.warm.length) r.warmMedianS = median(r.warm);

// Diagnostic: every ptm kernel timed on its own (after the warm runs, so pipelines exist).
if (KERNELS && engines.ptmDevice && !result.engines['ptm-webgpu'].failedIn) {
  try {
    log('ptm-webgpu: timing each kernel');
    const device = new PerLaunchDevice(engines.ptmDevice);
    const session = ProgramSession.create(program, params, device);
    await session.run(inputs); // bind groups and buffers for this session, one pass per launch
    // One batched run (as WebGpuDevice runs) right before and right after the per-launch run, at
    // about the same load: its pass's GPU time against its wall time shows the host's share.
    const batched = async () => {
      device.perLaunch = false;
      const t0 = performance.now();
      await session.run(inputs);
      device.perLaunch = true;
      return { wallS: seconds(t0), gpuS: device.batchedGpuMs === null ? null : device.batchedGpuMs / 1000 };
    };
    await batched(); // bind groups for the batched pass
    const before = await batched();
    const t0 = performance.now();
    const check = compare(fromPtm(await session.run(inputs)), reference.outputs);
    const perLaunchWallS = seconds(t0);
    const after = await batched();
    const launches = program.launches.map((l, i) => {
      const tm = device.timings[i];
      return { op: l.op, kernel: tm.kernel, line: l.loc.line, gpuMs: tm.gpuMs, wallMs: tm.wallMs, flops: launchFlops(l.op, tm.kernel, tm.params), params: tm.params };
    });
    result.kernels = { timestamps: device.timestamps, check, batched: [before, after], perLaunchWallS, launches, load: os.loadavg() };
  } catch (e) {
    result.kernels = { error: message(e) };
    log(`kernel timing FAILED: ${result.kernels.error}`);
  }
  save();
}

// The CPU reference interpreter: one run, slow by design.
if (wanted.includes('cpu-ref')) {
  const r = (result.engines['cpu-ref'] = { ok: false, loadAtStart: os.loadavg()[0] });
  if (SKIP_CPU) Object.assign(r, { skipped: 'PTM_BENCH_SKIP_CPU=1' });
  else {
    try {
      log('cpu-ref: one run');
      const t0 = performance.now();
      const out = fromPtm(runGraph(graph, { inputs, params, precision: 'f32' }).outputs);
      r.runS = seconds(t0);
      r.ok = true;
      if (reference.outputs) r.check = { against: reference.name, ...compare(out, reference.outputs) };
      // Every engine against the reference interpreter too (the CPU section compares it with onnxruntime-node).
      r.checkEach = Object.fromEntries(running.map(({ name, first }) => [name, compare(first, out)]));
      log(`cpu-ref: ${r.runS.toFixed(2)} s`);
    } catch (e) {
      Object.assign(r, { failedIn: 'run', error: message(e) });
      log(`cpu-ref: FAILED: ${r.error}`);
    }
  }
}
result.load.end = os.loadavg();
result.rssMiB = process.memoryUsage().rss / 2 ** 20;
save();
log('done');
process.exit(0); // onnxruntime-web's worker threads and Dawn would otherwise keep the process alive
