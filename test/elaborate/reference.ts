// Float64 references for the elaboration tests, written from the papers' equations and independent of
// ptm's kernels: multi-head attention (Vaswani et al. 2017 §3.2) with a visibility predicate, an
// additive score bias and a per-position rotation of queries and keys; and a model runner that gives
// every parameter seeded values of order one, so masks, biases and rotations change the outputs visibly.
import { compileGraph } from '../../src/api.js';
import type { Graph } from '../../src/ir/types.js';
import type { Tensor } from '../../src/runtime/index.js';
import { runGraph, tensor } from '../../src/runtime/index.js';
import { seeded, uniform } from '../runtime/helpers.js';

export interface ModelRun {
  graph: Graph;
  outputs: Map<string, Tensor>;
  /** Every parameter's values by name, as given to the run (f64). */
  params: Map<string, Float64Array>;
}

/**
 * Elaborates `source`, gives each parameter uniform values in [-spread, spread] (concrete shapes
 * only), and runs it on the cpu reference in float64.
 */
export function runModel(source: string, inputs: Record<string, Tensor>, options: { seed?: number; spread?: number; params?: Record<string, number[]> } = {}): ModelRun {
  const graph = compileGraph(source, { file: 't.ptm' }).graph;
  const rand = seeded(options.seed ?? 1);
  const params = new Map<string, Float64Array>();
  const given = new Map<string, Tensor>();
  for (const p of graph.params) {
    const shape = p.value.type.shape as number[];
    const n = shape.reduce((a, d) => a * d, 1);
    const values = Float64Array.from(options.params?.[p.name] ?? uniform(rand, n, -(options.spread ?? 0.5), options.spread ?? 0.5));
    params.set(p.name, values);
    given.set(p.name, tensor(p.value.type.dtype, shape, values, 'f64'));
  }
  const f64Inputs = Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, tensor(t.dtype, t.shape, t.data, 'f64')]));
  const { outputs } = runGraph(graph, { inputs: f64Inputs, params: given, precision: 'f64' });
  return { graph, outputs, params };
}

export interface AttentionCase {
  /** x: [B, T, d], row-major. */
  x: ArrayLike<number>;
  B: number;
  T: number;
  d: number;
  heads: number;
  /** Parameter values and the attention's name prefix (`attn`): `<prefix>.q.weight` is [d, d] as [in, out]. */
  params: ReadonlyMap<string, ArrayLike<number>>;
  prefix: string;
  projectionBias: boolean;
  /** Score scale; 1/sqrt(head_dim) by default. */
  scale?: number;
  /** Whether key k is visible to query q in batch b; all visible by default. */
  visible?: (b: number, q: number, k: number) => boolean;
  /** Added to the scaled score of (head h, query q, key k). */
  bias?: (h: number, q: number, k: number) => number;
  /** Rotates one head's query or key vector (in place) for its position. */
  rotate?: (v: number[], position: number) => void;
}

/** y = x W + b for one row. */
function project(row: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number> | undefined, d: number): number[] {
  const out = new Array<number>(d).fill(0);
  for (let j = 0; j < d; j++) {
    let s = b ? b[j]! : 0;
    for (let i = 0; i < d; i++) s += row[i]! * w[i * d + j]!;
    out[j] = s;
  }
  return out;
}

/**
 * Multi-head attention in float64: q, k, v, o projections; per head softmax(scale q·k + bias) over
 * the visible keys (a query that sees no key gives zeros), weighted sum of values; heads concatenated.
 */
export function referenceAttention(c: AttentionCase): Float64Array {
  const { B, T, d, heads } = c;
  const dh = d / heads;
  const scale = c.scale ?? 1 / Math.sqrt(dh);
  const w = (name: string) => c.params.get(`${c.prefix}.${name}`)!;
  const out = new Float64Array(B * T * d);
  for (let b = 0; b < B; b++) {
    const rows = Array.from({ length: T }, (_, t) => Array.from({ length: d }, (_, i) => c.x[(b * T + t) * d + i]!));
    const proj = (name: string) => rows.map((r) => project(r, w(`${name}.weight`), c.projectionBias ? w(`${name}.bias`) : undefined, d));
    const [q, k, v] = [proj('q'), proj('k'), proj('v')];
    const merged = Array.from({ length: T }, () => new Array<number>(d).fill(0));
    for (let h = 0; h < heads; h++) {
      const head = (m: number[][], t: number) => m[t]!.slice(h * dh, (h + 1) * dh);
      const qs = Array.from({ length: T }, (_, t) => head(q, t));
      const ks = Array.from({ length: T }, (_, t) => head(k, t));
      if (c.rotate) for (let t = 0; t < T; t++) { c.rotate(qs[t]!, t); c.rotate(ks[t]!, t); }
      for (let i = 0; i < T; i++) {
        const scores: number[] = [];
        const keys: number[] = [];
        for (let j = 0; j < T; j++) {
          if (c.visible && !c.visible(b, i, j)) continue;
          let dot = 0;
          for (let e = 0; e < dh; e++) dot += qs[i]![e]! * ks[j]![e]!;
          scores.push(scale * dot + (c.bias ? c.bias(h, i, j) : 0));
          keys.push(j);
        }
        if (keys.length === 0) continue;
        const max = Math.max(...scores);
        const exps = scores.map((s) => Math.exp(s - max));
        const sum = exps.reduce((a, x) => a + x, 0);
        keys.forEach((j, n) => {
          for (let e = 0; e < dh; e++) merged[i]![h * dh + e]! += (exps[n]! / sum) * v[j]![h * dh + e]!;
        });
      }
    }
    merged.forEach((row, t) => out.set(project(row, w('o.weight'), c.projectionBias ? w('o.bias') : undefined, d), (b * T + t) * d));
  }
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
