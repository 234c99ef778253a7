// Mixture of experts (REFERENCE.md §8.8): routing with drops at capacity, the load-balancing loss and
// the combined output against float64 references written here from the papers — Switch (Fedus et al.
// 2021, §2.1–2.2: top-1, gate = router probability, capacity = factor × tokens / experts, loss
// E · Σ f_i P_i) and GShard (Lepikhin et al. 2020, Algorithm 1: top-2, gates divided by their sum,
// first choices placed before second choices, 2N/E slots at factor 1; second expert always dispatched)
// — and the models switch.ptm and gshard.ptm: sizes, and tiny runs on the CPU reference, WebGPU,
// onnxruntime (through the primitive decomposition) and nvcc.
// Tolerances:
// - CPU float64 vs the float64 reference: <= 1e-12 (gates are copied probabilities or one division; the
//   layer sums <= 16-term dot products in other orders). A wrong drop moves a weight by a whole gate
//   (>= 0.05 here), so the bound separates right from wrong by ten orders of magnitude.
// - f32 backends (CPU f32, decomposition, onnxruntime, WebGPU) vs float64: <= 1e-6 absolute on weights
//   in [0, 1] and the loss (f32 rounding of a division and of sums over <= 15 tokens); measured
//   6e-10 .. 1.2e-7.
// - Tiny models, WebGPU and onnxruntime vs CPU f32: relative error norm <= 1e-4 (the bound);
//   ties cannot flip between backends because the test first checks, on the CPU probabilities of every
//   MoE layer, that each token's chosen experts lead the next by >= 1e-4 (f32 softmax differs by ~1e-7).
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, test } from 'vitest';
import { compile, compileGraph } from '../../src/api.js';
import type { Compiled } from '../../src/api.js';
import { lowerGraph } from '../../src/codegen/lower/lower.js';
import { readGraph } from '../../src/ir/read.js';
import type { Graph } from '../../src/ir/types.js';
import { PtmError } from '../../src/diagnostics/diagnostic.js';
import { decomposeHighLevel } from '../../src/passes/decompose-high-level.js';
import { decodeStep } from '../../src/passes/derive-decode-step.js';
import { FUSION_PIPELINE, runPipeline } from '../../src/passes/pipeline.js';
import { RandomStream, runGraph, size, tensor } from '../../src/runtime/index.js';
import type { Tensor } from '../../src/runtime/index.js';
import { ProgramSession } from '../../src/runtime/program/session.js';
import { WebGpuDevice } from '../../src/runtime/program/webgpu-device.js';
import { errorLog, expectWebGpuMatchesCpu, expectWgslAndNvcc, nvccWorkspace, relativeError, runOnnx } from './harness.js';
import { gelu } from './family-reference.js';

// ---------------------------------------------------------------------------------------------------
// The papers' routing, in float64

interface Routing {
  /** [token][expert]: the gate where the token is kept at the expert, else 0. */
  combine: number[][];
  /** Assignments over capacity, in the order they were refused: [token, choice (0 or 1), expert]. */
  dropped: [number, number, number][];
  capacity: number;
}

/** Each token's experts by decreasing probability, ties to the lower index. */
function ranked(p: readonly number[]): number[] {
  return p.map((_, e) => e).sort((a, b) => p[b]! - p[a]! || a - b);
}

function paperRoute(probs: number[][], experts: number, topK: 1 | 2, factor: number): Routing {
  const tokens = probs.length;
  // Switch §2.2: (tokens / experts) × capacity factor; GShard: 2N/E at factor 1. Rounded up.
  const capacity = Math.ceil((factor * topK * tokens) / experts);
  const combine = probs.map((row) => row.map(() => 0));
  const dropped: Routing['dropped'] = [];
  const load = new Array<number>(experts).fill(0);
  const picks = probs.map((row) => ranked(row).slice(0, topK));
  for (let c = 0; c < topK; c++) {
    for (let n = 0; n < tokens; n++) {
      const e = picks[n]![c]!;
      const p = probs[n]!;
      const gate = topK === 1 ? p[e]! : p[e]! / (p[picks[n]![0]!]! + p[picks[n]![1]!]!);
      if (load[e]! < capacity) combine[n]![e] = gate;
      else dropped.push([n, c, e]);
      load[e]!++;
    }
  }
  return { combine, dropped, capacity };
}

/** Switch eq. 4 without α: E · Σ_i f_i · P_i. */
function paperAuxLoss(probs: number[][], experts: number): number {
  const tokens = probs.length;
  let loss = 0;
  for (let i = 0; i < experts; i++) {
    const f = probs.filter((row) => ranked(row)[0] === i).length / tokens;
    const P = probs.reduce((s, row) => s + row[i]!, 0) / tokens;
    loss += f * P;
  }
  return experts * loss;
}

// ---------------------------------------------------------------------------------------------------
// The ops on every backend

const routeGraph = (experts: number, topK: number, factor: number): Graph => readGraph(`graph route [batch, seq] {
  input %p: f32[batch, seq, ${experts}]
  %w: f32[batch, seq, ${experts}] = moe_route(%p) {capacity = ${factor.toFixed(4)}, top_k = ${topK}}
  %aux: f32[] = moe_aux_loss(%p)
  output w = %w
  output aux = %aux
}`);

function rowsOf(t: Tensor, experts: number): number[][] {
  return Array.from({ length: t.data.length / experts }, (_, n) => Array.from(t.data.slice(n * experts, (n + 1) * experts), Number));
}

const f32Tensor = (shape: number[], rows: number[][]): Tensor => tensor('f32', shape, Float32Array.from(rows.flat()));
/** The probabilities as f32 would store them, so references and backends start from the same numbers. */
const asF32 = (rows: number[][]): number[][] => rows.map((r) => r.map(Math.fround));

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const note = errorLog('moe errors');

let device: WebGpuDevice;
beforeAll(async () => {
  device = await WebGpuDevice.create();
});

/**
 * Hand-made probabilities for 2 × 4 tokens over 4 experts, no two equal in a row. Top-1 choices:
 * 0 0 0 1 | 2 0 3 1; second choices: 1 2 1 0 | 0 1 0 0.
 */
const HAND: number[][] = asF32([
  [0.50, 0.30, 0.15, 0.05], [0.60, 0.10, 0.25, 0.05], [0.45, 0.35, 0.12, 0.08], [0.30, 0.55, 0.10, 0.05],
  [0.25, 0.05, 0.60, 0.10], [0.40, 0.35, 0.15, 0.10], [0.30, 0.10, 0.20, 0.40], [0.33, 0.47, 0.12, 0.08],
]);

interface RouteCase {
  name: string;
  probs: number[][];
  shape: [number, number, number];
  topK: 1 | 2;
  factor: number;
  /** The papers' drops, written out by hand for the hand-made cases. */
  dropped?: [number, number, number][];
}

function randomProbs(seed: number, tokens: number, experts: number): number[][] {
  const z = new RandomStream(seed, 'router').normals(tokens * experts);
  return asF32(Array.from({ length: tokens }, (_, n) => {
    const logits = Array.from({ length: experts }, (_, e) => 2 * z[n * experts + e]!);
    const m = Math.max(...logits);
    const ex = logits.map((l) => Math.exp(l - m));
    const s = ex.reduce((a, b) => a + b, 0);
    return ex.map((v) => v / s);
  }));
}

const CASES: RouteCase[] = [
  // Switch, capacity ceil(1 · 8 / 4) = 2: expert 0 is the first choice of tokens 0, 1, 2, 5; 2 and 5 are dropped.
  { name: 'top-1 (Switch), hand-made', probs: HAND, shape: [2, 4, 4], topK: 1, factor: 1, dropped: [[2, 0, 0], [5, 0, 0]] },
  // GShard, capacity ceil(1 · 2 · 8 / 4) = 4: first choices fill expert 0 with 0, 1, 2, 5 (all kept); second
  // choices in token order: 3→0, 4→0, 6→0 and 7→0 find expert 0 full; 0→1, 2→1, 5→1 join 3, 7 at expert 1
  // (5 would be its 5th: dropped); 1→2 joins 4 at expert 2.
  { name: 'top-2 (GShard), hand-made', probs: HAND, shape: [2, 4, 4], topK: 2, factor: 1, dropped: [[3, 1, 0], [4, 1, 0], [5, 1, 1], [6, 1, 0], [7, 1, 0]] },
  { name: 'top-1, capacity 1.25, random', probs: randomProbs(3, 15, 4), shape: [3, 5, 4], topK: 1, factor: 1.25 },
  { name: 'top-2, capacity 0.75, random', probs: randomProbs(5, 15, 4), shape: [3, 5, 4], topK: 2, factor: 0.75 },
];

describe('moe_route and moe_aux_loss against the papers', () => {
  for (const c of CASES) {
    test(c.name, async () => {
      const experts = c.shape[2];
      const ref = paperRoute(c.probs, experts, c.topK, c.factor);
      if (c.dropped) expect(ref.dropped, 'the hand-written drops are the papers\'').toEqual(c.dropped);
      expect(ref.dropped.length, 'the case drops tokens').toBeGreaterThan(0);
      const refAux = paperAuxLoss(c.probs, experts);
      const graph = routeGraph(experts, c.topK, c.factor);
      const inputs = { p: f32Tensor(c.shape, c.probs) };
      const params = new Map<string, Tensor>();

      const f64 = runGraph(graph, { inputs, params, precision: 'f64' }).outputs;
      expect(maxAbs(f64.get('w')!.data, ref.combine.flat())).toBeLessThanOrEqual(1e-12);
      expect(Math.abs(f64.get('aux')!.data[0]! - refAux)).toBeLessThanOrEqual(1e-12);
      // which assignments were dropped: exactly the reference's
      const w = rowsOf(f64.get('w')!, experts);
      for (const [n, , e] of ref.dropped) expect(w[n]![e], `token ${n} at expert ${e}`).toBe(0);

      const check = (what: string, got: ArrayLike<number>, aux: number): void => {
        const err = Math.max(maxAbs(got, ref.combine.flat()), Math.abs(aux - refAux));
        note(`${c.name}: ${what}`, err);
        expect(err, what).toBeLessThanOrEqual(1e-6);
      };
      const cpu32 = runGraph(graph, { inputs, params, precision: 'f32' }).outputs;
      check('cpu f32', cpu32.get('w')!.data, cpu32.get('aux')!.data[0]!);
      const decomposed = decomposeHighLevel.run(graph, {}, {});
      expect(decomposed.ops.some((o) => o.op.startsWith('moe_'))).toBe(false);
      const dec = runGraph(decomposed, { inputs, params, precision: 'f32' }).outputs;
      check('decomposition on the cpu', dec.get('w')!.data, dec.get('aux')!.data[0]!);
      const onnx = await runOnnx(graph, params, inputs);
      check('onnxruntime', onnx.w!, onnx.aux![0]!);
      const program = lowerGraph(runPipeline(graph, FUSION_PIPELINE, { verify: true }));
      expect(program.launches.map((l) => l.instance.kernel.name)).toEqual([`moe_route_top${c.topK}_e${experts}`, `moe_aux_loss_e${experts}`]);
      const gpu = await ProgramSession.create(program, params, device).run(inputs);
      check('WebGPU', gpu.get('w')!.data, gpu.get('aux')!.data[0]!);
    });
  }

  test('the loss is 1 at perfect balance and E when every token prefers one expert', () => {
    const experts = 4;
    const balanced = asF32([[0.7, 0.1, 0.1, 0.1], [0.1, 0.7, 0.1, 0.1], [0.1, 0.1, 0.7, 0.1], [0.1, 0.1, 0.1, 0.7]]);
    const collapsed = asF32([[0.97, 0.01, 0.01, 0.01], [0.97, 0.01, 0.01, 0.01], [0.97, 0.01, 0.01, 0.01], [0.97, 0.01, 0.01, 0.01]]);
    const graph = routeGraph(experts, 1, 1);
    for (const [probs, expected] of [[balanced, 1], [collapsed, 4 * Math.fround(0.97)]] as const) {
      const out = runGraph(graph, { inputs: { p: f32Tensor([1, 4, 4], probs as number[][]) }, params: new Map(), precision: 'f64' }).outputs;
      expect(out.get('aux')!.data[0]).toBeCloseTo(expected, 6);
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// One MoE layer: the combined output

const LAYER = `model Layer {
  config { d = 8  ff = 16  experts = 4 }
  input x: f32[batch, seq, d]
  h = x + MoE(x, experts: experts, top_k: TOPK, capacity: 1.0, expert: FFN(hidden: ff, act: gelu))
  output y = h
  output aux = moe_aux_loss()
}`;

/** Weights that give well-separated router probabilities: matrices z / sqrt(fan-in), vectors 0.1 z, norms 1 + 0.1 z. */
function weights(graph: Graph, seed: number): Map<string, Tensor> {
  return new Map(graph.params.map((p) => {
    const shape = p.value.type.shape as number[];
    const z = new RandomStream(seed, p.name).normals(size(shape));
    const fanIn = shape.length >= 2 ? shape[shape.length - 2]! : 1;
    const data = Float32Array.from(z, (v) => (p.init.kind === 'ones' ? 1 + 0.1 * v : shape.length === 1 ? 0.1 * v : v / Math.sqrt(fanIn)));
    return [p.name, tensor('f32', shape, data)];
  }));
}

describe('a MoE layer', () => {
  for (const topK of [1, 2] as const) {
    test(`top-${topK}: x + Σ gate · FFN_e(x) in float64, and the loss`, () => {
      const graph = compileGraph(LAYER.replace('TOPK', String(topK)), { file: 'layer.ptm' }).graph;
      expect(graph.params.map((p) => `${p.name} ${p.value.type.shape.join('x')}`)).toEqual([
        'moe.router.weight 8x4', 'moe.experts.up.weight 4x8x16', 'moe.experts.up.bias 4x16', 'moe.experts.down.weight 4x16x8', 'moe.experts.down.bias 4x8',
      ]);
      const w = weights(graph, 11);
      const [B, T, d, ff, E] = [2, 5, 8, 16, 4];
      const xs = new RandomStream(12, 'x').normals(B * T * d);
      const x = tensor('f32', [B, T, d], Float32Array.from(xs));
      const got = runGraph(graph, { inputs: { x }, params: w, precision: 'f64' }).outputs;

      const get = (name: string) => w.get(name)!.data;
      const rows = Array.from({ length: B * T }, (_, n) => Array.from(x.data.slice(n * d, (n + 1) * d), Number));
      const router = get('moe.router.weight');
      const probs = rows.map((r) => {
        const logits = Array.from({ length: E }, (_, e) => r.reduce((s, v, i) => s + v * router[i * E + e]!, 0));
        const m = Math.max(...logits);
        const ex = logits.map((l) => Math.exp(l - m));
        const s = ex.reduce((a, b) => a + b, 0);
        return ex.map((v) => v / s);
      });
      const route = paperRoute(probs, E, topK, 1);
      expect(route.dropped.length, 'this input drops a token').toBeGreaterThan(0);
      const expert = (e: number, r: number[]): number[] => {
        const up = get('moe.experts.up.weight'), ub = get('moe.experts.up.bias'), down = get('moe.experts.down.weight'), db = get('moe.experts.down.bias');
        const h = Array.from({ length: ff }, (_, j) => gelu(r.reduce((s, v, i) => s + v * up[(e * d + i) * ff + j]!, ub[e * ff + j]!)));
        return Array.from({ length: d }, (_, o) => h.reduce((s, v, j) => s + v * down[(e * ff + j) * d + o]!, db[e * d + o]!));
      };
      const ref = rows.flatMap((r, n) => r.map((v, o) => v + route.combine[n]!.reduce((s, g, e) => (g === 0 ? s : s + g * expert(e, r)[o]!), 0)));
      expect(relativeError(got.get('y')!.data, ref)).toBeLessThanOrEqual(1e-12);
      expect(Math.abs(got.get('aux')!.data[0]! - paperAuxLoss(probs, E))).toBeLessThanOrEqual(1e-12);
    });
  }

  test('a MoE model cannot be decoded with a key/value cache (capacity couples positions)', () => {
    const lm = `model Lm {\n  input ids: i32[batch, seq]\n  tok = Embedding(97, 8)\n  h = tok(ids)\n  h = h + Attention(h, heads: 2, mask: causal)\n  h = h + MoE(h, experts: 4, expert: FFN(hidden: 16))\n  output logits = h @ tok.weight^T\n}`;
    const graph = compileGraph(lm, { file: 'lm.ptm' }).graph;
    let error: unknown;
    try {
      decodeStep(graph, { tokens: 'ids' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PtmError);
    expect((error as PtmError).diagnostics[0]).toMatchObject({ code: 'not_incremental', span: { line: 6 } });
    expect((error as PtmError).diagnostics[0]!.message).toMatch(/moe_route.*capacity/);
  });

  test('the example of REFERENCE.md §8.8 compiles, and a MoE over [tokens, d] runs alike on the CPU and WebGPU', async () => {
    const reference = readFileSync('dsl/REFERENCE.md', 'utf8');
    const example = /### 8\.8[^]*?```ptm\n([^]*?)```/.exec(reference)![1]!;
    const graph = compileGraph(example, { file: 'REFERENCE.md' }).graph;
    expect(graph.outputs.map((o) => o.name)).toEqual(['y', 'aux']);
    const flat = `model Flat {\n  input x: f32[tokens, 8]\n  output y = MoE(x, experts: 3, top_k: 2, capacity: 0.5, expert: FFN(hidden: 8, act: silu))\n  output aux = moe_aux_loss()\n}`;
    const compiled = compile(flat, { file: 'flat.ptm' });
    const params = weights(compiled.graph, 5);
    const x = tensor('f32', [7, 8], Float32Array.from(new RandomStream(6, 'x').normals(56)));
    const cpu = runGraph(compiled.graph, { inputs: { x }, params, precision: 'f32' }).outputs;
    const gpu = await ProgramSession.create(compiled.program, params, device).run({ x });
    for (const [name, t] of cpu) expect(relativeError(gpu.get(name)!.data, t.data), name).toBeLessThanOrEqual(1e-4);
  });

  test('stacked expert weights over one binding are a clear unsupported on the kernel backends', () => {
    const big = `model Big {\n  input x: f32[batch, seq, 64]\n  output y = MoE(x, experts: 8, expert: FFN(hidden: 256))\n}`;
    let error: unknown;
    try {
      compile(big, { file: 'big.ptm', maxBindingBytes: 256 * 1024 }); // up.weight is 8 · 64 · 256 · 4 bytes = 512 KiB
    } catch (e) {
      error = e;
    }
    expect((error as PtmError).diagnostics[0]).toMatchObject({ code: 'unsupported', span: { line: 3 } });
    expect((error as PtmError).diagnostics[0]!.message).toMatch(/moe\.experts\.up\.weight.*binding/);
  });

  test('diagnostics', () => {
    const bad = (text: string) => {
      try {
        compileGraph(text, { file: 'bad.ptm' });
      } catch (e) {
        return (e as PtmError).diagnostics[0]!;
      }
      throw new Error('compiled');
    };
    const layer = (args: string) => `model M {\n  input x: f32[batch, seq, 8]\n  output y = MoE(x, ${args})\n}`;
    expect(bad(layer('experts: 4, top_k: 3, expert: FFN(hidden: 16)'))).toMatchObject({ code: 'invalid_dimension', span: { line: 3 } });
    expect(bad(layer('experts: 4, capacity: 0, expert: FFN(hidden: 16)'))).toMatchObject({ code: 'invalid_dimension' });
    expect(bad(layer('experts: 4, expert: relu'))).toMatchObject({ code: 'kind_mismatch' });
    expect(bad(layer('experts: 4, expert: FFN(hidden: 16, out: 4)'))).toMatchObject({ code: 'unknown_argument' });
    expect(bad(layer('experts: 4'))).toMatchObject({ code: 'missing_argument' });
    expect(bad('model M {\n  input x: f32[batch, 8]\n  output y = moe_aux_loss()\n}')).toMatchObject({ code: 'no_moe_layers', span: { line: 3 } });
  });
});

// ---------------------------------------------------------------------------------------------------
// The models

const source = (file: string): string => readFileSync(file, 'utf8');

interface Member {
  file: string;
  topK: 1 | 2;
  tiny: Record<string, number>;
  /** Parameters at the published size, by a closed form. */
  params: number;
}

const T5_BASE = 222_903_552; // models/t5.ptm
const MEMBERS: Record<string, Member> = {
  // 12 sparse layers each add 7 experts (2 · 768 · 3072 each, no biases) and a router 768 × 8.
  switch: { file: 'models/switch.ptm', topK: 1, tiny: { layers: 2, d: 16, heads: 2, ff: 32, vocab: 97, experts: 4 }, params: T5_BASE + 12 * (7 * 2 * 768 * 3072 + 768 * 8) },
  // An attention 4d² + 4d, an FFN 2·d·ff + ff + d, a LayerNorm 2d, a MoE layer d·E + E·(2·d·ff + ff + d);
  // decoder pairs add two cross-attentions; two embeddings, the output projection, two final LayerNorms.
  gshard: { file: 'models/gshard.ptm', topK: 2, tiny: { layers: 2, d: 16, heads: 2, ff: 32, vocab: 97, experts: 4 }, params: gshardParams(32000, 1024, 8192, 128, 6) },
};

function gshardParams(vocab: number, d: number, ff: number, experts: number, layers: number): number {
  const attn = 4 * d * d + 4 * d, ln = 2 * d, ffn = 2 * d * ff + ff + d;
  const moe = d * experts + experts * ffn;
  const pairs = layers / 2;
  const encoder = pairs * (2 * (attn + ln) + ffn + ln + moe + ln);
  const decoder = pairs * (4 * (attn + ln) + ffn + ln + moe + ln);
  return encoder + decoder + 2 * vocab * d + 2 * ln + d * vocab;
}

function inputsOf(): Record<string, Tensor> {
  const [B, S, T] = [2, 6, 5];
  const ids = (n: number, salt: number) => Int32Array.from({ length: n }, (_, i) => (i * 37 + salt * 11 + 3) % 97);
  const valid = Uint8Array.from({ length: B * S }, (_, i) => (i === B * S - 1 ? 0 : 1)); // the last source token of row 1 is padding
  return { src: tensor('i32', [B, S], ids(B * S, 1)), src_valid: tensor('bool', [B, S], valid), tgt: tensor('i32', [B, T], ids(B * T, 2)) };
}

interface Built {
  compiled: Compiled;
  params: Map<string, Tensor>;
  inputs: Record<string, Tensor>;
  f32: Map<string, Tensor>;
}
const built = new Map<string, Built>();
function tiny(name: string): Built {
  let b = built.get(name);
  if (!b) {
    const m = MEMBERS[name]!;
    const compiled = compile(source(m.file), { file: m.file, set: m.tiny });
    const params = weights(compiled.graph, 17);
    const inputs = inputsOf();
    b = { compiled, params, inputs, f32: runGraph(compiled.graph, { inputs, params, precision: 'f32' }).outputs };
    built.set(name, b);
  }
  return b;
}

describe('switch.ptm and gshard.ptm', () => {
  const nvcc = nvccWorkspace('moe', 'moe_kernels', () => Object.keys(MEMBERS).map((name) => tiny(name).compiled.program));

  for (const [name, m] of Object.entries(MEMBERS)) {
    test(`${name}: checks at its published size with the closed-form parameter count`, () => {
      const { graph } = compileGraph(source(m.file), { file: m.file });
      expect(graph.params.reduce((n, p) => n + size(p.value.type.shape as number[]), 0)).toBe(m.params);
      expect(graph.ops.filter((o) => o.op === 'moe_route').every((o) => o.attrs.top_k === m.topK)).toBe(true);
    });

    test(`${name}: tiny, every MoE layer's choices are clear of ties and some tokens are dropped`, () => {
      const b = tiny(name);
      const g = b.compiled.graph;
      const routes = g.ops.filter((o) => o.op === 'moe_route');
      expect(routes.length).toBe(2); // one sparse layer per stack
      const probe: Graph = { ...g, outputs: [...g.outputs, ...routes.map((o, i) => ({ name: `probs${i}`, value: o.operands[0]!, loc: o.loc }))] };
      const out = runGraph(probe, { inputs: b.inputs, params: b.params, precision: 'f64' }).outputs;
      let drops = 0, gap = Infinity;
      routes.forEach((o, i) => {
        const probs = rowsOf(out.get(`probs${i}`)!, 4);
        for (const row of probs) {
          const r = ranked(row);
          for (let c = 0; c < m.topK; c++) gap = Math.min(gap, row[r[c]!]! - row[r[c + 1]!]!);
        }
        drops += paperRoute(probs, 4, m.topK, o.attrs.capacity as number).dropped.length;
      });
      note(`${name}: smallest gap between a chosen expert and the next`, gap);
      expect(gap).toBeGreaterThanOrEqual(1e-4);
      expect(drops).toBeGreaterThan(0);
      expect(b.f32.get('aux')!.data[0]).toBeGreaterThan(0);
    });

    test(`${name}: tiny on WebGPU matches the CPU reference`, async () => {
      await expectWebGpuMatchesCpu(tiny(name), device, 1e-4, note, (out) => `${name}.${out} WebGPU vs CPU`);
    });

    test(`${name}: onnxruntime agrees on the exported ONNX`, async () => {
      const b = tiny(name);
      const theirs = await runOnnx(b.compiled.graph, b.params, b.inputs);
      for (const [out, ref] of b.f32) {
        const err = relativeError(theirs[out]!, ref.data);
        note(`${name}.${out} onnxruntime vs CPU`, err);
        expect(err, out).toBeLessThanOrEqual(1e-4);
      }
    });

    test(`${name}: renders WGSL, and nvcc compiles every CUDA kernel`, async () => {
      await expectWgslAndNvcc(tiny(name).compiled.program, nvcc);
    }, 300_000);
  }
});
