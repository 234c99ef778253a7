// `npm run bench`: GPT-2-small and BERT-base forward passes (full size, batch 1, seq 128, the same
// seeded weights and inputs everywhere) on ptm's WebGPU runtime and its peers, measured in one run:
// onnxruntime-web's WebGPU EP on the same Dawn adapter, onnxruntime-web's wasm backend (1 and 2
// threads), onnxruntime-node (CPU) and ptm's CPU reference interpreter. Rewrites bench/RESULTS.md
// (tables, ratios, per-kernel GPU time, machine and load) and bench/results.json (every number).
//
// Each model is measured by child processes (bench/engines.js): a fresh process gives every engine
// a true cold start, a crash in a native layer (Dawn, onnxruntime) becomes a row saying so instead
// of ending the run, and onnxruntime-web's wasm thread count, fixed once per process, can differ.
// Environment: PTM_BENCH_REPS (warm runs, >= 5), PTM_BENCH_SEQ (128), PTM_BENCH_SKIP_CPU=1 (skip the
// CPU reference), PTM_BENCH_KERNELS=0 (skip per-kernel timing), PTM_BENCH_TIMEOUT_S (per child, 3600),
// PTM_BENCH_MODELS (gpt2,bert), PTM_BENCH_SET (config overrides, for trials; not a benchmark then).
// `node bench/run.js --report` rewrites RESULTS.md from bench/results.json without measuring.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const RESULTS_MD = join(here, 'RESULTS.md');
const RESULTS_JSON = join(here, 'results.json');
const REPS = Math.max(5, Number(process.env.PTM_BENCH_REPS ?? 5));
const TIMEOUT_S = Number(process.env.PTM_BENCH_TIMEOUT_S ?? 3600);
const MODELS = (process.env.PTM_BENCH_MODELS ?? 'gpt2,bert').split(',').map((m) => `models/${m}.ptm`);

/** The child processes per model: the main comparison, then the wasm backend on 2 threads with ptm as anchor. */
const CHILDREN = [
  { id: 'main', engines: ['ptm-webgpu', 'ort-webgpu', 'ort-wasm', 'ort-node', 'cpu-ref'], env: { PTM_BENCH_WASM_THREADS: '1' } },
  { id: 'wasm2', engines: ['ptm-webgpu', 'ort-wasm'], env: { PTM_BENCH_WASM_THREADS: '2', PTM_BENCH_KERNELS: '0' } },
];

function runChild(file, child, dir) {
  const out = join(dir, `${child.id}-${file.replace(/\W+/g, '_')}.json`);
  const env = {
    ...process.env, ...child.env, PTM_BENCH_REPS: String(REPS),
    // No shader disk cache: a cold start compiles every pipeline, as on a fresh machine.
    MESA_SHADER_CACHE_DISABLE: 'true',
  };
  return new Promise((resolve) => {
    const started = performance.now();
    const proc = spawn(process.execPath, [join(here, 'engines.js'), file, out, child.engines.join(',')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stdout.on('data', (d) => process.stdout.write(d));
    proc.stderr.on('data', (d) => {
      stderr = (stderr + d).slice(-4000);
      process.stderr.write(d);
    });
    const timer = setTimeout(() => proc.kill('SIGKILL'), TIMEOUT_S * 1000);
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = existsSync(out) ? JSON.parse(readFileSync(out, 'utf8')) : { file, engines: {} };
      result.child = { id: child.id, engines: child.engines, code, signal, wallS: (performance.now() - started) / 1000 };
      if (code !== 0) {
        // Whatever the child had not finished is a failure row, with the reason.
        const why = signal === 'SIGKILL' ? `killed after the ${TIMEOUT_S} s timeout` : `the process ended with ${signal ?? `exit code ${code}`}`;
        const tail = stderr.trim().split('\n').filter((l) => !/^Warning: maxDynamic/.test(l)).slice(-3).join(' | ');
        result.child.error = `${why}${tail ? `: ${tail}` : ''}`;
        for (const name of child.engines) {
          const r = (result.engines[name] ??= { ok: false });
          const unfinished = name === 'cpu-ref' ? r.runS === undefined && !r.skipped : r.warmMedianS === undefined;
          if (unfinished && !r.failedIn) Object.assign(r, { ok: false, failedIn: r.coldS === undefined ? 'cold start' : 'warm runs', error: result.child.error });
        }
      }
      resolve(result);
    });
  });
}

async function measure() {
  const dir = mkdtempSync(join(os.tmpdir(), 'ptm-bench-'));
  const cpu = os.cpus();
  const bench = {
    date: new Date().toISOString(),
    command: `${process.env.npm_lifecycle_event === 'bench' ? 'npm run bench' : `node bench/run.js`}${envSummary()}`,
    machine: { cpu: cpu[0]?.model ?? 'unknown', cores: cpu.length, ramGiB: os.totalmem() / 2 ** 30, node: process.version, os: `${os.platform()} ${os.arch()} ${os.release()}` },
    load: { start: os.loadavg() },
    reps: REPS,
    runs: [],
  };
  for (const file of MODELS) {
    for (const child of CHILDREN) {
      console.log(`--- ${file}: ${child.engines.join(', ')} (load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')})`);
      bench.runs.push(await runChild(file, child, dir));
      writeFileSync(RESULTS_JSON, JSON.stringify(bench, null, 1));
    }
  }
  bench.load.end = os.loadavg();
  bench.wallS = performance.now() / 1000;
  writeFileSync(RESULTS_JSON, JSON.stringify(bench, null, 1));
  rmSync(dir, { recursive: true, force: true });
  return bench;
}

function envSummary() {
  const keys = ['PTM_BENCH_REPS', 'PTM_BENCH_SEQ', 'PTM_BENCH_SKIP_CPU', 'PTM_BENCH_KERNELS', 'PTM_BENCH_MODELS', 'PTM_BENCH_SET', 'LP_NUM_THREADS'];
  const set = keys.filter((k) => process.env[k] !== undefined).map((k) => `${k}=${process.env[k]}`);
  return set.length ? ` (with ${set.join(' ')})` : '';
}

// --- Report

const fmt = (x, digits = 2) => (x === undefined || x === null || Number.isNaN(x) ? '–' : x.toFixed(digits));
const ratio = (a, b) => (a > 0 && b > 0 ? `${(a / b).toFixed(2)}×` : '–');
const loads = (l) => (l ? l.map((x) => x.toFixed(2)).join(' / ') : '–');
const diff = (c) => (!c ? '(reference)' : c.error ? `**${c.error}**` : `${c.maxAbs.toExponential(1)} (rel. ${c.relErr.toExponential(1)})`);

function engineRows(main, wasm2) {
  const ptm = main.engines['ptm-webgpu'] ?? {};
  const compile = main.compile?.s;
  const rows = [];
  const failed = (label, r) => rows.push(`| ${label} | **failed in ${r.failedIn ?? 'setup'}**: ${(r.error ?? r.skipped ?? 'no result').replace(/\|/g, '\\|').replace(/\n/g, ' ')} ||||||||`);
  const row = (label, r, setup, anchor = ptm) => {
    if (!r || r.failedIn || (!r.ok && !r.skipped)) return failed(label, r ?? {});
    if (r.skipped) return rows.push(`| ${label} | skipped (${r.skipped}) ||||||||`);
    rows.push(`| ${label} | ${setup} | ${fmt(r.firstRunS)} | ${fmt(r.coldS)} | **${fmt(r.warmMedianS)}** | ${(r.warm ?? []).map((x) => fmt(x)).join(', ')} | ${ratio(r.warmMedianS, anchor.warmMedianS)} | ${diff(r.check)} | ${fmt(r.loadAtStart)} |`);
  };
  if (ptm.failedIn || !ptm.ok) failed('ptm webgpu', ptm);
  else rows.push(`| ptm webgpu | compile ${fmt(compile)} + device ${fmt(ptm.deviceS)} + session ${fmt(ptm.sessionS)} | ${fmt(ptm.firstRunS)} | ${fmt(ptm.coldS)} | **${fmt(ptm.warmMedianS)}** | ${ptm.warm.map((x) => fmt(x)).join(', ')} | 1.00× | (reference) | ${fmt(ptm.loadAtStart)} |`);
  const og = main.engines['ort-webgpu'];
  row('onnxruntime-web, WebGPU EP', og, og ? `session ${fmt(og.sessionS)}` : '');
  const w1 = main.engines['ort-wasm'];
  row(`onnxruntime-web, wasm, ${w1?.threads ?? 1} thread${(w1?.threads ?? 1) === 1 ? '' : 's'}`, w1, w1 ? `session ${fmt(w1.sessionS)}` : '');
  if (wasm2) {
    const w2 = wasm2.engines['ort-wasm'];
    const anchor = wasm2.engines['ptm-webgpu'] ?? {};
    row(`onnxruntime-web, wasm, ${w2?.threads ?? 2} threads ‡`, w2, w2 ? `session ${fmt(w2.sessionS)}` : '', anchor);
  }
  const on = main.engines['ort-node'];
  row('onnxruntime-node, CPU EP', on, on ? `session ${fmt(on.sessionS)}` : '');
  const ref = main.engines['cpu-ref'];
  if (!ref || ref.failedIn || (!ref.ok && !ref.skipped)) failed('ptm CPU reference (f32)', ref ?? {});
  else if (ref.skipped) rows.push(`| ptm CPU reference (f32) | skipped (${ref.skipped}) ||||||||`);
  else rows.push(`| ptm CPU reference (f32) | compile ${fmt(compile)} | ${fmt(ref.runS)} | – | (1 run) ${fmt(ref.runS)} | ${fmt(ref.runS)} | ${ratio(ref.runS, ptm.warmMedianS)} | ${diff(ref.check)} | ${fmt(ref.loadAtStart)} |`);
  return rows;
}

/** Per-kernel GPU time grouped by kernel and shape, largest first. */
function kernelGroups(kernels) {
  const groups = new Map();
  for (const l of kernels.launches) {
    const shape = l.params.m !== undefined ? `${l.params.m}×${l.params.n}×${l.params.k}` : l.params.tq !== undefined ? `${l.params.heads} heads, ${l.params.tq}×${l.params.tk}` : l.params.rows !== undefined ? `${l.params.rows}×${l.params.cols}` : l.params.n !== undefined ? `n ${l.params.n}` : '';
    const key = `${l.kernel}|${shape}`;
    const g = groups.get(key) ?? { kernel: l.kernel, op: l.op, shape, count: 0, gpuMs: 0, wallMs: 0, flops: 0, best: 0, lines: new Set() };
    g.count++;
    g.gpuMs += l.gpuMs ?? l.wallMs;
    // The fastest launch of the group: the least disturbed by other work on the machine.
    if (l.flops) g.best = Math.max(g.best, l.flops / 1e6 / (l.gpuMs ?? l.wallMs));
    g.wallMs += l.wallMs;
    g.flops += l.flops;
    g.lines.add(l.line);
    groups.set(key, g);
  }
  return [...groups.values()].sort((a, b) => b.gpuMs - a.gpuMs);
}

function byOp(kernels) {
  const ops = new Map();
  for (const l of kernels.launches) {
    const o = ops.get(l.op) ?? { op: l.op, gpuMs: 0, flops: 0, count: 0 };
    o.gpuMs += l.gpuMs ?? l.wallMs;
    o.flops += l.flops;
    o.count++;
    ops.set(l.op, o);
  }
  return [...ops.values()].sort((a, b) => b.gpuMs - a.gpuMs);
}

function modelSection(main, wasm2) {
  const ptm = main.engines['ptm-webgpu'] ?? {};
  const og = main.engines['ort-webgpu'] ?? {};
  const lines = [
    `## ${main.model ?? main.file} (\`${main.file}\`): ${main.parameters?.toLocaleString('en-US') ?? '?'} parameters, batch 1, seq ${main.seq}, ${main.compile?.launches ?? '?'} kernel launches`,
    '',
  ];
  if (main.child?.error) lines.push(`**The measuring process failed:** ${main.child.error}`, '');
  if (wasm2?.child?.error) lines.push(`**The wasm 2-thread process failed:** ${wasm2.child.error}`, '');
  lines.push(
    'Times in seconds. Cold = session/device creation + first run (pipelines compiled on first use); warm = median of the warm runs, interleaved round-robin with the other engines of the same process.',
    '',
    '| engine | ready to run (s) | first run (s) | cold (s) | warm median (s) | warm runs (s) | warm / ptm warm | max abs diff vs ptm webgpu | load (1 min) at start |',
    '|---|---|---|---|---|---|---|---|---|',
    ...engineRows(main, wasm2),
    '',
    `‡ measured in a second process (onnxruntime-web fixes its thread count once per process) with ptm webgpu run again as the anchor: ptm warm ${fmt(wasm2?.engines['ptm-webgpu']?.warmMedianS)} s there; the ratio is against that.`,
    '',
  );
  const pairs = [
    ['warm: ort-webgpu / ptm-webgpu', og.warmMedianS, ptm.warmMedianS],
    ['cold (create + first run; ptm incl. device): ort-webgpu / ptm-webgpu', og.coldS, ptm.coldS],
    ['ort-webgpu session creation / ptm compile', og.sessionS, main.compile?.s],
    ['ort-webgpu session creation / ptm compile + device + session', og.sessionS, (main.compile?.s ?? 0) + (ptm.deviceS ?? 0) + (ptm.sessionS ?? 0)],
    ['first run: ort-webgpu / ptm-webgpu', og.firstRunS, ptm.firstRunS],
    ['warm: ort-wasm (1 thread) / ptm-webgpu', main.engines['ort-wasm']?.warmMedianS, ptm.warmMedianS],
    ['warm: ort-node / ptm-webgpu', main.engines['ort-node']?.warmMedianS, ptm.warmMedianS],
  ];
  lines.push('Ratios (> 1 means ptm is faster):', '', ...pairs.map(([label, a, b]) => `- ${label}: **${ratio(a, b)}**`), '');
  const stages = (main.compile?.stages ?? []).map((s) => `${s.name} ${s.ms.toFixed(0)} ms`).join(', ');
  if (stages) lines.push(`ptm compile stages: ${stages}.`, '');
  if (ptm.adapter || og.adapter) {
    const same = ptm.adapter && og.adapter && ptm.adapter.description === og.adapter.description;
    lines.push(`Adapters: ptm \`${ptm.adapter?.description ?? '?'}\`, onnxruntime-web \`${og.adapter?.description ?? '?'}\`${same ? ' (the same)' : ' (**not the same adapter**)'}.`, '');
  }
  const w1 = main.engines['ort-wasm'], w2 = wasm2?.engines['ort-wasm'];
  if (w1?.osThreads || w2?.osThreads) lines.push(`onnxruntime-web wasm threads asked / effective: ${w1?.threads ?? '–'} / ${w1?.effectiveThreads ?? '–'} and ${w2?.threads ?? '–'} / ${w2?.effectiveThreads ?? '–'}; OS threads of the process after session creation: ${w1?.osThreads ?? '–'} and ${w2?.osThreads ?? '–'}.`, '');

  const k = main.kernels;
  if (k?.error) lines.push(`Per-kernel timing **failed**: ${k.error}`, '');
  else if (k?.launches) {
    const total = k.launches.reduce((a, l) => a + (l.gpuMs ?? l.wallMs), 0);
    const [before, after] = k.batched ?? [];
    lines.push(
      `### Where ptm's time goes (${k.timestamps ? 'GPU timestamp queries' : 'wall time'}, each launch in a pass of its own)`,
      '',
      `Run after the warm runs (load ${loads(k.load)}). Sum over the ${k.launches.length} launches: ${(total / 1000).toFixed(2)} s of GPU time (${fmt(k.perLaunchWallS)} s wall for that run). ` +
        (before ? `Batched runs (all launches in one pass, as in the warm runs) just before and after: GPU ${fmt(before.gpuS)} s of ${fmt(before.wallS)} s wall, and GPU ${fmt(after.gpuS)} s of ${fmt(after.wallS)} s wall; the rest of a run's wall time is the host (recording, uploading inputs, reading back outputs). ` : '') +
        `Outputs of the per-launch run vs the warm runs: max abs diff ${k.check?.maxAbs ?? '?'}. "best GFLOP/s" is the group's fastest launch, the least disturbed by other load.`,
      '',
      '| op | GPU s | share | launches | GFLOP | GFLOP/s |',
      '|---|---|---|---|---|---|',
      ...byOp(k).map((o) => `| ${o.op} | ${(o.gpuMs / 1000).toFixed(2)} | ${((100 * o.gpuMs) / total).toFixed(1)}% | ${o.count} | ${o.flops ? (o.flops / 1e9).toFixed(2) : '–'} | ${o.flops ? (o.flops / 1e6 / o.gpuMs).toFixed(2) : '–'} |`),
      '',
      '| kernel | shape (m×n×k) | launches | GPU s | share | GFLOP/s | best GFLOP/s | .ptm lines |',
      '|---|---|---|---|---|---|---|---|',
      ...kernelGroups(k).slice(0, 12).map((g) => `| \`${g.kernel}\` | ${g.shape} | ${g.count} | ${(g.gpuMs / 1000).toFixed(3)} | ${((100 * g.gpuMs) / total).toFixed(1)}% | ${g.flops ? (g.flops / 1e6 / g.gpuMs).toFixed(2) : '–'} | ${g.best ? g.best.toFixed(2) : '–'} | ${[...g.lines].join(', ')} |`),
      '',
    );
  }
  return lines;
}

/** The paragraph on what we reached and what limits us, derived from this run's numbers. */
function findings(pairs) {
  const out = ['## What we reached and what limits us', ''];
  const faster = (a, b) => (a / b >= 1 ? `ptm ${(a / b).toFixed(2)}× faster` : `ptm ${(b / a).toFixed(2)}× slower`);
  for (const { main } of pairs) {
    const ptm = main.engines['ptm-webgpu'] ?? {};
    const og = main.engines['ort-webgpu'] ?? {};
    const w1 = main.engines['ort-wasm'] ?? {};
    const on = main.engines['ort-node'] ?? {};
    const name = main.model ?? main.file;
    if (!ptm.warmMedianS) {
      out.push(`- **${name}**: ptm webgpu did not finish (${ptm.error ?? main.child?.error ?? 'unknown'}), so there is nothing to compare.`);
      continue;
    }
    const parts = [];
    if (og.warmMedianS) {
      parts.push(`against onnxruntime-web's WebGPU EP on the same adapter, warm ${fmt(ptm.warmMedianS)} s vs ${fmt(og.warmMedianS)} s (${faster(og.warmMedianS, ptm.warmMedianS)}), cold ${fmt(ptm.coldS)} s vs ${fmt(og.coldS)} s (${faster(og.coldS, ptm.coldS)}); compiling the .ptm takes ${fmt(main.compile?.s)} s where onnxruntime-web needs ${fmt(og.sessionS)} s to create its session`);
    } else parts.push(`onnxruntime-web's WebGPU EP gave no warm time (${og.error ?? 'not run'})`);
    const k = main.kernels;
    const modelFlops = k?.launches ? k.launches.reduce((a, l) => a + l.flops, 0) : 0;
    const cpuPeers = [w1.warmMedianS && `onnxruntime-web wasm on ${w1.threads} thread${w1.threads === 1 ? '' : 's'} ${fmt(w1.warmMedianS)} s`, on.warmMedianS && `onnxruntime-node ${fmt(on.warmMedianS)} s${modelFlops ? ` (${(modelFlops / 1e9 / on.warmMedianS).toFixed(0)} GFLOP/s)` : ''}`].filter(Boolean);
    if (cpuPeers.length) parts.push(`the CPU engines are faster than both WebGPU engines here: ${cpuPeers.join(', ')}, against ptm's ${fmt(ptm.warmMedianS)} s${modelFlops ? ` (${(modelFlops / 1e9 / ptm.warmMedianS).toFixed(1)} GFLOP/s)` : ''}`);
    if (k?.launches) {
      const total = k.launches.reduce((a, l) => a + (l.gpuMs ?? l.wallMs), 0);
      const share = (ms) => `${((100 * ms) / total).toFixed(0)}%`;
      const groups = kernelGroups(k);
      const matmuls = groups.filter((g) => g.op === 'fused_matmul' || g.op === 'matmul');
      const sum = (gs, f) => gs.reduce((a, g) => a + f(g), 0);
      const family = (gs) => ({ ms: sum(gs, (g) => g.gpuMs), rate: sum(gs, (g) => g.flops) / 1e6 / sum(gs, (g) => g.gpuMs), best: Math.max(0, ...gs.map((g) => g.best)) });
      const withNorm = matmuls.filter((g) => /layer_norm/.test(g.kernel));
      const plain = matmuls.filter((g) => !/layer_norm/.test(g.kernel));
      const mm = family(matmuls);
      let text = `matmuls are ${share(mm.ms)} of ptm's GPU time at ${mm.rate.toFixed(2)} GFLOP/s (best launch ${mm.best.toFixed(2)})`;
      if (withNorm.length && plain.length) {
        const a = family(withNorm), b = family(plain);
        text += `; those with a fused LayerNorm prologue take ${share(a.ms)} at ${a.rate.toFixed(2)} GFLOP/s (best ${a.best.toFixed(2)}), the others ${b.rate.toFixed(2)} (best ${b.best.toFixed(2)})`;
      }
      const top = groups[0];
      text += `; the largest group is \`${top.kernel}\` ${top.shape}${top.count > 1 ? ` ×${top.count}` : ''} at ${share(top.gpuMs)}`;
      const att = groups.filter((g) => g.op === 'attention');
      if (att.length) text += `, attention ${share(sum(att, (g) => g.gpuMs))} (${family(att).rate.toFixed(2)} GFLOP/s counting every query-key pair)`;
      parts.push(text);
      const b = (k.batched ?? []).filter((x) => x.gpuS !== null);
      if (b.length) {
        const host = sum(b, (x) => x.wallS - x.gpuS) / sum(b, (x) => x.wallS);
        parts.push(`the GPU is busy for ${(100 - 100 * host).toFixed(0)}% of a batched run's wall time, so the host (recording, upload, readback) is ${(100 * host).toFixed(0)}%`);
      }
    }
    out.push(`- **${name}**: ${parts.join('; ')}.`);
  }
  // The same kernel at the same shape in two models' tables: how much the shared machine moves a rate.
  const tables = pairs.filter((p) => p.main.kernels?.launches).map((p) => ({ name: p.main.model, groups: kernelGroups(p.main.kernels) }));
  for (let i = 0; i + 1 < tables.length; i++) {
    const [a, b] = [tables[i], tables[i + 1]];
    const pairsSame = a.groups.filter((g) => g.flops).map((g) => [g, b.groups.find((h) => h.kernel === g.kernel && h.shape === g.shape)]).filter(([, h]) => h);
    if (pairsSame.length) {
      const spread = pairsSame.map(([g, h]) => `\`${g.kernel}\` ${g.shape}: ${(g.flops / 1e6 / g.gpuMs).toFixed(2)} vs ${(h.flops / 1e6 / h.gpuMs).toFixed(2)}`).join('; ');
      out.push('', `The same kernel at the same shape appears in both ${a.name}'s and ${b.name}'s kernel tables, in GFLOP/s: ${spread}. The difference is the machine between the two passes (most likely the other work's load), not the kernel: compare shares and rates within one table (one pass, kernels interleaved layer by layer), not across tables.`);
    }
  }
  out.push(
    '',
    'On this machine WebGPU is Mesa lavapipe: WGSL compiled by LLVM to CPU code and run on the same two',
    'cores, so both WebGPU engines are bounded by how well each shader becomes SIMD CPU code, and the CPU',
    'engines (MLAS GEMMs in wasm and native code) are the ceiling. The WebGPU-vs-WebGPU ratios are the',
    'comparison of the two compilers; the kernel table says what to improve first in ptm.',
    '',
  );
  return out;
}

function report(bench) {
  const byFile = new Map();
  for (const r of bench.runs) {
    const entry = byFile.get(r.file) ?? {};
    entry[r.child?.id ?? 'main'] = r;
    byFile.set(r.file, entry);
  }
  const pairs = [...byFile.values()].filter((p) => p.main).map((p) => ({ main: p.main, wasm2: p.wasm2 }));
  const m = bench.machine;
  const adapter = pairs.map((p) => p.main.engines['ptm-webgpu']?.adapter?.description).find(Boolean) ?? 'unknown';
  const runs = bench.runs.map((r) => `${r.child?.id} ${r.file} ${fmt(r.child?.wallS, 0)} s (load ${loads(r.load?.start)} → ${loads(r.load?.end)})`).join('; ');
  const lines = [
    '# Benchmark results',
    '',
    `Date: ${bench.date.slice(0, 16).replace('T', ' ')} UTC. Machine: ${m.cpu}, ${m.cores} cores, ${m.ramGiB.toFixed(0)} GiB RAM, Node ${m.node}, ${m.os}.`,
    `WebGPU adapter: \`${adapter}\` (Dawn from the \`webgpu\` package; Mesa's shader disk cache disabled so cold starts compile everything).`,
    `Load average (1 / 5 / 15 min): ${loads(bench.load.start)} at start, ${loads(bench.load.end)} at end. The machine was shared with other work, so compare the ratios (measured in the same process, warm runs interleaved), not the absolute times.`,
    `Command: \`${bench.command}\` — batch 1, seq ${pairs[0]?.main.seq ?? '?'}, f32, weights \`initParams(graph, 0)\`, inputs \`randomInputs(graph, 1, …)\`; ${bench.reps} warm runs per engine.`,
    `Processes: ${runs}.`,
    '',
    ...pairs.flatMap((p) => modelSection(p.main, p.wasm2)),
    ...findings(pairs),
    '## CPU forward pass: ptm reference interpreter vs onnxruntime-node, same graph and weights',
    '',
    '| model | parameters | ptm cpu (s) | onnxruntime-node (s) | ptm / ort | max abs diff | ptm compile (s) | ONNX export (s) | ort session create (s) |',
    '|---|---|---|---|---|---|---|---|---|',
    ...pairs.map(({ main }) => {
      const ref = main.engines['cpu-ref'] ?? {};
      const on = main.engines['ort-node'] ?? {};
      if (!ref.runS) return `| ${main.model} (${main.file}) | ${main.parameters?.toLocaleString('en-US')} | ${ref.skipped ? `skipped (${ref.skipped})` : `**failed**: ${ref.error ?? 'no result'}`} |||||||`;
      const d = ref.checkEach?.['ort-node']?.maxAbs?.toExponential(1) ?? '–';
      return `| ${main.model} (${main.file}) | ${main.parameters.toLocaleString('en-US')} | ${fmt(ref.runS)} (1 run) | ${fmt(on.warmMedianS, 3)} | ${ratio(ref.runS, on.warmMedianS)} | ${d} | ${fmt(main.compile?.s, 3)} | ${fmt(main.exportS)} | ${fmt(on.sessionS)} |`;
    }),
    '',
    'The CPU backend is the reference interpreter: plain TypeScript loops over Float32Array, one op at',
    'a time, single-threaded, no fusion and no SIMD. It exists to be obviously correct, not fast;',
    'onnxruntime runs MLAS kernels (AVX2/AVX-512, multithreaded).',
    '',
    'Raw numbers, every warm run and every kernel launch: `bench/results.json`.',
    '',
  ];
  writeFileSync(RESULTS_MD, lines.join('\n'));
  console.log(`wrote ${RESULTS_MD}`);
}

const bench = process.argv.includes('--report') ? JSON.parse(readFileSync(RESULTS_JSON, 'utf8')) : await measure();
report(bench);
