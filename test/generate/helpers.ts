// Shared by the generation tests: tiny models (GPT-2 from models/gpt2.ptm at a small size, and a small
// encoder-decoder written here), their seeded weights, and a parameter source that counts reads.
import { readFileSync } from 'node:fs';
import { compileGraph } from '../../src/api.js';
import type { Graph } from '../../src/ir/types.js';
import { initParams, tensor } from '../../src/runtime/index.js';
import type { ParamSource, Tensor } from '../../src/runtime/index.js';

export const TINY_GPT2 = { layers: 2, d: 64, heads: 4, vocab: 97, ctx: 64 };

export function tinyGpt2(): Graph {
  return compileGraph(readFileSync('models/gpt2.ptm', 'utf8'), { file: 'models/gpt2.ptm', set: TINY_GPT2 }).graph;
}

export const TINY_T5 = { layers: 2, d: 64, heads: 4, vocab: 97, ff: 128 };

/** models/t5.ptm: relative position bias (t5_bucket) in the decoder's causal self-attention, RMSNorm, cross-attention. */
export function tinyT5(): Graph {
  return compileGraph(readFileSync('models/t5.ptm', 'utf8'), { file: 'models/t5.ptm', set: TINY_T5 }).graph;
}

/** Source inputs for the encoder-decoders: six ids, the last one padding. */
export function sourceInputs(): Record<string, Tensor> {
  return { src: tensor('i32', [1, 6], [3, 9, 5, 6, 7, 2]), src_valid: tensor('bool', [1, 6], [1, 1, 1, 1, 1, 0]) };
}

/** Encoder (bidirectional, padding mask), decoder (causal self-attention, cross-attention), learned positions. */
export const ENC_DEC = `model EncDec {
  config { vocab = 61  d = 32  heads = 4  ctx = 48  layers = 2 }
  input src: i32[batch, src_len]
  input src_valid: bool[batch, src_len]
  input tgt: i32[batch, tgt_len]
  tok = Embedding(vocab, d)
  pos = Embedding(ctx, d)
  block Enc(x) {
    x = x + Attention(LayerNorm(x), heads: heads, mask: padding(src_valid))
    x = x + FFN(LayerNorm(x), hidden: 2 * d)
    return x
  }
  block Dec(y, enc) {
    y = y + Attention(LayerNorm(y), heads: heads, mask: causal)
    y = y + Attention(LayerNorm(y), kv: enc, heads: heads, mask: padding(src_valid))
    y = y + FFN(LayerNorm(y), hidden: 2 * d)
    return y
  }
  enc = LayerNorm(repeat(layers) Enc(tok(src) + pos(arange(src_len))))
  y = repeat(layers) Dec(tok(tgt) + pos(arange(tgt_len)), enc)
  output logits = LayerNorm(y) @ tok.weight^T
}
`;

export function encDec(): Graph {
  return compileGraph(ENC_DEC, { file: 'enc-dec.ptm' }).graph;
}

/** Parameters with larger weights than the default init (std 0.02), so logits spread and sampling varies. */
export function params(graph: Graph, seed = 2, scale = 10): Map<string, Tensor> {
  const p = initParams(graph, seed);
  for (const [name, t] of p) if (name.endsWith('.weight') && t.shape.length === 2) for (let i = 0; i < t.data.length; i++) t.data[i]! *= scale;
  return p;
}

/** A ParamSource over `inner` that counts reads per name (the CPU reference reads each parameter once per run). */
export function counting(inner: Map<string, Tensor>): ParamSource & { reads: Map<string, number> } {
  const reads = new Map<string, number>();
  return {
    reads,
    get: (name) => {
      reads.set(name, (reads.get(name) ?? 0) + 1);
      return inner.get(name);
    },
    keys: () => inner.keys(),
  };
}

/** Largest |a - b| over each row, relative to the row's largest |a| (logits of one step per row). */
export function maxRelativeDiff(a: readonly Float64Array[], b: readonly Float64Array[]): number {
  let worst = 0;
  a.forEach((row, i) => {
    const scale = Math.max(...row.map(Math.abs));
    row.forEach((x, j) => { worst = Math.max(worst, Math.abs(x - b[i]![j]!) / scale); });
  });
  return worst;
}
