// derive-decode-step: a model graph -> its incremental step for generation with a key/value cache.
// The token input's axis-1 symbol (`seq`) is time; in the step graph it counts the *new* tokens and
// a new symbol `past` counts the cached ones. Pre: an elaborated (unfused) graph. Post: positions
// start at `past`, each causal self-attention reads cache ++ new keys/values and returns them as
// `present.<i>.k/v`; anything that would need the old positions' values is refused, never guessed.
import { PtmError } from '../diagnostics/diagnostic.js';
import { diag } from '../diagnostics/catalogue.js';
import type { Span } from '../diagnostics/span.js';
import type { Dim } from '../ir/dim.js';
import { dimAdd, dimProduct, dimSymbols, shapeToString } from '../ir/dim.js';
import type { MaskExpr } from '../ir/mask.js';
import { maskBin, maskDim, maskDims, maskOperands, maskVar, substituteVar } from '../ir/mask.js';
import { normalizeAxis } from '../ir/ops.js';
import type { Graph, Input, Op, Output, Value } from '../ir/types.js';
import { isInt } from '../ir/types.js';
import { IdSource, OpEmitter } from './op-emitter.js';
import type { Pass } from './pass.js';

export interface DeriveDecodeStepOptions {
  /** Name of the token input: integer [batch, T]; its axis-1 symbol is the time axis. */
  tokens: string;
  /** Name for the symbol counting cached positions (default `past`, made unique). */
  past?: string;
}

/** One cached self-attention: its input and output names, in op order. */
export interface CacheSlot {
  index: number;
  k: string;
  v: string;
  presentK: string;
  presentV: string;
  /** [batch, heads, past, head_dim], as the step graph declares the cache inputs. */
  shape: Dim[];
  loc: Span;
}

export interface DecodeStep {
  graph: Graph;
  /** The time symbol: in `graph`, the number of new tokens. */
  time: string;
  past: string;
  caches: CacheSlot[];
}

export const deriveDecodeStep: Pass<DeriveDecodeStepOptions> = {
  info: { name: 'derive-decode-step', summary: 'rewrite a model into its incremental step over a key/value cache (positions from `past`)' },
  run: (graph, _ctx, options) => decodeStep(graph, options).graph,
};

/** The step graph and what generation needs to drive it. Throws PtmError (`not_incremental`) at the op that prevents it. */
export function decodeStep(graph: Graph, options: DeriveDecodeStepOptions): DecodeStep {
  const tokens = graph.inputs.find((i) => i.name === options.tokens);
  if (!tokens) throw new PtmError(diag.unknown_input(graph.inputs[0]?.loc ?? graph.outputs[0]!.loc, options.tokens, graph.inputs.find((i) => isInt(i.value.type.dtype))?.name));
  const time = timeSymbol(tokens);
  let past = options.past ?? 'past';
  for (let n = 1; graph.symbols.includes(past); n++) past = `${options.past ?? 'past'}_${n}`;
  return new StepRewrite(graph, time, past).run();
}

/** The symbol of the token input's axis 1, or a diagnostic at the input. */
export function timeSymbol(tokens: Input): string {
  const { dtype, shape } = tokens.value.type;
  const time = shape[1];
  if (!isInt(dtype) || shape.length !== 2 || typeof time !== 'string' || dimSymbols(time).length !== 1 || dimSymbols(time)[0] !== time) {
    throw new PtmError(diag.invalid_generation(tokens.loc, `input '${tokens.name}' is ${dtype}${shapeToString(shape)}; the token input must be an integer [batch, seq] tensor whose axis 1 is a symbolic dimension`));
  }
  return time;
}

/** The mask's top-level conjuncts (`a & b & c` -> a, b, c). */
function conjuncts(m: MaskExpr): MaskExpr[] {
  return m.kind === 'binary' && m.op === '&' ? [...conjuncts(m.left), ...conjuncts(m.right)] : [m];
}

const isVar = (m: MaskExpr, name: string): boolean => m.kind === 'var' && m.name === name;

/** Structurally causal: some top-level conjunct is `k <= q` (or `q >= k`), so no query sees a later key. */
export function impliesCausal(mask: MaskExpr): boolean {
  return conjuncts(mask).some((c) => c.kind === 'binary'
    && ((c.op === '<=' && isVar(c.left, 'k') && isVar(c.right, 'q')) || (c.op === '>=' && isVar(c.left, 'q') && isVar(c.right, 'k'))));
}

const ELEMENTWISE = new Set([
  'exp', 'log', 'sin', 'cos', 'sqrt', 'rsqrt', 'tanh', 'erf', 'sigmoid', 'gelu', 'gelu_tanh', 'silu', 'neg', 'abs', 'relu', 'not',
  'add', 'sub', 'mul', 'div', 'pow', 'max', 'min', 'and', 'or', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'where', 'cast', 'constant',
]);

class StepRewrite {
  /** The time axis of each value that has one (a value has at most one). */
  private readonly timeAxis = new Map<string, number>();
  private readonly ops: Op[] = [];
  private readonly caches: CacheSlot[] = [];
  private readonly cacheInputs: Input[] = [];
  private readonly presents: Output[] = [];
  private readonly ids: IdSource;

  constructor(private readonly g: Graph, private readonly time: string, private readonly past: string) {
    this.ids = new IdSource(g);
  }

  run(): DecodeStep {
    const g = this.g;
    const taken = new Set([...g.inputs, ...g.params].map((x) => x.value.id));
    for (const input of g.inputs) {
      const axis = this.axisOf(input.value.type.shape, input.loc, `input '${input.name}'`);
      if (axis >= 0) this.timeAxis.set(input.value.id, axis);
    }
    for (const op of g.ops) this.rewrite(op);
    for (const x of this.cacheInputs) {
      if (taken.has(x.value.id)) throw new PtmError(diag.invalid_generation(x.loc, `the model already has an input or parameter named '${x.name}', which the key/value cache needs`));
    }
    const outputNames = new Set(g.outputs.map((o) => o.name));
    for (const o of this.presents) {
      if (outputNames.has(o.name)) throw new PtmError(diag.invalid_generation(o.loc, `the model already has an output named '${o.name}', which the key/value cache needs`));
    }
    const graph: Graph = {
      ...g,
      symbols: [...g.symbols, this.past],
      inputs: [...g.inputs, ...this.cacheInputs],
      ops: this.ops,
      outputs: [...g.outputs, ...this.presents],
    };
    return { graph, time: this.time, past: this.past, caches: this.caches };
  }

  /** The axis of `shape` that is exactly the time symbol, -1 if none; a diagnostic if time appears otherwise. */
  private axisOf(shape: readonly Dim[], loc: Span, what: string): number {
    const mentions = shape.flatMap((d, i) => (dimSymbols(d).includes(this.time) ? [i] : []));
    if (mentions.length === 0) return -1;
    if (mentions.length > 1 || shape[mentions[0]!] !== this.time) {
      throw new PtmError(diag.not_incremental(loc, `${what} has shape ${shapeToString(shape)}, which mixes positions of '${this.time}' (it must appear once, as an axis of its own), so the model cannot be decoded with a key/value cache`));
    }
    return mentions[0]!;
  }

  private refuse(op: Op, why: string): never {
    throw new PtmError(diag.not_incremental(op.loc, `${op.op} ${why}, so the model cannot be decoded with a key/value cache`));
  }

  private axis(v: Value): number {
    return this.timeAxis.get(v.id) ?? -1;
  }

  private rewrite(op: Op): void {
    const anyTime = op.operands.some((v) => this.axis(v) >= 0);
    let out: Op = op;
    if (op.op === 'iota') out = this.iota(op);
    else if (op.op === 'attention') out = this.attention(op);
    else if (anyTime) this.check(op);
    const result = this.axisOf(op.result.type.shape, op.loc, `${op.op} ${op.result.id}`);
    if (anyTime && result < 0) this.refuse(op, `turns a tensor over '${this.time}' into one without it (it combines positions)`);
    if (result >= 0) this.timeAxis.set(op.result.id, result);
    this.ops.push(out);
  }

  /** Ops other than iota and attention: refuse those that combine values from different positions. */
  private check(op: Op): void {
    const [x] = op.operands;
    const ax = x ? this.axis(x) : -1;
    const a = op.attrs;
    if (ELEMENTWISE.has(op.op)) return; // shapes broadcast position by position
    switch (op.op) {
      case 'transpose':
        return;
      case 'reshape': {
        // Splitting or merging axes around time keeps positions apart iff the elements before it are the same.
        const result = op.result.type.shape.indexOf(this.time);
        if (result < 0 || dimProduct(x!.type.shape.slice(0, ax)) !== dimProduct(op.result.type.shape.slice(0, result))) {
          this.refuse(op, `reshapes ${shapeToString(x!.type.shape)} to ${shapeToString(op.result.type.shape)}, which merges '${this.time}' with another axis`);
        }
        return;
      }
      case 'slice':
        if (normalizeAxis(a.axis as number, x!.type.shape.length) === ax) this.refuse(op, `slices along '${this.time}' (it picks positions)`);
        if ([a.start, a.end].some((d) => dimSymbols(d as Dim).includes(this.time))) this.refuse(op, `has bounds that depend on '${this.time}'`);
        return;
      case 'concat':
        if (op.operands.some((v) => this.axis(v) === normalizeAxis(a.axis as number, v.type.shape.length))) this.refuse(op, `joins tensors along '${this.time}'`);
        return;
      case 'gather':
        if (this.axis(op.operands[0]!) === normalizeAxis(a.axis as number, x!.type.shape.length)) this.refuse(op, `gathers along '${this.time}' (it picks positions)`);
        return;
      case 'reduce_sum': case 'reduce_mean': case 'reduce_max':
        if ((a.axes as number[]).some((i) => normalizeAxis(i, x!.type.shape.length) === ax)) this.refuse(op, `reduces over '${this.time}' (it combines positions)`);
        return;
      case 'moe_route': case 'moe_aux_loss':
        // Capacity is counted over all tokens in order, so a token's routing depends on the earlier ones (§8.8).
        return this.refuse(op, `routes tokens to experts with a capacity shared by every position of '${this.time}' (a token can be dropped because of earlier ones)`);
      case 'softmax':
        if (normalizeAxis(a.axis as number, x!.type.shape.length) === ax) this.refuse(op, `normalizes over '${this.time}' (it combines positions)`);
        return;
      case 'layer_norm': case 'rms_norm':
        if (ax === x!.type.shape.length - 1 || op.operands.slice(1).some((v) => this.axis(v) >= 0)) this.refuse(op, `normalizes over '${this.time}' (it combines positions)`);
        return;
      case 'matmul': {
        const [l, r] = op.operands as [Value, Value];
        if (this.axis(l) === l.type.shape.length - 1 || this.axis(r) === r.type.shape.length - 2) this.refuse(op, `sums over '${this.time}' (it combines positions)`);
        return;
      }
      default:
        this.refuse(op, `over '${this.time}' is not known to keep positions apart${op.op.startsWith('fused_') ? ' (derive the step graph before fusion)' : ''}`);
    }
  }

  /** arange(seq) numbers the new positions from `past`. */
  private iota(op: Op): Op {
    const length = op.attrs.length as Dim;
    if (length !== this.time) {
      if (dimSymbols(length).includes(this.time)) this.refuse(op, `of length ${length} mixes positions of '${this.time}'`);
      return op;
    }
    if (op.attrs.start !== undefined && dimSymbols(op.attrs.start as Dim).includes(this.time)) this.refuse(op, `starts at ${op.attrs.start}, which depends on '${this.time}'`);
    return { ...op, attrs: { ...op.attrs, start: dimAdd(op.attrs.start as Dim | undefined ?? 0, this.past) } };
  }

  /**
   * Self-attention over time reads the cached keys/values first: k' = concat([cache_k, k], axis 2).
   * Queries over time are the new positions, so the mask and bias see q + past; keys are absolute.
   */
  private attention(op: Op): Op {
    const [q, k, v, ...rest] = op.operands as [Value, Value, Value, ...Value[]];
    const [tq, tk, tv] = [q, k, v].map((x) => this.axis(x));
    for (const [x, t, name] of [[q, tq, 'queries'], [k, tk, 'keys'], [v, tv, 'values']] as const) {
      if (t >= 0 && t !== 2) this.refuse(op, `has ${name} ${shapeToString(x.type.shape)} with '${this.time}' outside the sequence axis`);
    }
    if (tk !== tv) this.refuse(op, `has keys and values that differ in running over '${this.time}'`);
    if (tq < 0 && tk < 0) return op;
    if (tq < 0) this.refuse(op, `has keys over '${this.time}' but queries that are not (its result would depend on every position)`);
    const mask = op.attrs.mask as MaskExpr;
    const bias = op.attrs.bias as MaskExpr | undefined;
    for (const [e, what] of [[mask, 'mask'], ...(bias ? [[bias, 'score bias']] : [])] as [MaskExpr, string][]) {
      for (const i of maskOperands(e)) {
        if (this.axis(op.operands[i]!) >= 0) this.refuse(op, `has a ${what} reading ${op.operands[i]!.id} ${op.operands[i]!.type.dtype}${shapeToString(op.operands[i]!.type.shape)}, a tensor over '${this.time}' (the cache would need its past values too)`);
      }
      if (maskDims(e).some((d) => dimSymbols(d).includes(this.time))) this.refuse(op, `has a ${what} that uses the length '${this.time}'`);
    }
    const shifted = maskBin('+', maskVar('q'), maskDim(this.past));
    const attrs = { ...op.attrs, mask: substituteVar(mask, 'q', shifted), ...(bias ? { bias: substituteVar(bias, 'q', shifted) } : {}) };
    if (tk < 0) return { ...op, attrs }; // cross-attention: each new query on its own
    if (!impliesCausal(mask)) {
      this.refuse(op, `is a self-attention over '${this.time}' whose mask does not imply \`k <= q\` (each query would see later keys)`);
    }
    const index = this.caches.length;
    const emit = new OpEmitter(this.ops, this.ids, op.loc);
    const cached = (x: Value, part: 'k' | 'v'): Value => {
      const [b, h, , d] = x.type.shape as [Dim, Dim, Dim, Dim];
      const name = `cache.${index}.${part}`;
      const value: Value = { id: `%${name}`, type: { dtype: x.type.dtype, shape: [b, h, this.past, d] } };
      this.cacheInputs.push({ value, name, loc: op.loc });
      const all = emit.emit('concat', [value, x], { axis: 2 }); // [batch, heads, past + seq, head_dim]
      this.presents.push({ name: `present.${index}.${part}`, value: all, loc: op.loc });
      return all;
    };
    const kAll = cached(k, 'k'), vAll = cached(v, 'v');
    this.caches.push({ index, k: `cache.${index}.k`, v: `cache.${index}.v`, presentK: `present.${index}.k`, presentV: `present.${index}.v`, shape: this.cacheInputs.at(-1)!.value.type.shape, loc: op.loc });
    return { ...op, operands: [q, kAll, vAll, ...rest], attrs };
  }
}
