// Long-context sparse attention (issue 5): Sparse Transformer (fixed and strided), Longformer and
// BigBird. Each pattern's visibility against a predicate written here from the paper's description;
// tile classification against brute force (and no partial tile for random_blocks on aligned tiles);
// the three models at their published sizes (closed forms), and tiny: the CPU reference in float64
// against a float64 reference from the papers, WebGPU and onnxruntime against the CPU reference in
// f32, WGSL rendered and CUDA compiled by nvcc; random_blocks' diagnostics.
// Tolerances (as family.test.ts, where they are measured and explained):
// - float64 vs float64: relative error norm <= 1e-9 (only summation order differs; a wrong mask
//   moves outputs by 1e-2 or more);
// - WebGPU vs CPU, both f32: relative error norm <= 1e-4 (programs.test.ts's bound);
// - onnxruntime vs CPU, both f32: max abs error <= 1e-4 x max(1, largest |output|).
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, test } from 'vitest';
import { compile, compileGraph } from '../../src/api.js';
import type { Compiled } from '../../src/api.js';
import { classifyTile } from '../../src/codegen/templates/mask-tiles.js';
import type { TileRanges } from '../../src/codegen/templates/mask-tiles.js';
import type { MaskExpr } from '../../src/ir/index.js';
import { evalMask } from '../../src/ir/index.js';
import { PtmError } from '../../src/diagnostics/diagnostic.js';
import type { Graph } from '../../src/ir/types.js';
import { RandomStream, runGraph, size, tensor } from '../../src/runtime/index.js';
import type { Tensor } from '../../src/runtime/index.js';
import { WebGpuDevice } from '../../src/runtime/program/webgpu-device.js';
import { errorLog, expectOnnxMaxAbsAgreement, expectWebGpuMatchesCpu, expectWgslAndNvcc, nvccWorkspace, relativeError } from './harness.js';
import type { Rows, Visible, Weights } from './family-reference.js';
import { add, attention, embed, ffn, layerNorm, linear, map, preLnLayer } from './family-reference.js';

type Config = Record<string, number>;
type Inputs = Record<string, Tensor>;
const VOCAB = 97;
const WEBGPU_BINDING = 128 * 2 ** 20;

// ---------------------------------------------------------------------------------------------------
// The patterns from the papers

/** Child et al. 2019, §4.3 "fixed": A1 = same block of l, A2 = j mod l in {l - c, ..., l - 1}; causal. */
const fixedPattern = (l: number, c: number): Visible => (i, j) => j <= i && (Math.floor(j / l) === Math.floor(i / l) || j % l >= l - c);
/** Child et al. 2019, §4.2 "strided": A1 = {max(0, i - l), ..., i}, A2 = {j : (i - j) mod l = 0}; causal. */
const stridedPattern = (l: number): Visible => (i, j) => j <= i && (i - j <= l || (i - j) % l === 0);

/**
 * BigBird's random blocks as REFERENCE.md §7.2 documents them: with P = 32749, for pick j of query
 * block qb: x = ((qb mod P) * 9973 + c1) mod P; x = (x^2 + 7x + 1) mod P; x = (x * 16807 + c2) mod P;
 * key block x mod ceil(keys / block), with c1 = (j*7919 + s*4099 + 12345) mod P and
 * c2 = (j*3571 + s*28411 + 977) mod P for s = seed mod P. In float64 (every value < 2^31).
 */
function documentedPicks(qb: number, r: number, seed: number, keyBlocks: number): number[] {
  const P = 32749, s = seed % P;
  return Array.from({ length: r }, (_, j) => {
    const c1 = (j * 7919 + s * 4099 + 12345) % P, c2 = (j * 3571 + s * 28411 + 977) % P;
    let x = ((qb % P) * 9973 + c1) % P;
    x = (x * x + 7 * x + 1) % P;
    x = (x * 16807 + c2) % P;
    return x % keyBlocks;
  });
}

// ---------------------------------------------------------------------------------------------------
// Masks as the compiler elaborates them

interface AttentionMask {
  mask: MaskExpr;
  /** Mask operand -> graph input name. */
  read: (inputs: Inputs) => (operand: number, indices: number[]) => number;
}

/** The masks of a graph's attention ops, in order, with reads bound to its inputs. */
function attentionMasks(graph: Graph): AttentionMask[] {
  return graph.ops.filter((op) => op.op === 'attention').map((op) => {
    const names = op.operands.map((v) => graph.inputs.find((i) => i.value === v || i.value.id === v.id)?.name);
    return {
      mask: op.attrs.mask as MaskExpr,
      read: (inputs) => (operand, indices) => {
        const t = inputs[names[operand]!]!;
        let flat = 0;
        indices.forEach((x, axis) => (flat = flat * t.shape[axis]! + x));
        return Number(t.data[flat]);
      },
    };
  });
}

/** Every (q, k) of batch row b where the mask and `want` disagree, as "q,k". */
function disagreements(m: AttentionMask, inputs: Inputs, b: number, tq: number, tk: number, want: Visible): string[] {
  const read = m.read(inputs), out: string[] = [];
  for (let q = 0; q < tq; q++) {
    for (let k = 0; k < tk; k++) if ((evalMask(m.mask, { b, h: 0, q, k }, read, (d) => (typeof d === 'number' ? d : tk)) !== 0) !== want(q, k)) out.push(`${q},${k}`);
  }
  return out;
}

const ints = (shape: number[], f: (...index: number[]) => number): Tensor => {
  const data = new Int32Array(size(shape));
  if (shape.length === 1) for (let b = 0; b < shape[0]!; b++) data[b] = f(b);
  else for (let b = 0; b < shape[0]!; b++) for (let t = 0; t < shape[1]!; t++) data[b * shape[1]! + t] = f(b, t);
  return tensor('i32', shape, data);
};
const bools = (shape: [number, number], f: (b: number, t: number) => boolean): Tensor => {
  const data = new Uint8Array(size(shape));
  for (let b = 0; b < shape[0]; b++) for (let t = 0; t < shape[1]; t++) data[b * shape[1] + t] = f(b, t) ? 1 : 0;
  return tensor('bool', shape, data);
};
const rowOf = (t: Tensor, b: number): number[] => {
  const n = t.shape.length === 1 ? 1 : t.shape[1]!;
  return Array.from(t.data.subarray(b * n, (b + 1) * n), Number);
};

describe('visibility of each pattern against the papers', () => {
  const T = 70;
  test('Sparse Transformer fixed (models/sparse-transformer.ptm) and strided (causal & (window(l) | strided(l)))', () => {
    const { graph } = compileGraph(readFileSync('models/sparse-transformer.ptm', 'utf8'), { file: 'sparse-transformer.ptm', set: { layers: 1, d: 32, heads: 2, l: 8, c: 3 } });
    expect(disagreements(attentionMasks(graph)[0]!, {}, 0, T, T, fixedPattern(8, 3))).toEqual([]);
    const strided = compileGraph('model S {\n  config { l = 8 }\n  input x: f32[batch, seq, 16]\n  output y = Attention(x, heads: 2, mask: causal & (window(l) | strided(l)))\n}\n', { file: 's.ptm' }).graph;
    expect(disagreements(attentionMasks(strided)[0]!, {}, 0, T, T, stridedPattern(8))).toEqual([]);
  });

  test('Longformer: sliding window of 2w + 1 and global tokens (a prefix) in both directions', () => {
    const { graph } = compileGraph(readFileSync('models/longformer.ptm', 'utf8'), { file: 'longformer.ptm', set: { layers: 1, d: 32, heads: 2, w: 5, max_len: T } });
    const inputs = { valid: bools([2, T], (b, t) => b === 0 || t < 60), n_global: ints([2], (b) => [3, 0][b]!) };
    const [sliding, global] = attentionMasks(graph);
    for (let b = 0; b < 2; b++) {
      const n = rowOf(inputs.n_global, b)[0]!, valid = rowOf(inputs.valid, b);
      // Beltagy et al. §3.1: a window of w on each side; global tokens attend to all and all attend to them.
      const longformer: Visible = (i, j) => valid[j] === 1 && (Math.abs(i - j) <= 5 || i < n || j < n);
      // Local rows (i >= n) take the sliding attention's output, global rows the global one's (own
      // projections); the global attention sees nothing from local rows, whose output it drops.
      const rowsFrom = (from: number, to: number) => (x: string) => Number(x.split(',')[0]) >= from && Number(x.split(',')[0]) < to;
      expect(disagreements(sliding!, inputs, b, T, T, longformer).filter(rowsFrom(n, T))).toEqual([]);
      expect(disagreements(global!, inputs, b, T, T, longformer).filter(rowsFrom(0, n))).toEqual([]);
      expect(disagreements(global!, inputs, b, T, T, () => false).filter(rowsFrom(n, T))).toEqual([]);
    }
  });

  test('BigBird: 3 sliding blocks, global tokens, r random key blocks per query block (Zaheer et al. §2)', () => {
    const block = 4, r = 3, seed = 11;
    const { graph } = compileGraph(readFileSync('models/bigbird.ptm', 'utf8'), { file: 'bigbird.ptm', set: { layers: 1, d: 32, heads: 2, block_size: block, r, seed, ctx: T } });
    const keyBlocks = Math.ceil(T / block);
    const inputs = { valid: bools([1, T], (_b, t) => t < 66), is_global: bools([1, T], (_b, t) => t < block || t >= T - 2) };
    const valid = rowOf(inputs.valid, 0), g = rowOf(inputs.is_global, 0);
    const bigbird: Visible = (i, j) => {
      const qb = Math.floor(i / block), kb = Math.floor(j / block);
      return valid[j] === 1 && (Math.abs(qb - kb) <= 1 || g[i] === 1 || g[j] === 1 || documentedPicks(qb, r, seed, keyBlocks).includes(kb));
    };
    const [m] = attentionMasks(graph);
    expect(disagreements(m!, inputs, 0, T, T, bigbird)).toEqual([]);
  });

  test('random_blocks alone: whole blocks, at most r per query block, fixed by the seed, spread over the key blocks', () => {
    const spec = (seed: number) => `model R {\n  input x: f32[batch, seq, 16]\n  output y = Attention(x, heads: 2, mask: random_blocks(2, 8, ${seed}))\n}\n`;
    const tk = 8 * 100;
    const picksOf = (seed: number): number[][] => {
      const m = attentionMasks(compileGraph(spec(seed), { file: 'r.ptm' }).graph)[0]!;
      const dim = () => tk, read = () => 0;
      return Array.from({ length: 100 }, (_, qb) => {
        // every query of the block sees the same keys, and a seen key's whole block
        const seen = (q: number) => Array.from({ length: tk }, (_, k) => k).filter((k) => evalMask(m.mask, { b: 0, h: 0, q, k }, read, dim) !== 0);
        const first = seen(qb * 8);
        expect(seen(qb * 8 + 7)).toEqual(first);
        const blocks = [...new Set(first.map((k) => Math.floor(k / 8)))];
        expect(first.length).toBe(blocks.length * 8);
        expect(blocks.sort((a, b) => a - b)).toEqual([...new Set(documentedPicks(qb, 2, seed, 100))].sort((a, b) => a - b));
        return blocks;
      });
    };
    const a = picksOf(0), b = picksOf(1);
    expect(a.every((x) => x.length >= 1 && x.length <= 2)).toBe(true);
    expect(a).not.toEqual(b);
    // 200 picks over 100 key blocks: a uniform pick leaves about 100 e^-2 = 14 blocks unpicked; a
    // degenerate hash (a few blocks, or the query's own block) far more.
    const picked = new Set(a.flat());
    expect(picked.size).toBeGreaterThan(75);
    expect(a.filter((x, qb) => x.includes(qb)).length).toBeLessThan(10);
  });
});

describe('random_blocks diagnostics', () => {
  const spec = (args: string) => `model R {\n  input x: f32[batch, seq, 16]\n  output y = Attention(x, heads: 2, mask: random_blocks(${args}))\n}\n`;
  test.each([
    ['0, 64, 1', 'random_blocks(r, block, seed) needs a positive integer, got 0', '0'],
    ['2, 0, 1', 'random_blocks(r, block, seed) needs a positive integer, got 0', '0'],
    ['2, 64, -1', 'random_blocks(r, block, seed) needs a non-negative integer, got -1', '-1'],
    ['2, 64', 'missing', ''],
  ])('random_blocks(%s) is an error at the argument', (args, message, at) => {
    let error: unknown;
    try {
      compileGraph(spec(args), { file: 'r.ptm' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PtmError);
    const d = (error as PtmError).diagnostics[0]!;
    if (message === 'missing') expect(d.code).toBe('missing_argument');
    else {
      expect(d.code).toBe('invalid_mask');
      expect(d.message).toBe(message);
      expect(spec(args).slice(d.span.offset, d.span.end)).toBe(at);
    }
  });
});

describe('tile classification of the sparse patterns', () => {
  /** 'masked' / 'visible' when every element agrees, else 'partial'. */
  function bruteForce(mask: MaskExpr, r: TileRanges): string {
    let any = false, all = true;
    for (let qi = r.q[0]; qi <= r.q[1]; qi++) {
      for (let ki = r.k[0]; ki <= r.k[1]; ki++) {
        const v = evalMask(mask, { b: r.b, h: r.h, q: qi, k: ki }, r.read!, (d) => (typeof d === 'number' ? d : r.dims![d]!)) !== 0;
        any ||= v;
        all &&= v;
      }
    }
    return !any ? 'masked' : all ? 'visible' : 'partial';
  }
  const tiles = (mask: MaskExpr, T: number, tile: number, read: TileRanges['read']) => {
    const counts: Record<string, number> = { masked: 0, visible: 0, partial: 0 };
    for (let q0 = 0; q0 < T; q0 += tile) {
      for (let k0 = 0; k0 < T; k0 += tile) {
        const r: TileRanges = { b: 0, h: 0, q: [q0, Math.min(q0 + tile, T) - 1], k: [k0, Math.min(k0 + tile, T) - 1], read, dims: {} };
        const cls = classifyTile(mask, r);
        if (cls !== 'partial') expect(cls, `tile q ${q0}, k ${k0}`).toBe(bruteForce(mask, r));
        counts[cls]!++;
      }
    }
    return counts;
  };

  test('random_blocks on block-aligned 16 x 16 tiles: every tile masked or visible, never partial', () => {
    const m = attentionMasks(compileGraph('model R {\n  input x: f32[batch, seq, 16]\n  output y = Attention(x, heads: 2, mask: random_blocks(3, 64, 7))\n}\n', { file: 'r.ptm' }).graph)[0]!;
    const T = 512, mask = JSON.parse(JSON.stringify(m.mask).replace(/"dim":"[^"]+"/g, `"dim":${T}`)) as MaskExpr;
    const counts = tiles(mask, T, 16, () => 0);
    expect(counts.partial).toBe(0);
    // at most 3 of 8 key blocks per query block are visible
    expect(counts.masked).toBeGreaterThanOrEqual((32 * 32 * 5) / 8);
  });

  test('window | prefix global (Longformer) and BigBird: masked tiles are found, and never wrongly', () => {
    const T = 256;
    const { graph } = compileGraph(readFileSync('models/longformer.ptm', 'utf8'), { file: 'longformer.ptm', set: { layers: 1, d: 32, heads: 2, w: 24, max_len: T } });
    const inputs = { valid: bools([1, T], () => true), n_global: ints([1], () => 5) };
    const [sliding, global] = attentionMasks(graph);
    const s = tiles(sliding!.mask, T, 16, sliding!.read(inputs));
    expect(s.masked).toBeGreaterThan(150); // of 256 tiles, the band of 2 x 24 keys and one global column are not
    const g = tiles(global!.mask, T, 16, global!.read(inputs));
    expect(g.masked).toBe(15 * 16); // only the first query tile holds global queries
    const bb = compileGraph(readFileSync('models/bigbird.ptm', 'utf8'), { file: 'bigbird.ptm', set: { layers: 1, d: 32, heads: 2, block_size: 16, ctx: T } }).graph;
    const bbInputs = { valid: bools([1, T], () => true), is_global: bools([1, T], (_b, t) => t < 16 || t >= T - 16) };
    const m = attentionMasks(bb)[0]!;
    const mask = JSON.parse(JSON.stringify(m.mask).replace(/"dim":"[^"]+"/g, `"dim":${T}`)) as MaskExpr;
    const c = tiles(mask, T, 16, m.read(bbInputs));
    expect(c.partial).toBe(0);
    expect(c.masked).toBeGreaterThan(100);
  });
});

// ---------------------------------------------------------------------------------------------------
// The models

/** Vaswani et al. 2017, §3.5. */
function sinusoidalRows(T: number, d: number): Rows {
  return Array.from({ length: T }, (_, p) => Float64Array.from({ length: d }, (_, c) => {
    const angle = p / 10000 ** ((2 * Math.floor(c / 2)) / d);
    return c % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
  }));
}

type Outputs = Record<string, Rows[]>;

interface Member {
  file: string;
  tiny: Config;
  inputs(): Inputs;
  reference(w: Weights, x: Inputs, c: Config): Outputs;
  count(c: Config): number;
}

const layerParams = (d: number, ff: number): number => 4 * (d * d + d) + 2 * 2 * d + (d * ff + ff) + (ff * d + d);
const SEQ = 20;

function tokens(seed: number, batch: number, seq: number): Tensor {
  const stream = new RandomStream(seed, 'ids');
  return ints([batch, seq], (b, t) => stream.below(b * seq + t, VOCAB));
}

const MEMBERS: Record<string, Member> = {
  'sparse-transformer': {
    file: 'models/sparse-transformer.ptm',
    tiny: { layers: 2, d: 32, heads: 2, vocab: VOCAB, l: 4, c: 1 },
    inputs: () => ({ ids: tokens(1, 2, SEQ) }),
    reference: (w, x, c) => {
      const out: Outputs = { logits: [] };
      for (let b = 0; b < 2; b++) {
        let h = add(embed(w, 'tok.weight', rowOf(x.ids!, b)), sinusoidalRows(SEQ, c.d!));
        for (let l = 0; l < c.layers!; l++) h = preLnLayer(w, `layers.${l}`, h, c.heads!, 'gelu', c.eps!, fixedPattern(c.l!, c.c!));
        out.logits!.push(linear(w, 'out', layerNorm(w, 'ln', h, c.eps!)));
      }
      return out;
    },
    count: (c) => c.vocab! * c.d! + c.layers! * layerParams(c.d!, c.ff!) + 2 * c.d! + (c.d! * c.vocab! + c.vocab!),
  },
  longformer: {
    file: 'models/longformer.ptm',
    tiny: { layers: 2, d: 32, heads: 2, vocab: VOCAB, max_len: 30, w: 3 },
    inputs: () => ({ ids: tokens(2, 2, SEQ), valid: bools([2, SEQ], (b, t) => b === 0 || t < 16), n_global: ints([2], (b) => [2, 0][b]!) }),
    reference: (w, x, c) => {
      const out: Outputs = { hidden: [], pooled: [] };
      for (let b = 0; b < 2; b++) {
        const valid = rowOf(x.valid!, b), n = rowOf(x.n_global!, b)[0]!;
        let h = layerNorm(w, 'ln', add(embed(w, 'word.weight', rowOf(x.ids!, b)), embed(w, 'pos.weight', valid.map((_, t) => t + c.offset!))), c.eps!);
        for (let l = 0; l < c.layers!; l++) {
          // §3.1: local rows attend in the window and to global tokens with Q, K, V; global rows
          // attend to every token with Q_g, K_g, V_g.
          const local = attention(w, `layers.${l}.attention`, h, c.heads!, (i, j) => valid[j] === 1 && (Math.abs(i - j) <= c.w! || j < n));
          const global = attention(w, `layers.${l}.global`, h, c.heads!, (_i, j) => valid[j] === 1);
          h = layerNorm(w, `layers.${l}.ln`, add(h, h.map((_, i) => (i < n ? global[i]! : local[i]!))), c.eps!);
          h = layerNorm(w, `layers.${l}.ln_1`, add(h, ffn(w, `layers.${l}.ffn`, h, 'gelu')), c.eps!);
        }
        out.hidden!.push(h);
        out.pooled!.push(map(linear(w, 'pooler', [h[0]!]), Math.tanh));
      }
      return out;
    },
    count: (c) => c.vocab! * c.d! + c.ctx! * c.d! + 2 * c.d! + c.layers! * (layerParams(c.d!, c.ff!) + 4 * (c.d! * c.d! + c.d!)) + (c.d! * c.d! + c.d!),
  },
  bigbird: {
    file: 'models/bigbird.ptm',
    tiny: { layers: 2, d: 32, heads: 2, vocab: VOCAB, ctx: 30, block_size: 4, r: 2, seed: 5 },
    inputs: () => ({ ids: tokens(3, 2, SEQ), valid: bools([2, SEQ], (b, t) => b === 0 || t < 17), is_global: bools([2, SEQ], (_b, t) => t < 4 || t >= SEQ - 4) }),
    reference: (w, x, c) => {
      const out: Outputs = { hidden: [], pooled: [] };
      const block = c.block_size!, keyBlocks = Math.ceil(SEQ / block);
      for (let b = 0; b < 2; b++) {
        const valid = rowOf(x.valid!, b), g = rowOf(x.is_global!, b);
        const visible: Visible = (i, j) => {
          const qb = Math.floor(i / block), kb = Math.floor(j / block);
          return valid[j] === 1 && (Math.abs(qb - kb) <= 1 || g[i] === 1 || g[j] === 1 || documentedPicks(qb, c.r!, c.seed!, keyBlocks).includes(kb));
        };
        let h = layerNorm(w, 'ln', add(embed(w, 'word.weight', rowOf(x.ids!, b)), embed(w, 'pos.weight', valid.map((_, t) => t))), c.eps!);
        for (let l = 0; l < c.layers!; l++) {
          h = layerNorm(w, `layers.${l}.ln`, add(h, attention(w, `layers.${l}.attn`, h, c.heads!, visible)), c.eps!);
          h = layerNorm(w, `layers.${l}.ln_1`, add(h, ffn(w, `layers.${l}.ffn`, h, 'gelu')), c.eps!);
        }
        out.hidden!.push(h);
        out.pooled!.push(map(linear(w, 'pooler', [h[0]!]), Math.tanh));
      }
      return out;
    },
    count: (c) => c.vocab! * c.d! + c.ctx! * c.d! + 2 * c.d! + c.layers! * layerParams(c.d!, c.ff!) + (c.d! * c.d! + c.d!),
  },
};
const NAMES = Object.keys(MEMBERS);

/** Matrices N(0, 1/rows), biases N(0, 0.1^2), LayerNorm scales 1 + N(0, 0.1^2) (as family.test.ts). */
function weights(graph: Graph, seed: number): Map<string, Tensor> {
  return new Map(graph.params.map((p) => {
    const shape = p.value.type.shape as number[];
    const z = new RandomStream(seed, p.name).normals(size(shape));
    const data = Float32Array.from(z, (x) => (p.init.kind === 'ones' ? 1 + 0.1 * x : shape.length === 1 ? 0.1 * x : x / Math.sqrt(shape[0]!)));
    return [p.name, tensor('f32', shape, data)];
  }));
}

interface Built {
  compiled: Compiled;
  config: Config;
  params: Map<string, Tensor>;
  inputs: Inputs;
  f32: Map<string, Tensor>;
  f64: Map<string, Tensor>;
}
const built = new Map<string, Built>();
function tiny(name: string): Built {
  let b = built.get(name);
  if (!b) {
    const m = MEMBERS[name]!;
    const compiled = compile(readFileSync(m.file, 'utf8'), { file: m.file, set: m.tiny, maxBindingBytes: WEBGPU_BINDING });
    const params = weights(compiled.graph, 23);
    const inputs = m.inputs();
    b = {
      compiled, config: Object.fromEntries([...compiled.config].map(([k, v]) => [k, v.value])), params, inputs,
      f32: runGraph(compiled.graph, { inputs, params, precision: 'f32' }).outputs,
      f64: runGraph(compiled.graph, { inputs, params, precision: 'f64' }).outputs,
    };
    built.set(name, b);
  }
  return b;
}

const note = errorLog('sparse model errors');

describe('published sizes', () => {
  const exact: Record<string, number> = { 'sparse-transformer': 94_834_944, longformer: 155_745_792, bigbird: 127_467_264 };
  for (const name of NAMES) {
    test(`${name}: the parameter count is the architecture's closed form`, () => {
      const m = MEMBERS[name]!;
      const { graph, config } = compileGraph(readFileSync(m.file, 'utf8'), { file: m.file });
      const count = graph.params.reduce((n, p) => n + size(p.value.type.shape as number[]), 0);
      expect(count).toBe(m.count(Object.fromEntries([...config].map(([k, v]) => [k, v.value]))));
      expect(count).toBe(exact[name]);
    });
  }
  test("Sparse Transformer rounds to Table 2's 95M; Longformer without its copies of O is RoBERTa-base + 3,584 positions + global Q, K, V", () => {
    expect(Math.round(exact['sparse-transformer']! / 1e6)).toBe(95);
    const robertaBase = 124_645_632; // roberta-base RobertaModel, including its 1-row token-type table
    expect(exact.longformer! - 12 * (768 * 768 + 768) + 768).toBe(robertaBase + (4098 - 514) * 768 + 12 * 3 * (768 * 768 + 768));
  });
});

describe('tiny models: the CPU reference in float64 against a float64 reference from the papers', () => {
  for (const name of NAMES) {
    test(name, () => {
      const b = tiny(name);
      const ref = MEMBERS[name]!.reference(b.params, b.inputs, b.config);
      for (const [out, rows] of Object.entries(ref)) {
        const err = relativeError(b.f64.get(out)!.data, Float64Array.from(rows.flatMap((seq) => seq.flatMap((r) => Array.from(r)))));
        note(`${name}.${out} f64 vs reference`, err);
        expect(err, out).toBeLessThanOrEqual(1e-9);
      }
    });
  }
});

describe('tiny models on WebGPU, onnxruntime, WGSL and CUDA', () => {
  let device: WebGpuDevice;
  const nvcc = nvccWorkspace('sparse', 'sparse_kernels', () => NAMES.map((name) => tiny(name).compiled.program));
  beforeAll(async () => {
    device = await WebGpuDevice.create();
  });

  for (const name of NAMES) {
    test(`${name}: WebGPU matches the CPU reference`, async () => {
      await expectWebGpuMatchesCpu(tiny(name), device, 1e-4, note, (out) => `${name}.${out} WebGPU vs CPU`);
    });

    test(`${name}: onnxruntime agrees on the exported ONNX`, async () => {
      await expectOnnxMaxAbsAgreement(tiny(name), 1e-4, note, (out) => `${name}.${out} onnxruntime vs CPU (max abs)`);
    });

    test(`${name}: renders WGSL, and nvcc compiles every CUDA kernel without a warning`, async () => {
      await expectWgslAndNvcc(tiny(name).compiled.program, nvcc);
    }, 300_000);
  }
});
