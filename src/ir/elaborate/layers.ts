// Built-in layers (REFERENCE.md §7.1, §8): Embedding, Linear, LayerNorm, RMSNorm, FFN, Attention,
// Parameter (and t5_bias, positions.ts). Each creates its parameters under a hierarchical name and
// emits graph ops; Attention stays one `attention` op between its projections, carrying its mask as a
// predicate and T5's relative bias as a score expression.
import { PtmError } from '../../diagnostics/diagnostic.js';
import { diag } from '../../diagnostics/catalogue.js';
import type { Span } from '../../diagnostics/span.js';
import type { Dim } from '../dim.js';
import { dimDivExact, shapeToString } from '../dim.js';
import type { MaskExpr } from '../mask.js';
import { maskChildren, maskTrue } from '../mask.js';
import type { Attrs, InitSpec } from '../types.js';
import type { Args } from './args.js';
import type { Elaborator } from './elaborate.js';
import type { EValue, MaskValue, ModuleValue } from './values.js';
import { kindName } from './values.js';
import { ACTIVATIONS, ATTENTION_NOT_YET } from './functions.js';
import { bindKeyLength, shiftReads } from './masks.js';
import { layerName } from './naming.js';
import { expertSpec, MoE } from './moe.js';
import { attentionPosition, relativeBias, rotate, rotaryTables, t5_bias, xl_relative, xlRelativeOf } from './positions.js';
import { segmentArgs, segmentAttention } from './memory.js';
import { emitLinearAttention, linearAttentionArgs } from './linear-attention.js';

type Tensor = EValue & { kind: 'tensor' };
export type LayerFn = (el: Elaborator, args: Args, nameHint?: string) => EValue;

const WEIGHT_STD = 0.02;

/** The last axis of `x`, which must be a known integer (a parameter's size depends on it). */
function featureDim(x: Tensor, what: string, span: Span): number {
  const d = x.value.type.shape[x.value.type.shape.length - 1];
  if (typeof d !== 'number') {
    throw new PtmError(diag.invalid_dimension(span, `${what} needs the last axis of its input to be a known size, got ${shapeToString(x.value.type.shape)}`));
  }
  return d;
}

/** y = x @ W + b with W: [in, out] (REFERENCE.md §8.2). Params under `local.`. */
function linear(el: Elaborator, x: Tensor, local: string, out: number, bias: boolean, span: Span): Tensor {
  const inF = featureDim(x, 'Linear', span);
  const positiveOut = el.positiveDim({ kind: 'number', value: out, isInteger: true, span }, span, 'the output size of Linear');
  return el.within(local, () => {
    const w = el.param('weight', [inF, positiveOut], { kind: 'normal', std: WEIGHT_STD }, span);
    let y = el.emit('matmul', [x, { kind: 'tensor', value: w, span }], {}, span);
    if (bias) y = el.emit('add', [y, { kind: 'tensor', value: el.param('bias', [positiveOut], { kind: 'zeros' }, span), span }], {}, span);
    return y;
  });
}

function layerNorm(el: Elaborator, x: Tensor, local: string, eps: number, rms: boolean, span: Span): Tensor {
  const d = featureDim(x, rms ? 'RMSNorm' : 'LayerNorm', span);
  return el.within(local, () => {
    const w: Tensor = { kind: 'tensor', value: el.param('weight', [d], { kind: 'ones' }, span), span };
    if (rms) return el.emit('rms_norm', [x, w], { eps }, span);
    const b: Tensor = { kind: 'tensor', value: el.param('bias', [d], { kind: 'zeros' }, span), span };
    return el.emit('layer_norm', [x, w, b], { eps }, span);
  });
}

function module(layer: string, name: string, params: ModuleValue['params'], settings: ModuleValue['settings'], span: Span): ModuleValue {
  return { kind: 'module', layer, name, params, settings, span };
}

/** `Embedding(num, dim)`: a table applied as `e(ids)` (§8.1). */
const Embedding: LayerFn = (el, args, hint) => {
  const num = el.positiveDim(args.require(0, 'num').value, args.require(0, 'num').span, 'the number of embeddings');
  const dim = el.positiveDim(args.require(1, 'dim').value, args.require(1, 'dim').span, 'the embedding size');
  const local = layerName(el, args, 'embed', hint);
  args.done(['num', 'dim']);
  const weight = el.within(local, () => el.param('weight', [num, dim], { kind: 'normal', std: WEIGHT_STD }, args.span));
  return module('Embedding', el.naming.prefix + local, { weight }, {}, args.span);
};

/** `Linear(x, out, bias: true)` inline, or `Linear(in, out)` as a module (§8.2). */
const Linear: LayerFn = (el, args, hint) => {
  const first = args.require(0, 'x').value;
  const bias = args.bool(undefined, 'bias', true);
  if (first.kind === 'tensor') {
    const out = el.positiveDim(args.require(1, 'out').value, args.require(1, 'out').span, 'the output size of Linear');
    const local = layerName(el, args, 'linear');
    args.done(['x', 'out']);
    return linear(el, first, local, out, bias, args.span);
  }
  const inF = el.positiveDim(first, args.require(0, 'in').span, 'the input size of Linear');
  const out = el.positiveDim(args.require(1, 'out').value, args.require(1, 'out').span, 'the output size of Linear');
  const local = layerName(el, args, 'linear', hint);
  args.done(['in', 'out']);
  const params = el.within(local, () => ({
    weight: el.param('weight', [inF, out], { kind: 'normal', std: WEIGHT_STD }, args.span),
    ...(bias ? { bias: el.param('bias', [out], { kind: 'zeros' }, args.span) } : {}),
  }));
  return module('Linear', el.naming.prefix + local, params, { bias }, args.span);
};

function norm(rms: boolean): LayerFn {
  const kind = rms ? 'RMSNorm' : 'LayerNorm';
  return (el, args, hint) => {
    const first = args.require(0, 'x').value;
    const eps = args.float(undefined, 'eps', rms ? 1e-6 : 1e-5);
    if (!(eps >= 0)) throw new PtmError(diag.invalid_dimension(args.span, `eps must be a non-negative number, got ${eps}`));
    if (first.kind === 'tensor') {
      const local = layerName(el, args, rms ? 'rms' : 'ln');
      args.done(['x']);
      return layerNorm(el, first, local, eps, rms, args.span);
    }
    const d = el.positiveDim(first, args.require(0, 'dim').span, `the size of ${kind}`);
    const local = layerName(el, args, rms ? 'rms' : 'ln', hint);
    args.done(['dim']);
    const params = el.within(local, () => ({
      weight: el.param('weight', [d], { kind: 'ones' }, args.span),
      ...(rms ? {} : { bias: el.param('bias', [d], { kind: 'zeros' }, args.span) }),
    }));
    return module(kind, el.naming.prefix + local, params, { eps }, args.span);
  };
}

/** `FFN(x, hidden: ff, act: gelu)`: up projection, activation, down projection (§8.4). */
const FFN: LayerFn = (el, args) => {
  if (args.positional.length === 0 && !args.named.has('x')) return expertSpec(args); // `expert:` of MoE (§8.8)
  const x = args.tensor(0, 'x');
  const hidden = el.positiveDim(args.require(undefined, 'hidden').value, args.require(undefined, 'hidden').span, 'the hidden size of FFN');
  const actArg = args.get(undefined, 'act');
  const act = actArg ? activationOf(actArg.value, actArg.span) : 'gelu';
  const d = featureDim(x, 'FFN', args.span);
  const outArg = args.get(undefined, 'out');
  const out = outArg ? el.positiveDim(outArg.value, outArg.span, 'the output size of FFN') : d;
  const bias = args.bool(undefined, 'bias', true);
  const local = layerName(el, args, 'ffn');
  args.done(['x']);
  return el.within(local, () => {
    const h = linear(el, x, 'up', hidden, bias, args.span);
    const a = el.emit(act, [h], {}, args.span);
    return linear(el, a, 'down', out, bias, args.span);
  });
}

function activationOf(v: EValue, span: Span): string {
  if (v.kind === 'function' && v.name in ACTIVATIONS) return ACTIVATIONS[v.name]!;
  throw new PtmError(diag.kind_mismatch(span, `an activation (${Object.keys(ACTIVATIONS).join(', ')})`, kindName(v)));
}

/**
 * `Attention(x, heads: h, mask: m, kv: y, bias: true, scale: s, position: p)` (§7.1). Projections
 * q, k, v, o of [d, d]; heads split as [B, T, H, Dh] -> [B, H, T, Dh]; rotary positions turn q and k;
 * one `attention` op (its operands: q, k, v, the mask's tensors, then a T5 bias table); heads merged; o.
 */
const Attention: LayerFn = (el, args) => {
  for (const [name, what] of Object.entries(ATTENTION_NOT_YET)) {
    const given = args.named.get(name);
    if (given) throw new PtmError(diag.unsupported(given.nameSpan, `${what}, REFERENCE.md §9`));
  }
  const x = args.tensor(0, 'x');
  const headsArg = args.require(undefined, 'heads');
  const heads = el.positiveDim(headsArg.value, headsArg.span, 'the number of heads');
  const maskValue: MaskValue = args.mask(undefined, 'mask') ?? { kind: 'mask', expr: maskTrue, tensors: [], span: args.span };
  const kvArg = args.get(undefined, 'kv');
  if (kvArg && kvArg.value.kind !== 'tensor') throw new PtmError(diag.kind_mismatch(kvArg.span, "a tensor for 'kv' of Attention", kindName(kvArg.value)));
  const kv = (kvArg?.value as Tensor | undefined) ?? x;
  const bias = args.bool(undefined, 'bias', true);
  const positionArg = args.get(undefined, 'position');
  const local = layerName(el, args, 'attn');
  const scaleArg = args.get(undefined, 'scale');
  const segment = segmentArgs(el, args, kvArg); // memory:, query:, query_mask: (memory.ts)
  const linearCost = linearAttentionArgs(el, args); // kernel:, project_kv: (linear-attention.ts)
  args.done(['x']);
  for (const [t, what] of [[x, 'x'], [kv, 'kv']] as const) {
    if (t.value.type.shape.length !== 3) throw new PtmError(diag.rank_mismatch(t.span, `Attention needs ${what} as [batch, seq, features], got ${shapeToString(t.value.type.shape)}`));
  }
  const d = featureDim(x, 'Attention', args.span);
  const headDim = dimDivExact(d, heads);
  if (typeof headDim !== 'number') throw new PtmError(diag.invalid_dimension(headsArg.span, `${d} features do not split evenly into ${heads} heads`));
  let scale = 1 / Math.sqrt(headDim);
  if (scaleArg) {
    if (scaleArg.value.kind !== 'number') throw new PtmError(diag.kind_mismatch(scaleArg.span, "a number for 'scale'", kindName(scaleArg.value)));
    scale = scaleArg.value.value;
  }
  const [batch, tq] = x.value.type.shape as [Dim, Dim];
  const [batchKv, tk] = kv.value.type.shape as [Dim, Dim];
  checkMaskShapes(maskValue, { b: batch, q: tq, k: tk });
  const xl = xlRelativeOf(positionArg, { value: heads, span: headsArg.span }, headDim);
  if (linearCost && (segment || xl)) throw new PtmError(diag.unsupported(linearCost.span, 'linear-cost attention over segment memory or with xl_relative positions'));
  if (segment || xl) {
    if (segment?.query) checkMaskShapes(segment.query.mask, { b: batch, q: tq, k: tk });
    return segmentAttention(el, { x, heads, headDim, d, scale, bias, mask: maskValue, position: xl, positionArg, kvArg, segment: segment ?? {}, local, span: args.span });
  }
  const position = attentionPosition(el, positionArg, { value: heads, span: headsArg.span }, headDim, kvArg);

  return el.within(local, () => {
    const split = (t: Tensor, len: Dim, b: Dim): Tensor => {
      const r = el.emit('reshape', [t], { shape: [b, len, heads, headDim] }, args.span);
      return el.emit('transpose', [r], { perm: [0, 2, 1, 3] }, args.span); // [B, H, T, Dh]
    };
    let q = split(linear(el, x, 'q', d, bias, args.span), tq, batch);
    let k = split(linear(el, kv, 'k', d, bias, args.span), tk, batchKv);
    const v = split(linear(el, kv, 'v', d, bias, args.span), tk, batchKv);
    if (position?.encoding === 'rotary') {
      const tables = rotaryTables(el, tq, position, q.value.type.dtype, position.span);
      q = rotate(el, q, tables, position.dims, headDim, position.span);
      k = rotate(el, k, tables, position.dims, headDim, position.span);
    }
    if (linearCost) {
      const scoreBiasSpan = position?.encoding === 't5_bias' ? position.span : undefined;
      const o = emitLinearAttention(el, linearCost, { q, k, v, mask: maskValue, scale, headDim, scaleSpan: scaleArg?.span, scoreBiasSpan }, args.span);
      return linear(el, el.emit('reshape', [el.emit('transpose', [o], { perm: [0, 2, 1, 3] }, args.span)], { shape: [batch, tq, d] }, args.span), 'o', d, bias, args.span);
    }
    const operands = [q, k, v, ...maskValue.tensors.map((value): Tensor => ({ kind: 'tensor', value, span: maskValue.span }))];
    const attrs: Attrs = { scale, mask: shiftReads(bindKeyLength(maskValue.expr, tk), 3) };
    if (position?.encoding === 't5_bias') {
      const { table, bias: scoreBias } = relativeBias(el, position, operands.length, position.span);
      operands.push(table);
      attrs.bias = scoreBias;
    }
    const o = el.emit('attention', operands, attrs, args.span); // [B, H, Tq, Dh]
    const merged = el.emit('reshape', [el.emit('transpose', [o], { perm: [0, 2, 1, 3] }, args.span)], { shape: [batch, tq, d] }, args.span);
    return linear(el, merged, 'o', d, bias, args.span);
  });
};

/** Each tensor a mask reads with `b`, `q` or `k` must have that axis as long as the batch, queries or keys. */
function checkMaskShapes(m: MaskValue, lengths: Record<'b' | 'q' | 'k', Dim>): void {
  const walk = (e: MaskExpr): void => {
    if (e.kind === 'read') {
      const t = m.tensors[e.operand]!;
      if (e.indices.length !== t.type.shape.length) {
        throw new PtmError(diag.invalid_mask(m.span, `the mask indexes a tensor of shape ${shapeToString(t.type.shape)} with ${e.indices.length} indices`));
      }
      e.indices.forEach((ix, axis) => {
        if (ix.kind !== 'var' || ix.name === 'h') return;
        const expected = lengths[ix.name];
        if (t.type.shape[axis] !== expected) {
          const range = ix.name === 'b' ? 'the batch' : ix.name === 'q' ? 'the queries' : 'the keys';
          throw new PtmError(diag.invalid_mask(m.span, `the mask reads axis ${axis} of a tensor ${shapeToString(t.type.shape)} with '${ix.name}', which ranges over ${range} (${expected})`));
        }
      });
    }
    maskChildren(e).forEach(walk);
  };
  walk(m.expr);
}

/**
 * `Parameter([d0, d1, ...], init: normal(0.02))` (§8.7): a free parameter named by its assignment
 * (`lm_bias = Parameter(...)` is `lm_bias`), by `name:`, or else `param`, `param_1`, ... in its scope.
 */
const Parameter: LayerFn = (el, args, hint) => {
  const shapeArg = args.require(0, 'shape');
  const initArg = args.get(undefined, 'init');
  const local = layerName(el, args, 'param', hint);
  args.done(['shape']);
  if (shapeArg.value.kind !== 'list') throw new PtmError(diag.kind_mismatch(shapeArg.span, 'a list of dimensions like [vocab] or [d, d] for the shape of Parameter', kindName(shapeArg.value)));
  const shape = shapeArg.value.items.map((item) => el.positiveDim(item, item.span, 'a dimension of a parameter'));
  let init: InitSpec = { kind: 'normal', std: WEIGHT_STD };
  if (initArg) {
    if (initArg.value.kind !== 'init') throw new PtmError(diag.kind_mismatch(initArg.span, "an initializer for 'init' of Parameter (zeros, ones or normal(std))", kindName(initArg.value)));
    init = initArg.value.init;
  }
  return { kind: 'tensor', value: el.param(local, shape, init, args.span), span: args.span };
};

export const LAYERS: Record<string, LayerFn> = {
  Embedding, Linear, LayerNorm: norm(false), RMSNorm: norm(true), FFN, Attention, Parameter, t5_bias, xl_relative, MoE,
};

/** Applying a declared module to a tensor: `tok(ids)`, `proj(x)`, `ln(x)`. */
export const MODULE_APPLY: Record<string, (el: Elaborator, m: ModuleValue, args: Args) => EValue> = {
  Embedding: (el, m, args) => {
    const ids = args.tensor(0, 'ids');
    args.done(['ids']);
    return el.emit('gather', [{ kind: 'tensor', value: m.params.weight!, span: m.span }, ids], { axis: 0 }, args.span);
  },
  Linear: (el, m, args) => {
    const x = args.tensor(0, 'x');
    args.done(['x']);
    let y = el.emit('matmul', [x, { kind: 'tensor', value: m.params.weight!, span: m.span }], {}, args.span);
    if (m.params.bias) y = el.emit('add', [y, { kind: 'tensor', value: m.params.bias, span: m.span }], {}, args.span);
    return y;
  },
  LayerNorm: (el, m, args) => {
    const x = args.tensor(0, 'x');
    args.done(['x']);
    const p = (v: typeof m.params.weight) => ({ kind: 'tensor' as const, value: v!, span: m.span });
    return el.emit('layer_norm', [x, p(m.params.weight), p(m.params.bias)], { eps: m.settings.eps as number }, args.span);
  },
  RMSNorm: (el, m, args) => {
    const x = args.tensor(0, 'x');
    args.done(['x']);
    return el.emit('rms_norm', [x, { kind: 'tensor', value: m.params.weight!, span: m.span }], { eps: m.settings.eps as number }, args.span);
  },
};
