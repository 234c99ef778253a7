// `npm run build && node bench/sparse.js`: block-sparse attention on WebGPU (issue 5). Times the
// attention kernels alone, each launch in a pass of its own with GPU timestamp queries
// (per-kernel.js), median of PTM_SPARSE_REPS runs (default 3):
//   1. one Attention with window(256) vs full, same shape: batch 1, seq 4096, 4 heads of 64;
//   2. longformer.ptm at seq 1024, 2048, 4096 (one layer, the base model's 12 heads of 64, window
//      512, 8 global tokens): its two attention kernels (sliding + global) per run.
// Appends a section (date, machine, load) to bench/RESULTS.md and writes bench/sparse-results.json.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile, initParams, randomInputs, ProgramSession, WebGpuDevice, tensor } from '../dist/index.js';
import { PerLaunchDevice } from './per-kernel.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const REPS = Math.max(1, Number(process.env.PTM_SPARSE_REPS ?? 3));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Median over REPS runs of the summed GPU ms of the attention launches, plus per-kernel medians. */
async function attentionTime(base, compiled, inputs) {
  const { graph, program } = compiled;
  const params = initParams(graph, 0);
  const device = new PerLaunchDevice(base);
  if (!device.timestamps) throw new Error('the adapter has no timestamp-query feature; per-kernel GPU time is unavailable');
  const session = ProgramSession.create(program, params, device);
  await session.run(inputs); // pipelines, buffers, bind groups
  const runs = [];
  for (let r = 0; r < REPS; r++) {
    await session.run(inputs);
    const att = device.timings.filter((_, i) => program.launches[i].op === 'attention');
    runs.push({ totalMs: att.reduce((a, t) => a + t.gpuMs, 0), kernels: att.map((t) => ({ kernel: t.kernel, gpuMs: t.gpuMs })) });
  }
  return { medianMs: median(runs.map((r) => r.totalMs)), runs, load: os.loadavg() };
}

const base = await WebGpuDevice.create();
const out = { date: new Date().toISOString(), machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version }, adapter: base.ctx.adapterInfo?.description, load: { start: os.loadavg() }, reps: REPS };

// 1. window(256) vs full at seq 4096
const SEQ = 4096, HEADS = 4, D = 256;
const single = (mask) => `model A {\n  config { d = ${D}  heads = ${HEADS} }\n  input x: f32[batch, seq, d]\n  output y = Attention(x, heads: heads, mask: ${mask})\n}\n`;
out.window = {};
for (const mask of ['window(256)', 'full']) {
  const compiled = compile(single(mask), { file: `bench-${mask}.ptm`, maxBindingBytes: 128 * 2 ** 20 });
  const inputs = randomInputs(compiled.graph, 1, new Map([['batch', 1], ['seq', SEQ]]));
  console.log(`--- ${mask}, seq ${SEQ} (load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')})`);
  out.window[mask] = await attentionTime(base, compiled, inputs);
  console.log(`${mask}: ${out.window[mask].medianMs.toFixed(1)} ms`);
}

// 2. longformer attention at 1k, 2k, 4k
const file = join(here, '..', 'models', 'longformer.ptm');
const compiledLf = compile(readFileSync(file, 'utf8'), { file, set: { layers: 1 }, maxBindingBytes: 128 * 2 ** 20 });
out.longformer = {};
for (const seq of [1024, 2048, 4096]) {
  const inputs = randomInputs(compiledLf.graph, 1, new Map([['batch', 1], ['seq', seq]]));
  inputs.valid = tensor('bool', [1, seq], new Uint8Array(seq).fill(1));
  inputs.n_global = tensor('i32', [1], Int32Array.from([8]));
  console.log(`--- longformer seq ${seq} (load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')})`);
  out.longformer[seq] = await attentionTime(base, compiledLf, inputs);
  console.log(`longformer ${seq}: ${out.longformer[seq].medianMs.toFixed(1)} ms`);
}
out.load.end = os.loadavg();
writeFileSync(join(here, 'sparse-results.json'), JSON.stringify(out, null, 1));

const w = out.window['window(256)'].medianMs, f = out.window.full.medianMs;
const lf = out.longformer;
const loads = (l) => l.map((x) => x.toFixed(2)).join(' / ');
const lines = [
  '',
  `## Block-sparse attention on WebGPU (\`node bench/sparse.js\`, ${out.date.slice(0, 16).replace('T', ' ')} UTC)`,
  '',
  `Machine: ${out.machine.cpu}, ${out.machine.cores} cores, Node ${out.machine.node}; adapter \`${out.adapter ?? '?'}\`. Load (1 / 5 / 15 min): ${loads(out.load.start)} at start, ${loads(out.load.end)} at end; shared with other work, so the ratios (same process, minutes apart) are what to read. GPU time of the attention kernels only, from timestamp queries with each launch in a pass of its own, median of ${REPS} runs; f32.`,
  '',
  `| attention, batch 1, seq ${SEQ}, ${HEADS} heads × head_dim ${D / HEADS} | GPU ms | full / this |`,
  '|---|---|---|',
  `| \`full\` | ${f.toFixed(1)} | 1.00× |`,
  `| \`window(256)\` | ${w.toFixed(1)} | **${(f / w).toFixed(2)}×** |`,
  '',
  `| longformer.ptm (1 layer: sliding + global attention kernels), 12 heads × head_dim 64, window 512, 8 global tokens | GPU ms | / seq 1024 |`,
  '|---|---|---|',
  ...[1024, 2048, 4096].map((s) => `| seq ${s} | ${lf[s].medianMs.toFixed(1)} | ${(lf[s].medianMs / lf[1024].medianMs).toFixed(2)}× |`),
  '',
  `Acceptance (issue 5): window(256) at least 5× faster than full: ${f / w >= 5 ? 'met' : '**not met**'} (${(f / w).toFixed(2)}×); longformer 1k → 4k within 4.6×: ${lf[4096].medianMs / lf[1024].medianMs <= 4.6 ? 'met' : '**not met**'} (${(lf[4096].medianMs / lf[1024].medianMs).toFixed(2)}×; linear would be 4×, quadratic 16×).`,
  '',
];
appendFileSync(join(here, 'RESULTS.md'), lines.join('\n'));
console.log(lines.join('\n'));
