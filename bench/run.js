// `npm run bench`: full-size GPT-2 small and BERT-base forward passes (batch 1) on ptm's CPU
// reference runtime and, as the peer measured in the same run, onnxruntime-node (CPU) on the ONNX
// export of the same graph with the same weights. Rewrites bench/RESULTS.md with date and machine.
// Uses the built package (dist/, made by `npm ci`/`npm run build`).
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import * as ort from 'onnxruntime-node';
import { compileGraph, exportOnnx, initParams, randomInputs, runGraph } from '../dist/index.js';

const SEQ = Number(process.env.PTM_BENCH_SEQ ?? 64);
const REPS = Number(process.env.PTM_BENCH_REPS ?? 3);

const toOrt = (t) =>
  t.dtype === 'i32' ? new ort.Tensor('int32', Int32Array.from(t.data), t.shape)
  : t.dtype === 'bool' ? new ort.Tensor('bool', Uint8Array.from(t.data), t.shape)
  : new ort.Tensor('float32', Float32Array.from(t.data), t.shape);

const seconds = (t0) => (performance.now() - t0) / 1000;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function bench(file) {
  const t0 = performance.now();
  const { graph } = compileGraph(readFileSync(file, 'utf8'), { file });
  const compile = seconds(t0);
  const params = initParams(graph, 0);
  const inputs = randomInputs(graph, 1, new Map([['batch', 1], ['seq', SEQ]]));

  const ours = [];
  let outputs;
  for (let i = 0; i < REPS; i++) {
    const t = performance.now();
    outputs = runGraph(graph, { inputs, params, precision: 'f32' }).outputs;
    ours.push(seconds(t));
  }

  let t = performance.now();
  const { model } = exportOnnx(graph, params);
  const exportTime = seconds(t);
  t = performance.now();
  const session = await ort.InferenceSession.create(model);
  const sessionTime = seconds(t);
  const feeds = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, toOrt(v)]));
  const peer = [];
  let theirs;
  for (let i = 0; i < REPS; i++) {
    const t1 = performance.now();
    theirs = await session.run(feeds);
    peer.push(seconds(t1));
  }
  let maxAbs = 0;
  for (const [name, tensor] of outputs) {
    const other = theirs[name].data;
    for (let i = 0; i < tensor.data.length; i++) maxAbs = Math.max(maxAbs, Math.abs(tensor.data[i] - other[i]));
  }
  return { file, graph, compile, ours: median(ours), exportTime, sessionTime, peer: median(peer), maxAbs };
}

const results = [];
for (const file of ['models/gpt2.ptm', 'models/bert.ptm']) {
  const r = await bench(file);
  results.push(r);
  console.log(`${file}: ptm cpu ${r.ours.toFixed(2)} s, onnxruntime-node ${r.peer.toFixed(3)} s (max abs diff ${r.maxAbs.toExponential(2)})`);
}

const cpu = os.cpus();
const lines = [
  '# Benchmark results',
  '',
  `Date: ${new Date().toISOString().slice(0, 10)}. Machine: ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()} ${os.arch()}.`,
  `Command: \`npm run bench\` (batch 1, seq ${SEQ}, f32, seeded weights; median of ${REPS} runs).`,
  '',
  '## CPU forward pass: ptm reference interpreter vs onnxruntime-node, same graph and weights',
  '',
  '| model | parameters | ptm cpu (s) | onnxruntime-node (s) | ptm / ort | max abs diff | ptm compile (s) | ONNX export (s) | ort session create (s) |',
  '|---|---|---|---|---|---|---|---|---|',
  ...results.map((r) => {
    const n = r.graph.params.reduce((a, p) => a + p.value.type.shape.reduce((x, d) => x * d, 1), 0);
    return `| ${r.graph.name} (${r.file}) | ${n.toLocaleString('en-US')} | ${r.ours.toFixed(2)} | ${r.peer.toFixed(3)} | ${(r.ours / r.peer).toFixed(1)}x | ${r.maxAbs.toExponential(1)} | ${r.compile.toFixed(3)} | ${r.exportTime.toFixed(2)} | ${r.sessionTime.toFixed(2)} |`;
  }),
  '',
  'The CPU backend is the reference interpreter: plain TypeScript loops over Float32Array, one op at',
  'a time, single-threaded, no fusion and no SIMD. It exists to be obviously correct, not fast;',
  'onnxruntime runs MLAS kernels (AVX2/AVX-512, multithreaded). Speed is the job of the WGSL and',
  'CUDA kernels (next issue), which will be measured here against onnxruntime-web on the same adapter.',
  '',
];
writeFileSync(new URL('./RESULTS.md', import.meta.url), lines.join('\n'));
console.log('wrote bench/RESULTS.md');
