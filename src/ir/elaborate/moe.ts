// Mixture-of-experts feed-forward (REFERENCE.md §8.8): `MoE(x, experts, top_k, capacity, expert)` and
// `moe_aux_loss()`. A router (Linear d → E, no bias) and softmax give each token's probabilities;
// `moe_route` turns them into combine weights (gate, or 0 where the token is not routed or over
// capacity); `moe_choices` lists each token's routed experts (top_k rows per token) and
// `expert_matmul` runs each row through its expert's stacked weights [E, d, ff], so the experts cost
// top_k FFNs per token, not E; the combine weighs the rows by their gates. Each layer's load-balancing
// loss is kept for `moe_aux_loss()`, which sums those of the layers elaborated before it.
import { PtmError } from '../../diagnostics/diagnostic.js';
import { diag } from '../../diagnostics/catalogue.js';
import type { Span } from '../../diagnostics/span.js';
import type { Dim } from '../dim.js';
import { shapeToString } from '../dim.js';
import type { Args } from './args.js';
import type { Elaborator } from './elaborate.js';
import type { EValue, ModuleValue } from './values.js';
import { kindName } from './values.js';
import { ACTIVATIONS } from './functions.js';
import { layerName } from './naming.js';

type Tensor = EValue & { kind: 'tensor' };

const WEIGHT_STD = 0.02;

/** The auxiliary losses ([] tensors) of the MoE layers elaborated so far, per elaboration. */
const auxLosses = new WeakMap<Elaborator, Tensor[]>();

/**
 * `FFN(hidden: ff, act: gelu, bias: true)` without an input: the shape of one expert, for `expert:`
 * of MoE. Makes no parameters; the MoE layer creates them stacked over its experts.
 */
export function expertSpec(args: Args): ModuleValue {
  const hiddenArg = args.require(undefined, 'hidden');
  const actArg = args.get(undefined, 'act');
  const bias = args.bool(undefined, 'bias', true);
  args.done([]);
  let act = 'gelu';
  if (actArg) {
    if (actArg.value.kind !== 'function' || !(actArg.value.name in ACTIVATIONS)) {
      throw new PtmError(diag.kind_mismatch(actArg.span, `an activation (${Object.keys(ACTIVATIONS).join(', ')})`, kindName(actArg.value)));
    }
    act = actArg.value.name;
  }
  if (hiddenArg.value.kind !== 'number' || !hiddenArg.value.isInteger || hiddenArg.value.value < 1) {
    throw new PtmError(diag.kind_mismatch(hiddenArg.span, "a positive integer for 'hidden' of FFN", kindName(hiddenArg.value)));
  }
  const activation = Object.keys(ACTIVATIONS).indexOf(act);
  return { kind: 'module', layer: 'FFN', name: 'expert', params: {}, settings: { hidden: hiddenArg.value.value, activation, bias }, span: args.span };
}

/** `MoE(x, experts: E, top_k: 1, capacity: 1.0, expert: FFN(hidden: ff, act: gelu))`: x [..., d] -> [..., d]. */
export function MoE(el: Elaborator, args: Args): Tensor {
  const x = args.tensor(0, 'x');
  const expertsArg = args.require(undefined, 'experts');
  const experts = el.positiveDim(expertsArg.value, expertsArg.span, 'the number of experts');
  const topKArg = args.get(undefined, 'top_k');
  const topK = args.int(undefined, 'top_k', 1);
  if (topK !== 1 && topK !== 2) throw new PtmError(diag.invalid_dimension(topKArg!.span, `top_k of MoE must be 1 (Switch) or 2 (GShard), got ${topK}`));
  if (topK > experts) throw new PtmError(diag.invalid_dimension(topKArg!.span, `top_k ${topK} needs at least ${topK} experts, got ${experts}`));
  const capacityArg = args.get(undefined, 'capacity');
  const capacity = args.float(undefined, 'capacity', 1);
  if (!(capacity > 0) || !Number.isFinite(capacity)) throw new PtmError(diag.invalid_dimension(capacityArg!.span, `the capacity factor of MoE must be a positive number, got ${capacity}`));
  const expertArg = args.require(undefined, 'expert');
  const spec = expertArg.value;
  if (spec.kind !== 'module' || spec.layer !== 'FFN') {
    throw new PtmError(diag.kind_mismatch(expertArg.span, "an expert written FFN(hidden: ff, act: ...) without an input, for 'expert' of MoE", kindName(spec)));
  }
  const local = layerName(el, args, 'moe');
  args.done(['x']);

  const shape = x.value.type.shape;
  const d = shape[shape.length - 1];
  if (shape.length < 2 || typeof d !== 'number') {
    throw new PtmError(diag.rank_mismatch(x.span, `MoE needs x as [..., tokens, features] with a known feature size, got ${shapeToString(shape)}`));
  }
  const lead = shape.slice(0, -1); // the token axes, flattened row-major by the router
  const ones = lead.map((): Dim => 1);
  const ff = spec.settings.hidden as number;
  const act = Object.values(ACTIVATIONS)[spec.settings.activation as number]!;
  const bias = spec.settings.bias as boolean;
  const span = args.span;
  const emit = (op: string, operands: Tensor[], attrs: Record<string, unknown> = {}): Tensor => el.emit(op, operands, attrs as never, span);
  const param = (local: string, dims: number[], zeros = false): Tensor =>
    ({ kind: 'tensor', value: el.param(local, dims, zeros ? { kind: 'zeros' } : { kind: 'normal', std: WEIGHT_STD }, span), span });

  return el.within(local, () => {
    // Router: probs [..., E] = softmax(x @ router.weight), no bias (Switch §2.1).
    const router = el.within('router', () => param('weight', [d, experts]));
    const probs = emit('softmax', [emit('matmul', [x, router])], { axis: -1 });
    const combine = emit('moe_route', [probs], { top_k: topK, capacity });
    const aux = emit('moe_aux_loss', [probs]);
    auxLosses.set(el, [...(auxLosses.get(el) ?? []), aux]);

    // Experts on the routed rows only: row c of a token runs its c-th routed expert (-1: none, gives 0).
    const routed = emit('moe_choices', [combine], { top_k: topK }); // i32 [..., k]
    const projection = (name: string, inF: number, outF: number, input: Tensor): Tensor => el.within(name, () => {
      const operands = [input, param('weight', [experts, inF, outF]), routed];
      if (bias) operands.push(param('bias', [experts, outF], true));
      return emit('expert_matmul', operands);
    });
    const y = el.within('experts', () => {
      const rows = emit('reshape', [x], { shape: [...lead, 1, d] }); // every choice of a token reads its row
      return projection('down', ff, d, emit(act, [projection('up', d, ff, rows)])); // [..., k, d]
    });

    // Combine: out[t] = Σ_c gate[t, c] · y[t, c], gate[t, c] = combine[t, experts[t, c]] (0 for -1)
    // as [..., 1, E] @ onehot^T [..., E, k] @ [..., k, d].
    const oneHot = emit('cast', [emit('eq', [emit('reshape', [routed], { shape: [...lead, topK, 1] }), emit('iota', [], { length: experts, dtype: 'i32' })])], { to: x.value.type.dtype });
    const rank = shape.length + 1; // oneHot: [..., k, E]
    const perm = [...Array(rank - 2).keys(), rank - 1, rank - 2];
    const gates = emit('matmul', [emit('reshape', [combine], { shape: [...lead, 1, experts] }), emit('transpose', [oneHot], { perm })]); // [..., 1, k]
    return emit('reshape', [emit('matmul', [gates, y])], { shape: [...shape] });
  });
}

/** `moe_aux_loss()`: the sum of the load-balancing losses of the MoE layers elaborated so far (§8.8). */
export function moeAuxLoss(el: Elaborator, args: Args): Tensor {
  args.done([]);
  const losses = auxLosses.get(el) ?? [];
  if (losses.length === 0) throw new PtmError(diag.no_moe_layers(args.span));
  return losses.slice(1).reduce((sum, l) => el.emit('add', [sum, l], {}, args.span), { ...losses[0]!, span: args.span });
}

export type { Span };
