// Float64 reference for the family tests (family.test.ts): the Transformer pieces written out from the
// papers' equations over plain arrays, sharing no code with src/ (its own erf, its own loops). A
// sequence is `Rows`: one Float64Array of features per position. Weights are read by their ptm names.
import type { Tensor } from '../../src/runtime/index.js';

export type Rows = Float64Array[];
export type Weights = ReadonlyMap<string, Tensor>;
export type Act = 'gelu' | 'gelu_tanh';
/** Whether query q sees key k (the attention mask of one sequence). */
export type Visible = (q: number, k: number) => boolean;

/**
 * erf in float64: the Maclaurin series below 3 (terms stay under 1e3, so cancellation costs < 1e-13)
 * and the continued fraction of erfc above (60 terms: converged to ~1e-16 for |x| >= 3).
 */
export function erf(x: number): number {
  const a = Math.abs(x);
  if (a < 3) {
    let term = x, sum = x;
    for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
      term *= (-x * x) / n;
      sum += term / (2 * n + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(a) = exp(-a^2) / sqrt(pi) / (a + (1/2) / (a + 1 / (a + (3/2) / (a + 2 / (a + ...)))))
  let f = a;
  for (let n = 60; n >= 1; n--) f = a + n / 2 / f;
  return Math.sign(x) * (1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / f);
}

export const gelu = (x: number): number => 0.5 * x * (1 + erf(x / Math.SQRT2));
export const geluTanh = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
const activation = (act: Act): ((x: number) => number) => (act === 'gelu' ? gelu : geluTanh);

export function weight(w: Weights, name: string): Tensor {
  const t = w.get(name);
  if (!t) throw new Error(`reference: no parameter '${name}' (have ${[...w.keys()].slice(0, 8).join(', ')}, ...)`);
  return t;
}

/** Row `i` of a [n, d] table. */
export function tableRow(table: Tensor, i: number): Float64Array {
  const d = table.shape[1]!;
  if (!(i >= 0 && i < table.shape[0]!)) throw new Error(`reference: row ${i} outside a table of ${table.shape[0]} rows`);
  return Float64Array.from(table.data.subarray(i * d, (i + 1) * d));
}

export function embed(w: Weights, name: string, ids: readonly number[]): Rows {
  return ids.map((id) => tableRow(weight(w, name), id));
}

export function add(...terms: Rows[]): Rows {
  return terms[0]!.map((_, t) => {
    const out = new Float64Array(terms[0]![t]!.length);
    for (const x of terms) for (let i = 0; i < out.length; i++) out[i] += x[t]![i]!;
    return out;
  });
}

export const map = (x: Rows, f: (v: number) => number): Rows => x.map((r) => r.map(f));

/** (x - mean) / sqrt(var + eps) * weight + bias, with the biased variance. */
export function layerNorm(w: Weights, prefix: string, x: Rows, eps: number): Rows {
  const g = weight(w, `${prefix}.weight`).data, b = weight(w, `${prefix}.bias`).data;
  return x.map((r) => {
    const mean = r.reduce((s, v) => s + v, 0) / r.length;
    const variance = r.reduce((s, v) => s + (v - mean) ** 2, 0) / r.length;
    const inv = 1 / Math.sqrt(variance + eps);
    return r.map((v, i) => (v - mean) * inv * g[i]! + b[i]!);
  });
}

/** x @ W + b with W: [in, out] (ptm's Linear layout). */
export function linear(w: Weights, prefix: string, x: Rows, bias = true): Rows {
  const W = weight(w, `${prefix}.weight`);
  const [inF, outF] = W.shape as [number, number];
  const b = bias ? weight(w, `${prefix}.bias`).data : undefined;
  return x.map((r) => {
    if (r.length !== inF) throw new Error(`reference: ${prefix} takes ${inF} features, got ${r.length}`);
    const out = new Float64Array(outF);
    for (let o = 0; o < outF; o++) {
      let s = b ? b[o]! : 0;
      for (let i = 0; i < inF; i++) s += r[i]! * W.data[i * outF + o]!;
      out[o] = s;
    }
    return out;
  });
}

/**
 * Multi-head scaled dot-product attention (Vaswani et al. 2017): softmax(q k^T / sqrt(d_head)) v over
 * the visible keys, per head, then the output projection. A query that sees no key gets zeros before
 * the projection (ptm's convention for fully masked rows, REFERENCE.md §7.1).
 */
export function attention(w: Weights, prefix: string, x: Rows, heads: number, visible: Visible): Rows {
  const q = linear(w, `${prefix}.q`, x), k = linear(w, `${prefix}.k`, x), v = linear(w, `${prefix}.v`, x);
  const d = x[0]!.length, dh = d / heads, T = x.length;
  const mixed: Rows = x.map(() => new Float64Array(d));
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < T; i++) {
      const scores: number[] = [];
      for (let j = 0; j < T; j++) {
        if (!visible(i, j)) { scores.push(-Infinity); continue; }
        let s = 0;
        for (let c = h * dh; c < (h + 1) * dh; c++) s += q[i]![c]! * k[j]![c]!;
        scores.push(s / Math.sqrt(dh));
      }
      const top = Math.max(...scores);
      if (top === -Infinity) continue;
      const e = scores.map((s) => Math.exp(s - top));
      const z = e.reduce((a, b) => a + b, 0);
      for (let j = 0; j < T; j++) {
        if (e[j] === 0) continue;
        for (let c = h * dh; c < (h + 1) * dh; c++) mixed[i]![c]! += (e[j]! / z) * v[j]![c]!;
      }
    }
  }
  return linear(w, `${prefix}.o`, mixed);
}

export function ffn(w: Weights, prefix: string, x: Rows, act: Act): Rows {
  return linear(w, `${prefix}.down`, map(linear(w, `${prefix}.up`, x), activation(act)));
}

/** BERT's block (post-LN): x = LN(x + Attn(x)); x = LN(x + FFN(x)). Names as a ptm block gives them. */
export function postLnLayer(w: Weights, prefix: string, x: Rows, heads: number, act: Act, eps: number, visible: Visible): Rows {
  x = layerNorm(w, `${prefix}.ln`, add(x, attention(w, `${prefix}.attn`, x, heads, visible)), eps);
  return layerNorm(w, `${prefix}.ln_1`, add(x, ffn(w, `${prefix}.ffn`, x, act)), eps);
}

/** GPT-2/Megatron's block (pre-LN): x = x + Attn(LN(x)); x = x + FFN(LN(x)). */
export function preLnLayer(w: Weights, prefix: string, x: Rows, heads: number, act: Act, eps: number, visible: Visible): Rows {
  x = add(x, attention(w, `${prefix}.attn`, layerNorm(w, `${prefix}.ln`, x, eps), heads, visible));
  return add(x, ffn(w, `${prefix}.ffn`, layerNorm(w, `${prefix}.ln_1`, x, eps), act));
}

/** x @ table^T (+ bias): an output layer tied to an embedding table [vocab, d]. */
export function tiedLogits(w: Weights, table: string, x: Rows, bias?: string): Rows {
  const E = weight(w, table);
  const [vocab, d] = E.shape as [number, number];
  const b = bias ? weight(w, bias).data : undefined;
  return x.map((r) => {
    const out = new Float64Array(vocab);
    for (let t = 0; t < vocab; t++) {
      let s = b ? b[t]! : 0;
      for (let i = 0; i < d; i++) s += r[i]! * E.data[t * d + i]!;
      out[t] = s;
    }
    return out;
  });
}
