// Which input of a model holds the tokens and which output the logits, when the caller does not say:
// the integer [batch, seq] input that feeds a causal self-attention over seq, and the [batch, seq, V]
// output. Ambiguity is a diagnostic listing the candidates, never a guess.
import { PtmError } from '../../diagnostics/diagnostic.js';
import { diag } from '../../diagnostics/catalogue.js';
import { nearestName } from '../../diagnostics/suggest.js';
import { dimSymbols, shapeToString } from '../../ir/dim.js';
import type { MaskExpr } from '../../ir/mask.js';
import type { Graph, Input, Output } from '../../ir/types.js';
import { isFloat, isInt } from '../../ir/types.js';
import { impliesCausal } from '../../passes/derive-decode-step.js';

const plainSymbol = (d: unknown): d is string => typeof d === 'string' && dimSymbols(d).length === 1 && dimSymbols(d)[0] === d;

/** Integer [batch, seq] inputs with a symbolic axis 1. */
function tokenShaped(graph: Graph): Input[] {
  return graph.inputs.filter((i) => isInt(i.value.type.dtype) && i.value.type.shape.length === 2 && plainSymbol(i.value.type.shape[1]));
}

/** Whether a causal self-attention over the input's axis-1 symbol reads (transitively) from it. */
function feedsCausalSelfAttention(graph: Graph, input: Input): boolean {
  const time = input.value.type.shape[1];
  const reached = new Set([input.value.id]);
  for (const op of graph.ops) {
    if (!op.operands.some((v) => reached.has(v.id))) continue;
    reached.add(op.result.id);
    if (op.op !== 'attention') continue;
    const [q, k] = op.operands;
    if (q!.type.shape[2] === time && k!.type.shape[2] === time && reached.has(k!.id) && impliesCausal(op.attrs.mask as MaskExpr)) return true;
  }
  return false;
}

const where = (graph: Graph) => graph.inputs[0]?.loc ?? graph.outputs[0]!.loc;

/** The token input: `name` if given (checked), else the only one that feeds a causal self-attention. */
export function tokenInput(graph: Graph, name?: string): Input {
  if (name !== undefined) {
    const input = graph.inputs.find((i) => i.name === name);
    if (!input) throw new PtmError(diag.unknown_input(where(graph), name, nearestName(name, graph.inputs.map((i) => i.name))));
    return input;
  }
  const shaped = tokenShaped(graph);
  const feeding = shaped.filter((i) => feedsCausalSelfAttention(graph, i));
  if (feeding.length === 1) return feeding[0]!;
  const list = (xs: Input[]) => xs.map((i) => `'${i.name}' ${i.value.type.dtype}${shapeToString(i.value.type.shape)}`).join(', ');
  if (feeding.length > 1) {
    throw new PtmError(diag.invalid_generation(where(graph), `which input holds the tokens? ${list(feeding)} each feed a causal self-attention`, ['name one with --tokens-input']));
  }
  throw new PtmError(diag.invalid_generation(where(graph), `no integer [batch, seq] input feeds a causal self-attention (mask: causal), so there is no token input to extend`,
    [shaped.length > 0 ? `integer [batch, seq] inputs: ${list(shaped)}; name one with --tokens-input` : 'generation needs an input like `input ids: i32[batch, seq]`']));
}

/** The logits output: `name` if given, else the only float [batch, seq, V] output (seq = the tokens' axis 1). */
export function logitsOutput(graph: Graph, tokens: Input, name?: string): Output {
  const time = tokens.value.type.shape[1];
  const fits = (o: Output) => {
    const { dtype, shape } = o.value.type;
    return isFloat(dtype) && shape.length === 3 && shape[1] === time && typeof shape[2] === 'number';
  };
  const describe = (o: Output) => `'${o.name}' ${o.value.type.dtype}${shapeToString(o.value.type.shape)}`;
  if (name !== undefined) {
    const out = graph.outputs.find((o) => o.name === name);
    if (!out) {
      const near = nearestName(name, graph.outputs.map((o) => o.name));
      throw new PtmError(diag.invalid_generation(where(graph), `the model has no output '${name}'`, near ? [`did you mean '${near}'?`] : []));
    }
    if (!fits(out)) throw new PtmError(diag.invalid_generation(out.loc, `output ${describe(out)} is not logits over the tokens: it must be a float [batch, ${time}, vocab] tensor`));
    return out;
  }
  const candidates = graph.outputs.filter(fits);
  if (candidates.length === 1) return candidates[0]!;
  const all = graph.outputs.map(describe).join(', ');
  throw new PtmError(diag.invalid_generation(candidates[0]?.loc ?? graph.outputs[0]!.loc,
    candidates.length > 1 ? `which output holds the logits? ${candidates.map(describe).join(', ')} are all [batch, ${time}, vocab]` : `no output is logits [batch, ${time}, vocab]; outputs: ${all}`,
    ['name one with --logits']));
}
