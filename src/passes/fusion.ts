// Shared machinery of the fuse-* passes: use counts, turning elementwise graph ops into fused
// bodies, and rebuilding a graph where some ops are replaced by fused ones. A fused op takes the
// place (and the result id) of the last op it absorbs, so every value it reads is already defined.
import type { Dim } from '../ir/dim.js';
import type { FusedExpr } from '../ir/fused.js';
import { FUSABLE_OPS, fusedOperands } from '../ir/fused.js';
import type { Graph, Op, Value } from '../ir/types.js';

/** How many times each value is read by ops and outputs. */
export function useCounts(g: Graph): Map<string, number> {
  const uses = new Map<string, number>();
  const bump = (v: Value) => uses.set(v.id, (uses.get(v.id) ?? 0) + 1);
  for (const op of g.ops) op.operands.forEach(bump);
  for (const out of g.outputs) bump(out.value);
  return uses;
}

export function producers(g: Graph): Map<string, Op> {
  return new Map(g.ops.map((op) => [op.result.id, op]));
}

/** Users of each value, in graph order. */
export function consumers(g: Graph): Map<string, Op[]> {
  const out = new Map<string, Op[]>();
  for (const op of g.ops) for (const v of new Set(op.operands.map((o) => o.id))) out.set(v, [...(out.get(v) ?? []), op]);
  return out;
}

export const isElementwise = (op: Op): boolean => FUSABLE_OPS.has(op.op);

/** A gather that fuses as a leaf: rows of a rank-2 table. */
export const isFusableGather = (op: Op): boolean =>
  op.op === 'gather' && op.attrs.axis === 0 && op.operands[0]!.type.shape.length === 2 && typeof op.operands[0]!.type.shape[0] === 'number';

/** The operand list of a fused op under construction; `leaf(v)` gives (or adds) v's input index. */
export class FusedOperands {
  readonly values: Value[] = [];
  private readonly index = new Map<string, number>();

  /** `initial` take positions 0..n-1 as given, repeats included (`matmul(a, a)` has two operands). */
  constructor(initial: Value[] = []) {
    for (const v of initial) {
      if (!this.index.has(v.id)) this.index.set(v.id, this.values.length);
      this.values.push(v);
    }
  }

  add(v: Value): number {
    const existing = this.index.get(v.id);
    if (existing !== undefined) return existing;
    this.index.set(v.id, this.values.length);
    this.values.push(v);
    return this.values.length - 1;
  }

  leaf(v: Value): FusedExpr {
    return { kind: 'input', index: this.add(v) };
  }
}

/** An `iota` op's start attribute as a fused leaf holds it: absent when it is 0. */
const iotaStart = (op: Op): { start?: Dim } => (op.attrs.start === undefined || op.attrs.start === 0 ? {} : { start: op.attrs.start as Dim });

/**
 * `v` as an iota leaf when it is an f32/i32 iota, or a reshape of one that only adds axes of size 1
 * (`reshape(iota(seq), [seq, 1])`). The iota (and reshape) ops are absorbed when this is their one use;
 * otherwise they stay for their other readers (and dead-code elimination drops them if none is left).
 */
function iotaLeaf(v: Value, ctx: { producer: Map<string, Op>; uses: Map<string, number>; outputs: Set<string>; absorbed: Set<Op> }): FusedExpr | undefined {
  const only = (x: Value) => (ctx.uses.get(x.id) ?? 0) === 1 && !ctx.outputs.has(x.id);
  let op = ctx.producer.get(v.id);
  const reshape = op?.op === 'reshape' ? op : undefined;
  if (reshape) op = ctx.producer.get(reshape.operands[0]!.id);
  if (op?.op !== 'iota' || (op.attrs.dtype !== 'f32' && op.attrs.dtype !== 'i32')) return undefined;
  const length = op.attrs.length as Dim, shape = v.type.shape;
  const axis = shape.length === 1 ? 0 : shape.findIndex((d) => d === length);
  if (axis < 0 || shape.some((d, a) => a !== axis && d !== 1)) return undefined;
  if (reshape && only(reshape.result)) ctx.absorbed.add(reshape);
  if (only(op.result) && (!reshape || ctx.absorbed.has(reshape))) ctx.absorbed.add(op);
  return { kind: 'iota', shape: [...shape], axis, ...iotaStart(op), dtype: op.attrs.dtype };
}

/**
 * The fused body computing `v`: producers that are elementwise (or embedding gathers, constants,
 * positions) and read only here are absorbed recursively; everything else is an operand. `absorbed`
 * collects the ops that disappear into the body. Iotas become leaves only in bodies without an
 * accumulator (elementwise bodies, row prologues): an epilogue reads them as operands.
 */
export function bodyOf(
  v: Value,
  operands: FusedOperands,
  ctx: { producer: Map<string, Op>; uses: Map<string, number>; outputs: Set<string>; absorbed: Set<Op> },
  acc?: { value: Value },
): FusedExpr {
  if (acc && v.id === acc.value.id) return { kind: 'acc' };
  const op = ctx.producer.get(v.id);
  const singleUse = (ctx.uses.get(v.id) ?? 0) === 1 && !ctx.outputs.has(v.id);
  if (op && op.op === 'constant' && (op.attrs.dtype === 'f32' || op.attrs.dtype === 'i32' || op.attrs.dtype === 'bool')) {
    if (singleUse) ctx.absorbed.add(op);
    return { kind: 'const', value: op.attrs.value as number, dtype: op.attrs.dtype as 'f32' };
  }
  if (op && singleUse && isFusableGather(op)) {
    ctx.absorbed.add(op);
    const [table, ids] = op.operands as [Value, Value];
    const idsOp = ctx.producer.get(ids.id);
    const iota = idsOp?.op === 'iota' && idsOp.attrs.dtype === 'i32';
    if (iota && (ctx.uses.get(ids.id) ?? 0) === 1 && !ctx.outputs.has(ids.id)) ctx.absorbed.add(idsOp);
    return {
      kind: 'gather', tables: [operands.add(table)], rowsPerChunk: table.type.shape[0] as number,
      ids: iota ? { kind: 'iota', ...iotaStart(idsOp) } : { kind: 'input', index: operands.add(ids) }, shape: [...op.result.type.shape],
    };
  }
  const iota = acc ? undefined : iotaLeaf(v, ctx);
  if (iota) return iota;
  if (op && singleUse && isElementwise(op)) {
    ctx.absorbed.add(op);
    const args = op.operands.map((o) => bodyOf(o, operands, ctx, acc));
    return op.op === 'cast' ? { kind: 'op', op: 'cast', args, to: op.attrs.to as 'f32' } : { kind: 'op', op: op.op, args };
  }
  return operands.leaf(v);
}

/**
 * The epilogue of a fused op whose core computes `core.result`: the chain of single-use elementwise
 * readers that keep the core's type (bias, activation, residual add). Returns the last op of the
 * chain (the fused op takes its place and result id) and the chain as a body over `acc`.
 */
export function absorbEpilogue(core: Op, operands: FusedOperands, ctx: ReturnType<typeof fusionContext>, users: Map<string, Op[]>): { last: Op; epilogue: FusedExpr } {
  const sameType = (a: Value, b: Value): boolean => a.type.dtype === b.type.dtype && a.type.shape.join() === b.type.shape.join();
  let last = core;
  for (;;) {
    const next = users.get(last.result.id) ?? [];
    const only = next.length === 1 ? next[0]! : undefined;
    if (!only || ctx.uses.get(last.result.id) !== 1 || ctx.outputs.has(last.result.id) || !isElementwise(only) || !sameType(only.result, core.result)) break;
    last = only;
  }
  if (last === core) return { last, epilogue: { kind: 'acc' } };
  ctx.absorbed.add(last);
  const args = last.operands.map((v) => bodyOf(v, operands, ctx, { value: core.result }));
  return { last, epilogue: last.op === 'cast' ? { kind: 'op', op: 'cast', args, to: last.attrs.to as 'f32' } : { kind: 'op', op: last.op, args } };
}

/** The context bodyOf needs, computed once per pass run. */
export function fusionContext(g: Graph) {
  return { producer: producers(g), uses: useCounts(g), outputs: new Set(g.outputs.map((o) => o.value.id)), absorbed: new Set<Op>() };
}

/** Renumbers operand indices of a body after operands were reordered (old index -> new index). */
export function remapBody(e: FusedExpr, map: (i: number) => number): FusedExpr {
  switch (e.kind) {
    case 'input': return { kind: 'input', index: map(e.index) };
    case 'gather': return { ...e, tables: e.tables.map(map), ids: e.ids.kind === 'input' ? { kind: 'input', index: map(e.ids.index) } : e.ids };
    case 'op': return { ...e, args: e.args.map((a) => remapBody(a, map)) };
    default: return e;
  }
}

/**
 * Rebuilds `g` with `replacements` (original op -> fused op placed at that op's position) and the
 * `removed` ops dropped. Values keep their ids, so outputs and later operands stay valid.
 */
export function rebuild(g: Graph, replacements: Map<Op, Op>, removed: Set<Op>): Graph {
  const ops: Op[] = [];
  for (const op of g.ops) {
    const r = replacements.get(op);
    if (r) ops.push(r);
    else if (!removed.has(op)) ops.push(op);
  }
  return { ...g, ops };
}

/** Whether every operand index 0..n-1 of a fused op is read by some body or core slot. */
export function unusedOperands(bodies: FusedExpr[], reserved: number[], count: number): number[] {
  const used = new Set([...reserved, ...bodies.flatMap(fusedOperands)]);
  return [...Array(count).keys()].filter((i) => !used.has(i));
}
