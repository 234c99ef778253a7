// Float64 encoder-decoder references written from the papers' equations (and Hugging Face's code where
// the paper leaves a detail open), sharing nothing with ptm but the parameter names: BART and MASS
// (post-LN, learned positions), T5 (pre-RMSNorm, relative position buckets). One sentence at a time;
// matrices are row-major Float64Arrays. Weights are [in, out] as ptm stores them (y = x W + b).
import type { Tensor } from '../../src/runtime/index.js';

export interface Mat { rows: number; cols: number; data: Float64Array }
export type Weights = ReadonlyMap<string, Tensor>;

const mat = (rows: number, cols: number): Mat => ({ rows, cols, data: new Float64Array(rows * cols) });

function weight(w: Weights, name: string): Tensor {
  const t = w.get(name);
  if (!t) throw new Error(`reference: no parameter '${name}' (have ${[...w.keys()].slice(0, 8).join(', ')}, ...)`);
  return t;
}

/** Rows `ids` of table `name` ([num, d]). */
export function embed(w: Weights, name: string, ids: readonly number[]): Mat {
  const t = weight(w, name);
  const d = t.shape[1]!;
  const out = mat(ids.length, d);
  ids.forEach((id, i) => {
    if (!(id >= 0 && id < t.shape[0]!)) throw new Error(`reference: id ${id} outside ${name}`);
    for (let j = 0; j < d; j++) out.data[i * d + j] = t.data[id * d + j]!;
  });
  return out;
}

export function add(a: Mat, b: Mat): Mat {
  const out = mat(a.rows, a.cols);
  for (let i = 0; i < a.data.length; i++) out.data[i] = a.data[i]! + b.data[i]!;
  return out;
}

/** x W (+ b) with W: [in, out] from `${name}.weight` and, when `bias`, `${name}.bias`. */
export function linear(w: Weights, name: string, x: Mat, bias = true): Mat {
  const W = weight(w, `${name}.weight`);
  const [inF, outF] = W.shape as [number, number];
  if (inF !== x.cols) throw new Error(`reference: ${name} takes ${inF} features, got ${x.cols}`);
  const b = bias ? weight(w, `${name}.bias`).data : undefined;
  const out = mat(x.rows, outF);
  for (let r = 0; r < x.rows; r++) {
    for (let o = 0; o < outF; o++) {
      let s = b ? b[o]! : 0;
      for (let i = 0; i < inF; i++) s += x.data[r * inF + i]! * W.data[i * outF + o]!;
      out.data[r * outF + o] = s;
    }
  }
  return out;
}

/** (x - mean) / sqrt(var + eps) * gamma + beta over each row, biased variance (Ba et al. 2016). */
export function layerNorm(w: Weights, name: string, x: Mat, eps: number): Mat {
  const g = weight(w, `${name}.weight`).data, b = weight(w, `${name}.bias`).data;
  const out = mat(x.rows, x.cols);
  for (let r = 0; r < x.rows; r++) {
    const row = x.data.subarray(r * x.cols, (r + 1) * x.cols);
    const mean = row.reduce((s, v) => s + v, 0) / x.cols;
    const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / x.cols;
    for (let j = 0; j < x.cols; j++) out.data[r * x.cols + j] = ((row[j]! - mean) / Math.sqrt(variance + eps)) * g[j]! + b[j]!;
  }
  return out;
}

/** T5's norm: x / sqrt(mean(x^2) + eps) * gamma, no centering and no shift (Raffel et al. 2020, §2.1). */
export function rmsNorm(w: Weights, name: string, x: Mat, eps: number): Mat {
  const g = weight(w, `${name}.weight`).data;
  const out = mat(x.rows, x.cols);
  for (let r = 0; r < x.rows; r++) {
    let ss = 0;
    for (let j = 0; j < x.cols; j++) ss += x.data[r * x.cols + j]! ** 2;
    const inv = 1 / Math.sqrt(ss / x.cols + eps);
    for (let j = 0; j < x.cols; j++) out.data[r * x.cols + j] = x.data[r * x.cols + j]! * inv * g[j]!;
  }
  return out;
}

/** erf by its Maclaurin series for |x| <= 3 and the continued fraction of erfc beyond (both ~1e-14). */
export function erf(x: number): number {
  const a = Math.abs(x);
  if (a <= 3) {
    let term = a, sum = a;
    for (let n = 1; n < 200; n++) {
      term *= (-a * a) / n;
      const next = term / (2 * n + 1);
      sum += next;
      if (Math.abs(next) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(a) = exp(-a^2)/sqrt(pi) / (a + (1/2)/(a + 1/(a + (3/2)/(a + 2/(a + ...))))), evaluated backwards.
  let f = a;
  for (let n = 80; n >= 1; n--) f = a + n / 2 / f;
  return Math.sign(x) * (1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / f);
}

export const gelu = (x: number): number => 0.5 * x * (1 + erf(x / Math.SQRT2));
export const relu = (x: number): number => Math.max(0, x);

export function apply(x: Mat, f: (v: number) => number): Mat {
  return { rows: x.rows, cols: x.cols, data: x.data.map(f) };
}

export function scale(x: Mat, s: number): Mat {
  return apply(x, (v) => v * s);
}

/** up -> act -> down, with or without biases. */
export function ffn(w: Weights, name: string, x: Mat, act: (v: number) => number, bias = true): Mat {
  return linear(w, `${name}.down`, apply(linear(w, `${name}.up`, x, bias), act), bias);
}

export interface AttentionSpec {
  heads: number;
  /** Multiplies q.k (1/sqrt(head_dim) in Vaswani et al.; 1 in T5). */
  scale: number;
  /** Whether query i may attend to key j. */
  visible: (i: number, j: number) => boolean;
  /** Added to the score of head h, query i, key j (T5's relative position bias). */
  bias?: (h: number, i: number, j: number) => number;
  /** Projections with biases (false in T5). */
  projBias?: boolean;
}

/**
 * Multi-head attention (Vaswani et al. 2017, §3.2): queries from x, keys and values from kv; head h
 * uses feature columns [h*dh, (h+1)*dh) of each projection; softmax over visible keys; a query with
 * no visible key gets zeros (ptm's rule, REFERENCE.md §7.1); heads concatenated, then o.
 */
export function attention(w: Weights, name: string, x: Mat, kv: Mat, spec: AttentionSpec): Mat {
  const bias = spec.projBias ?? true;
  const q = linear(w, `${name}.q`, x, bias), k = linear(w, `${name}.k`, kv, bias), v = linear(w, `${name}.v`, kv, bias);
  const d = q.cols, dh = d / spec.heads;
  const merged = mat(x.rows, d);
  const scores = new Float64Array(kv.rows);
  for (let h = 0; h < spec.heads; h++) {
    for (let i = 0; i < x.rows; i++) {
      let max = -Infinity;
      for (let j = 0; j < kv.rows; j++) {
        if (!spec.visible(i, j)) { scores[j] = -Infinity; continue; }
        let s = 0;
        for (let c = h * dh; c < (h + 1) * dh; c++) s += q.data[i * d + c]! * k.data[j * d + c]!;
        s = s * spec.scale + (spec.bias ? spec.bias(h, i, j) : 0);
        scores[j] = s;
        max = Math.max(max, s);
      }
      if (max === -Infinity) continue; // no visible key: zeros
      let total = 0;
      for (let j = 0; j < kv.rows; j++) total += scores[j] = scores[j] === -Infinity ? 0 : Math.exp(scores[j]! - max);
      for (let j = 0; j < kv.rows; j++) {
        const p = scores[j]! / total;
        if (p === 0) continue;
        for (let c = h * dh; c < (h + 1) * dh; c++) merged.data[i * d + c] += p * v.data[j * d + c]!;
      }
    }
  }
  return linear(w, `${name}.o`, merged, bias);
}

/** x W^T (+ b): logits against a [vocab, d] table (a tied LM head). */
export function tiedHead(w: Weights, table: string, x: Mat, bias?: string): Mat {
  const T = weight(w, table);
  const [vocab, d] = T.shape as [number, number];
  const b = bias ? weight(w, bias).data : undefined;
  const out = mat(x.rows, vocab);
  for (let r = 0; r < x.rows; r++) {
    for (let o = 0; o < vocab; o++) {
      let s = b ? b[o]! : 0;
      for (let c = 0; c < d; c++) s += x.data[r * d + c]! * T.data[o * d + c]!;
      out.data[r * vocab + o] = s;
    }
  }
  return out;
}

// ---- BART and MASS: post-LN encoder-decoders ---------------------------------------------------

export interface PostLnSentence {
  src: number[];
  srcValid: boolean[];
  tgt: number[];
  /** Rows of the position tables: the encoder's, the decoder's. */
  srcPos: number[];
  tgtPos: number[];
  /** Rows of the language tables (MASS), one id for the sentence. */
  lang?: number;
  /** Source keys the decoder's cross-attention may see; default: the valid ones. */
  crossVisible?: (j: number) => boolean;
}

export interface PostLnModel {
  heads: number;
  layers: number;
  eps: number;
  encTok: string;
  decTok: string;
  langTables?: [string, string];
  logitsBias: string;
}

/**
 * BART (Lewis et al. 2020) / MASS (Song et al. 2019) as the paper's Transformer with post-LN
 * (Vaswani et al. 2017): embeddings (token + position [+ language]) -> LayerNorm; encoder layers
 * x = LN(x + SelfAttn(x)), x = LN(x + FFN(x)); decoder layers add causal self-attention and
 * cross-attention over the encoder output; logits against the decoder's token table plus a bias.
 */
export function postLnEncoderDecoder(w: Weights, m: PostLnModel, s: PostLnSentence): Mat {
  const dh = weight(w, `${m.encTok}`).shape[1]! / m.heads;
  const attn = { heads: m.heads, scale: 1 / Math.sqrt(dh) };
  let x = add(embed(w, m.encTok, s.src), embed(w, 'enc_pos.weight', s.srcPos));
  if (m.langTables) x = add(x, embed(w, m.langTables[0], s.src.map(() => s.lang!)));
  x = layerNorm(w, 'enc_ln_embedding', x, m.eps);
  for (let l = 0; l < m.layers; l++) {
    const p = `layers.${l}`;
    x = layerNorm(w, `${p}.ln`, add(x, attention(w, `${p}.attn`, x, x, { ...attn, visible: (_i, j) => s.srcValid[j]! })), m.eps);
    x = layerNorm(w, `${p}.ln_1`, add(x, ffn(w, `${p}.ffn`, x, gelu)), m.eps);
  }
  const crossVisible = s.crossVisible ?? ((j: number) => s.srcValid[j]!);
  let y = add(embed(w, m.decTok, s.tgt), embed(w, 'dec_pos.weight', s.tgtPos));
  if (m.langTables) y = add(y, embed(w, m.langTables[1], s.tgt.map(() => s.lang!)));
  y = layerNorm(w, 'dec_ln_embedding', y, m.eps);
  for (let l = 0; l < m.layers; l++) {
    const p = `dec_layers.${l}`;
    y = layerNorm(w, `${p}.ln`, add(y, attention(w, `${p}.attn`, y, y, { ...attn, visible: (i, j) => j <= i })), m.eps);
    y = layerNorm(w, `${p}.ln_1`, add(y, attention(w, `${p}.attn_1`, y, x, { ...attn, visible: (_i, j) => crossVisible(j) })), m.eps);
    y = layerNorm(w, `${p}.ln_2`, add(y, ffn(w, `${p}.ffn`, y, gelu)), m.eps);
  }
  return tiedHead(w, m.decTok, y, m.logitsBias);
}

// ---- T5 ------------------------------------------------------------------------------------------

/**
 * Hugging Face's T5Attention._relative_position_bucket, line for line, with Math.log: relative
 * position (key - query) -> bucket. Bidirectional: half the buckets for keys after the query; in
 * each half, exact buckets below max_exact = half/2, then logarithmic up to max_distance, then the last.
 */
export function t5Bucket(relative: number, bidirectional: boolean, numBuckets: number, maxDistance: number): number {
  let bucket = 0;
  let n = numBuckets;
  let rel = relative;
  if (bidirectional) {
    n = Math.floor(n / 2);
    if (rel > 0) bucket += n;
    rel = Math.abs(rel);
  } else {
    rel = -Math.min(rel, 0);
  }
  const maxExact = Math.floor(n / 2);
  if (rel < maxExact) return bucket + rel;
  const large = maxExact + Math.trunc((Math.log(rel / maxExact) / Math.log(maxDistance / maxExact)) * (n - maxExact));
  return bucket + Math.min(large, n - 1);
}

export interface T5Model {
  heads: number;
  layers: number;
  eps: number;
  buckets: number;
  maxDistance: number;
  /** Parameter names of the two bias tables, [buckets, heads] (Hugging Face's relative_attention_bias). */
  encBias: string;
  decBias: string;
  /** Bidirectional buckets in the encoder (true in T5; false only to show that it matters). */
  encBidirectional?: boolean;
}

export interface T5Sentence { src: number[]; srcValid: boolean[]; tgt: number[] }

/** The learned bias of `table` ([buckets, heads]) for head h, query i, key j. */
function t5PositionBias(w: Weights, table: string, m: T5Model, bidirectional: boolean): (h: number, i: number, j: number) => number {
  const t = weight(w, table);
  if (t.shape[0] !== m.buckets || t.shape[1] !== m.heads) throw new Error(`reference: ${table} is [${t.shape}], expected [${m.buckets}, ${m.heads}]`);
  return (h, i, j) => t.data[t5Bucket(j - i, bidirectional, m.buckets, m.maxDistance) * m.heads + h]!;
}

/**
 * T5 (Raffel et al. 2020, §2.1 and §3.1): pre-norm RMS LayerNorm, no biases, ReLU FFN, unscaled
 * dot products plus a relative position bias shared by the layers of a stack (bidirectional in
 * the encoder, causal buckets in the decoder, none in cross-attention), final norms, and the tied
 * head over the decoder output scaled by d^-0.5 (Hugging Face's T5ForConditionalGeneration).
 */
export function t5(w: Weights, m: T5Model, s: T5Sentence): Mat {
  const plain = { heads: m.heads, scale: 1, projBias: false };
  let x = embed(w, 'tok.weight', s.src);
  const encBias = t5PositionBias(w, m.encBias, m, m.encBidirectional ?? true);
  for (let l = 0; l < m.layers; l++) {
    const p = `layers.${l}`;
    const h = rmsNorm(w, `${p}.rms`, x, m.eps);
    x = add(x, attention(w, `${p}.attn`, h, h, { ...plain, visible: (_i, j) => s.srcValid[j]!, bias: encBias }));
    x = add(x, ffn(w, `${p}.ffn`, rmsNorm(w, `${p}.rms_1`, x, m.eps), relu, false));
  }
  const enc = rmsNorm(w, 'enc_rms', x, m.eps);
  let y = embed(w, 'tok.weight', s.tgt);
  const decBias = t5PositionBias(w, m.decBias, m, false);
  for (let l = 0; l < m.layers; l++) {
    const p = `dec_layers.${l}`;
    const h = rmsNorm(w, `${p}.rms`, y, m.eps);
    y = add(y, attention(w, `${p}.attn`, h, h, { ...plain, visible: (i, j) => j <= i, bias: decBias }));
    y = add(y, attention(w, `${p}.attn_1`, rmsNorm(w, `${p}.rms_1`, y, m.eps), enc, { ...plain, visible: (_i, j) => s.srcValid[j]! }));
    y = add(y, ffn(w, `${p}.ffn`, rmsNorm(w, `${p}.rms_2`, y, m.eps), relu, false));
  }
  const d = y.cols;
  return tiedHead(w, 'tok.weight', scale(rmsNorm(w, 'dec_rms', y, m.eps), d ** -0.5));
}
