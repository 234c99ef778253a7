// Linear-cost attention for `Attention(..., kernel: ...)` and `Attention(..., project_kv: k)`
// (REFERENCE.md §7.5). Feature maps are graph ops (they fuse into the elementwise/matmul kernels), then
// one `linear_attention` op; Linformer projects keys and values along the sequence, then the ordinary
// `attention` op over the k projected positions.
import { PtmError } from '../../diagnostics/diagnostic.js';
import { diag } from '../../diagnostics/catalogue.js';
import type { Span } from '../../diagnostics/span.js';
import type { Dim } from '../dim.js';
import { isTrue, maskBin, maskTrue, maskVar } from '../mask.js';
import type { Args } from './args.js';
import type { Elaborator } from './elaborate.js';
import type { EValue, MaskValue } from './values.js';
import { kindName } from './values.js';

type Tensor = EValue & { kind: 'tensor' };

/** The feature map φ of a kernelized attention. */
export type FeatureMap = { map: 'elu_plus_one'; span: Span } | { map: 'favor'; features: number; seed: number; span: Span };

/** What `kernel:` and `project_kv:` asked for (at most one of them). */
export type LinearAttention =
  | { kind: 'kernel'; featureMap: FeatureMap; span: Span }
  | { kind: 'project_kv'; length: number; span: Span };

/** `favor(features: m, seed: s)`: FAVOR+'s positive random features (Choromanski et al. 2021). */
export function favor(el: Elaborator, args: Args): EValue {
  const featuresArg = args.require(0, 'features');
  const features = el.positiveDim(featuresArg.value, featuresArg.span, 'the number of random features');
  const seedArg = args.get(undefined, 'seed');
  args.done(['features']);
  let seed = 0;
  if (seedArg) {
    const v = seedArg.value;
    if (v.kind !== 'number' || !v.isInteger || v.value < 0 || !Number.isSafeInteger(v.value)) {
      throw new PtmError(diag.kind_mismatch(seedArg.span, "a non-negative integer for 'seed' of favor", kindName(v)));
    }
    seed = v.value;
  }
  return { kind: 'feature_map', map: 'favor', features, seed, span: args.span };
}

/** `elu_plus_one(x)`: elu(x) + 1 elementwise, Linear Transformer's feature map, = max(x, 0) + exp(min(x, 0)). */
export function elu_plus_one(el: Elaborator, args: Args): EValue {
  const x = args.tensor(0, 'x');
  args.done(['x']);
  return eluPlusOne(el, x, args.span);
}

function eluPlusOne(el: Elaborator, x: Tensor, span: Span): Tensor {
  const z = el.constant(0, x.value.type.dtype, span);
  return el.emit('add', [el.emit('max', [x, z], {}, span), el.emit('exp', [el.emit('min', [x, z], {}, span)], {}, span)], {}, span);
}

/** Reads `kernel:` and `project_kv:` of Attention (before `args.done`); undefined when neither is given. */
export function linearAttentionArgs(el: Elaborator, args: Args): LinearAttention | undefined {
  const kernelArg = args.get(undefined, 'kernel');
  const projectArg = args.get(undefined, 'project_kv');
  if (kernelArg && projectArg) {
    throw new PtmError(diag.conflicting_arguments(projectArg.span, "'kernel:' and 'project_kv:' are two different linear-cost attentions; give one", [{ message: 'the kernel is given here', span: kernelArg.span }]));
  }
  if (projectArg) {
    return { kind: 'project_kv', length: el.positiveDim(projectArg.value, projectArg.span, "the projected length of 'project_kv'"), span: projectArg.span };
  }
  if (!kernelArg) return undefined;
  const v = kernelArg.value;
  if (v.kind === 'function' && v.name === 'elu_plus_one') return { kind: 'kernel', featureMap: { map: 'elu_plus_one', span: kernelArg.span }, span: kernelArg.span };
  if (v.kind === 'feature_map') return { kind: 'kernel', featureMap: { map: 'favor', features: v.features, seed: v.seed, span: kernelArg.span }, span: kernelArg.span };
  throw new PtmError(diag.kind_mismatch(kernelArg.span, "a feature map for 'kernel' of Attention (elu_plus_one, or favor(features: m, seed: s))", kindName(v)));
}

/** What the attention around the core was given, for the checks that depend on it. */
export interface AttentionParts {
  q: Tensor; // [B, H, Tq, Dh]
  k: Tensor; // [B, H, Tk, Dh]
  v: Tensor; // [B, H, Tk, Dh]
  mask: MaskValue;
  scale: number;
  /** The span of `scale:` when given. */
  scaleSpan: Span | undefined;
  /** The span of a `position:` that adds a score bias (T5), which linear attention has no scores for. */
  scoreBiasSpan: Span | undefined;
  headDim: number;
}

const CAUSAL = JSON.stringify(maskBin('<=', maskVar('k'), maskVar('q')));

/** The core of a linear-cost attention: [B, H, Tq, Dh]. Creates its parameters in the current scope. */
export function emitLinearAttention(el: Elaborator, la: LinearAttention, parts: AttentionParts, span: Span): Tensor {
  const { mask } = parts;
  const full = isTrue(mask.expr);
  const causal = mask.tensors.length === 0 && JSON.stringify(mask.expr) === CAUSAL;
  if (parts.scoreBiasSpan) {
    throw new PtmError(diag.conflicting_arguments(parts.scoreBiasSpan, "a relative score bias cannot be added to linear-cost attention, which forms no score matrix", [{ message: 'linear-cost attention is asked for here', span: la.span }]));
  }
  if (la.kind === 'project_kv') {
    if (!full) throw new PtmError(diag.unsupported(mask.span, "a mask with 'project_kv:' (Linformer projects all positions of the sequence together, so only mask: full is defined)"));
    return linformer(el, la, parts, span);
  }
  if (!full && !causal) throw new PtmError(diag.unsupported(mask.span, "this mask with 'kernel:' (linear attention sums over all keys (full) or a prefix of them (causal); other masks have no running-sum form)"));
  const fm = la.featureMap;
  if (fm.map === 'elu_plus_one' && parts.scaleSpan) {
    throw new PtmError(diag.conflicting_arguments(parts.scaleSpan, "'scale:' has no effect with kernel: elu_plus_one, whose feature map ignores the softmax temperature", [{ message: 'the kernel is given here', span: fm.span }]));
  }
  if (fm.map === 'favor' && !(parts.scale > 0)) {
    throw new PtmError(diag.invalid_dimension(parts.scaleSpan ?? fm.span, `FAVOR+ estimates exp(scale q·k) with features of x·√scale, so scale must be positive, got ${parts.scale}`));
  }
  // [ω; −½·1]: [2·Dh, m], a constant drawn at compile time from `seed` (runtime/random-features.ts), not trained.
  const omega: Tensor | undefined = fm.map === 'favor'
    ? { kind: 'tensor', value: el.param('favor_features', [2 * parts.headDim, fm.features], { kind: 'random_features', seed: fm.seed }, fm.span), span: fm.span }
    : undefined;
  const phi = (x: Tensor, isKey: boolean): Tensor => (fm.map === 'elu_plus_one' ? eluPlusOne(el, x, fm.span) : favorFeatures(el, x, omega!, parts.scale, isKey, fm.span));
  const phiQ = phi(parts.q, false), phiK = phi(parts.k, true);
  return el.emit('linear_attention', [phiQ, phiK, parts.v], { causal }, span); // [B, H, Tq, Dh]
}

/**
 * FAVOR+'s positive features φ(x) = exp(ωᵀx' − |x'|²/2) / √m with x' = x·√scale (x / d^{1/4} by
 * default), so that E[φ(q)·φ(k)] = exp(scale q·k) (Choromanski et al. 2021, Lemma 1). The exponent
 * is one matmul, [x', x'⊙x'] @ [ω; −½·1] (the constant `favor_features` [2·Dh, m]), so it needs no
 * row reduction. Queries take a softmax over their features instead of exp: the same values up to a
 * positive factor per row, which cancels between the numerator and denominator of the attention (the
 * paper's code stabilizes queries by their largest exponent the same way), as does 1/√m.
 */
function favorFeatures(el: Elaborator, x: Tensor, projection: Tensor, scale: number, isKey: boolean, span: Span): Tensor {
  const scaled = el.emit('mul', [x, el.constant(Math.sqrt(scale), x.value.type.dtype, span)], {}, span);
  const lifted = el.emit('concat', [scaled, el.emit('mul', [scaled, scaled], {}, span)], { axis: 3 }, span); // [B, H, T, 2·Dh]
  const exponent = el.emit('matmul', [lifted, projection], {}, span); // [B, H, T, m]
  return isKey ? el.emit('exp', [exponent], {}, span) : el.emit('softmax', [exponent], { axis: 3 }, span);
}

/**
 * Linformer (Wang et al. 2020, eq. 7): K' = E K and V' = F V with E, F: [k, n] learned, shared by all
 * heads (the paper's headwise sharing), then softmax attention over the k projected positions.
 */
function linformer(el: Elaborator, la: Extract<LinearAttention, { kind: 'project_kv' }>, parts: AttentionParts, span: Span): Tensor {
  const n: Dim = parts.k.value.type.shape[2]!;
  if (typeof n !== 'number') {
    throw new PtmError(diag.invalid_dimension(la.span, `'project_kv:' projects a fixed sequence length n (E, F: [${la.length}, n]), but the keys are ${n} long; declare the input with a config value (e.g. i32[batch, n] with n = 512 in config)`));
  }
  const project = (name: string, x: Tensor): Tensor => {
    const w: Tensor = { kind: 'tensor', value: el.param(name, [la.length, n], { kind: 'normal', std: 1 / Math.sqrt(n) }, la.span), span: la.span };
    return el.emit('matmul', [w, x], {}, la.span); // [k, n] @ [B, H, n, Dh] -> [B, H, k, Dh]
  };
  const k = project('proj_k', parts.k);
  const v = project('proj_v', parts.v);
  return el.emit('attention', [parts.q, k, v], { scale: parts.scale, mask: maskTrue }, span);
}
