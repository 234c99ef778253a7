// Elementwise template: one invocation per output element (or per 4 along the last axis) computes a
// FusedExpr over broadcast inputs and embedding lookups. Also exports FusedReader, the operand loader
// that the row-reduction (and matmul epilogue) templates share.
import type { Span } from '../../diagnostics/span.js';
import type { Dim } from '../../ir/dim.js';
import { dimAdd, dimDivExact, dimProduct } from '../../ir/dim.js';
import type { BufferParam, Expr, KType, Stmt } from '../kernel-ir/types.js';
import * as k from '../kernel-ir/build.js';
import type { FusedExpr, FusedLeaf } from './fused-expr.js';
import { applyOp } from './fused-expr.js';
import type { BufferBind, KernelInstance, StorageType } from './instance.js';
import type { LaunchParams } from './indexing.js';
import { LaunchParams as Params, broadcastStrides, collapseAxes, contiguousStrides, flatGlobalId, grid2d, stridedOffset, unravelIndex } from './indexing.js';

export type GatherLeaf = Extract<FusedLeaf, { kind: 'gather' }>;
export type IotaLeaf = Extract<FusedLeaf, { kind: 'iota' }>;

/** A tensor operand of a template: its storage and (symbolic) row-major shape. */
export interface OperandSpec {
  storage: StorageType;
  shape: Dim[];
}

export interface ElementwiseSpec {
  /** Overrides the generated kernel name. */
  name?: string;
  inputs: OperandSpec[];
  out: OperandSpec;
  expr: FusedExpr;
  locs: Span[];
  /** Allow the vec4 variant when it applies (default true). */
  vectorize?: boolean;
}

const WORKGROUP = 256;
const MAX_RANK = 6;

/** Input leaves (operand indices, first-use order), gather leaves and distinct iota leaves of expressions. */
export function fusedLeaves(...exprs: FusedExpr[]): { inputs: number[]; gathers: GatherLeaf[]; iotas: IotaLeaf[] } {
  const inputs: number[] = [];
  const gathers: GatherLeaf[] = [];
  const iotas: IotaLeaf[] = [];
  const walk = (e: FusedExpr): void => {
    if (e.kind === 'input' && !inputs.includes(e.index)) inputs.push(e.index);
    else if (e.kind === 'gather' && !gathers.includes(e)) gathers.push(e);
    else if (e.kind === 'iota' && iotaIndex(iotas, e) < 0) iotas.push(e);
    else if (e.kind === 'op') e.args.forEach(walk);
  };
  exprs.forEach(walk);
  return { inputs, gathers, iotas };
}

/** Position of an iota leaf among `iotas`, by value (equal leaves share their index math). */
export const iotaIndex = (iotas: readonly IotaLeaf[], leaf: IotaLeaf): number => iotas.findIndex((x) => JSON.stringify(x) === JSON.stringify(leaf));

/** Graph op names of an expression in evaluation order, for kernel names (`add_gelu`). */
export function describeOps(e: FusedExpr, limit = 4): string[] {
  const names: string[] = [];
  const walk = (x: FusedExpr): void => {
    if (x.kind === 'op') {
      x.args.forEach(walk);
      const name = x.op === 'cast' ? `cast_${x.to ?? 'f32'}` : x.op;
      if (!names.includes(name)) names.push(name);
    } else if ((x.kind === 'gather' || x.kind === 'iota') && !names.includes(x.kind)) names.push(x.kind);
  };
  walk(e);
  return names.slice(0, limit);
}

const storageType = (s: StorageType): KType => (s === 'f32' ? k.f32 : s === 'i32' ? k.i32 : k.u32);

/** Where a template reads the leaves at the element it computes (offsets in the buffer's units). */
export interface LeafAddress {
  input(index: number): Expr;
  /** Offset into gather g's ids input, or (iota ids) the position itself. */
  ids(g: number): Expr;
  /** Table column of gather g (in vec4 units when its tables are read as vec4). */
  column(g: number): Expr;
  /** Position (u32, before its start) of iota leaf n at the element; templates keep it lane-invariant. */
  iota(n: number): Expr;
}

/**
 * Loads the leaves of fused expressions and emits their ops as `let`s (one per op, so shared
 * subtrees are not re-printed). Declares one buffer `in${i}` per input read; `vectorInputs` are read
 * as vec4<f32> and give 4 lanes, the others one value used for every lane.
 */
export class FusedReader {
  private readonly declared = new Map<number, BufferParam>();
  private readonly gatherRows = new Map<number, { row: Expr; chunk?: Expr; local: Expr }>();
  readonly gathers: GatherLeaf[];
  readonly iotas: IotaLeaf[];

  constructor(
    private readonly inputs: readonly OperandSpec[],
    private readonly params: LaunchParams,
    exprs: FusedExpr[],
    private readonly lanes: 1 | 4 = 1,
    private readonly vectorInputs: ReadonlySet<number> = new Set(),
  ) {
    ({ gathers: this.gathers, iotas: this.iotas } = fusedLeaves(...exprs));
  }

  /** A start of positions (iota leaf or iota gather ids) as a u32: a constant, or launch parameter `name`. */
  private start(start: Dim | undefined, name: string): Expr | undefined {
    if (start === undefined || start === 0) return undefined;
    return typeof start === 'number' ? k.u(start) : this.params.add(name, start);
  }

  /** The buffers declared so far, ordered by input index, with their bindings. */
  buffers(): { param: BufferParam; bind: BufferBind }[] {
    return [...this.declared.entries()].sort(([a], [b]) => a - b).map(([index, param]) => ({ param, bind: { kind: 'input', index } }));
  }

  private buffer(index: number): BufferParam {
    let b = this.declared.get(index);
    if (!b) {
      const spec = this.inputs[index];
      if (!spec) throw new Error(`kernel template: the expression reads input ${index}, which does not exist`);
      b = k.buffer(`in${index}`, this.vectorInputs.has(index) ? k.vec4f : storageType(spec.storage));
      this.declared.set(index, b);
    }
    return b;
  }

  /** A loaded value as the expression sees it: u32 storage holds bools. */
  private load(index: number, offset: Expr): Expr {
    const value = k.load(this.buffer(index), offset);
    return this.inputs[index]!.storage === 'u32' ? k.ne(value, k.u(0)) : value;
  }

  /**
   * Resolves every gather's table row, clamped to [0, rows-1] so an out-of-range id never reads out of
   * bounds (what a GPU must do to stay safe; the cpu reference raises an error instead). Emitted once
   * where the ids are invariant (per element, or per row in a row kernel).
   */
  resolveGathers(at: Pick<LeafAddress, 'ids'>, stmts: Stmt[]): void {
    this.gathers.forEach((g, n) => {
      const rows = this.params.add(`g${n}_rows`, g.tables.map((t) => this.inputs[t]!.shape[0]!).reduce(dimAdd));
      const last = k.sub(rows, 1);
      let row: Expr;
      if (g.ids.kind === 'iota') {
        const start = this.start(g.ids.start, `g${n}_start`);
        row = k.min(start ? k.add(at.ids(n), start) : at.ids(n), last);
      }
      else {
        if (this.inputs[g.ids.index]!.storage !== 'i32') throw new Error('kernel template: gather ids must have i32 storage');
        row = k.min(k.toU32(k.max(k.load(this.buffer(g.ids.index), at.ids(n)), 0)), last);
      }
      stmts.push(k.let_(`g${n}_row`, row));
      const rowRef = k.ref(`g${n}_row`, k.u32);
      if (g.tables.length === 1) return void this.gatherRows.set(n, { row: rowRef, local: rowRef });
      // Table chunks of rowsPerChunk rows: chunk c holds rows [c*rowsPerChunk, (c+1)*rowsPerChunk).
      stmts.push(k.let_(`g${n}_chunk`, k.div(rowRef, g.rowsPerChunk)), k.let_(`g${n}_local`, k.mod(rowRef, g.rowsPerChunk)));
      this.gatherRows.set(n, { row: rowRef, chunk: k.ref(`g${n}_chunk`, k.u32), local: k.ref(`g${n}_local`, k.u32) });
    });
  }

  /** Gather g's value at its resolved row and `column`: a let (if-chain over table chunks). */
  private gatherValue(n: number, column: Expr, stmts: Stmt[], name: string): Expr {
    const g = this.gathers[n]!;
    const resolved = this.gatherRows.get(n);
    if (!resolved) throw new Error('kernel template: resolveGathers must run before the gather is read');
    const vector = this.vectorInputs.has(g.tables[0]!);
    const width = this.inputs[g.tables[0]!]!.shape[1]!;
    const stride = this.params.add(`g${n}_width`, vector ? dimDivExact(width, 4)! : width);
    const at = k.add(k.mul(resolved.local, stride), column);
    if (!resolved.chunk) {
      stmts.push(k.let_(name, this.load(g.tables[0]!, at)));
    } else {
      const type = this.buffer(g.tables[0]!).type;
      let chain: Stmt[] = [k.assign(name, k.load(this.buffer(g.tables[g.tables.length - 1]!), at))];
      for (let c = g.tables.length - 2; c >= 0; c--) chain = [k.if_(k.eq(resolved.chunk, c), [k.assign(name, k.load(this.buffer(g.tables[c]!), at))], chain)];
      stmts.push(k.var_(name, k.lit(type, 0)), ...chain);
      if (this.inputs[g.tables[0]!]!.storage === 'u32') return k.ne(k.ref(name, type), k.u(0));
    }
    return k.ref(name, this.buffer(g.tables[0]!).type);
  }

  /**
   * Emits `e` into `stmts` (names prefixed by `prefix`); returns one value per lane. `acc` gives the
   * template's own value per lane, for expressions that read it.
   */
  emit(e: FusedExpr, at: LeafAddress, stmts: Stmt[], prefix: string, acc?: Expr[]): Expr[] {
    const leafLanes = new Map<string, Expr[]>();
    const lanesOf = (leaf: FusedLeaf & { kind: 'input' | 'acc' | 'gather' | 'iota' }): Expr[] => {
      if (leaf.kind === 'acc') {
        if (!acc) throw new Error('kernel template: the expression reads acc, which this template does not provide');
        return acc;
      }
      const key = leaf.kind === 'input' ? `x${leaf.index}` : leaf.kind === 'iota' ? `i${iotaIndex(this.iotas, leaf)}` : `g${this.gathers.indexOf(leaf)}`;
      const known = leafLanes.get(key);
      if (known) return known;
      let value: Expr;
      const name = prefix + key;
      if (leaf.kind === 'input') {
        const loaded = this.load(leaf.index, at.input(leaf.index));
        stmts.push(k.let_(name, loaded));
        value = k.ref(name, loaded.type);
      } else if (leaf.kind === 'iota') {
        // start + position, converted once: exact in i32, and in f32 up to 2^24.
        const n = iotaIndex(this.iotas, leaf), start = this.start(leaf.start, `iota${n}_start`);
        const position = start ? k.add(at.iota(n), start) : at.iota(n);
        stmts.push(k.let_(name, leaf.dtype === 'f32' ? k.toF32(position) : k.toI32(position)));
        value = k.ref(name, leaf.dtype === 'f32' ? k.f32 : k.i32);
      } else {
        const n = this.gathers.indexOf(leaf);
        value = this.gatherValue(n, at.column(n), stmts, name);
      }
      const lanes = value.type.lanes === 4 ? [0, 1, 2, 3].map((l) => k.lane(value, l as 0)) : Array.from({ length: this.lanes }, () => value);
      leafLanes.set(key, lanes);
      return lanes;
    };
    const out: Expr[] = [];
    for (let l = 0; l < this.lanes; l++) {
      let count = 0;
      const lanePrefix = this.lanes > 1 ? `${prefix}l${l}_` : prefix;
      const walk = (x: FusedExpr): Expr => {
        if (x.kind === 'const') return x.dtype === 'f32' ? k.f(x.value) : x.dtype === 'i32' ? k.i(x.value) : k.lit(k.bool, x.value);
        if (x.kind !== 'op') return lanesOf(x)[l]!;
        const args = x.args.map(walk);
        const name = `${lanePrefix}t${count++}`;
        const value = k.hoistShared(applyOp(x.op, args, x.to), stmts, `${name}_`);
        stmts.push(k.let_(name, value));
        return k.ref(name, value.type);
      };
      out.push(walk(e));
    }
    return out;
  }
}

/**
 * `root` with every non-trivial subexpression that occurs more than once (the same object: applyOp
 * reuses its operands, erf's t and |x| a dozen times) bound to a `let` first, in dependency order.
 * Expressions are pure, so this changes no value; it keeps rendered kernels linear in size.
 */
/** A value stored into `storage`: bools as u32 0/1; anything else must already match. */
export function toStorage(value: Expr, storage: StorageType, what: string): Expr {
  if (storage === 'u32' && value.type.scalar === 'bool') return k.select(value, k.u(1), k.u(0));
  if (value.type.scalar !== storageType(storage).scalar) throw new Error(`kernel template: ${what} computes ${value.type.scalar} but is stored as ${storage}`);
  return value;
}

/**
 * out[i] = expr at the multi-index of i, each input leaf read with NumPy broadcasting. Axes that every
 * operand addresses alike are merged first (typically leaving rank 1 or 2 index math).
 */
export function elementwiseKernel(spec: ElementwiseSpec): KernelInstance {
  const out = spec.out.shape;
  const { inputs, gathers, iotas } = fusedLeaves(spec.expr);
  // Strides over the output axes: output, then each input leaf, then per gather its ids and column,
  // then per iota leaf its position (an iota is a contiguous tensor of its shape, never stored).
  const sets: Dim[][] = [contiguousStrides(out), ...inputs.map((i) => broadcastStrides(spec.inputs[i]!.shape, out))];
  for (const g of gathers) {
    sets.push([...broadcastStrides(g.shape.slice(0, -1), out.slice(0, -1)), 0]);
    sets.push(broadcastStrides(g.shape.slice(-1), out));
  }
  const iotaSet = 1 + inputs.length + 2 * gathers.length;
  for (const leaf of iotas) sets.push(broadcastStrides(leaf.shape, out));
  const layout = collapseAxes(out, sets);
  const rank = layout.shape.length;
  if (rank > MAX_RANK) throw new Error(`kernel template: ${rank} axes after collapsing (at most ${MAX_RANK})`);
  const vector = spec.vectorize !== false && vectorizable(spec, layout.strides, layout.shape, inputs, gathers) && iotas.every((_, n) => layout.strides[iotaSet + n]!.at(-1) === 0);
  // In vec4 mode the last axis counts groups of 4 and vec4 operands' other strides count vec4s.
  const lastAxis = rank - 1;
  const shape = vector ? layout.shape.map((d, a) => (a === lastAxis ? dimDivExact(d, 4)! : d)) : layout.shape;
  const inVectorUnits = (s: Dim[], isVector: boolean) => (isVector ? s.map((d, a) => (a === lastAxis ? d : dimDivExact(d, 4)!)) : s);
  const setOf = (j: number) => layout.strides[j]!;
  const isVectorSet = (j: number) => vector && setOf(j)[lastAxis] === 1;
  const strideSets = layout.strides.map((s, j) => inVectorUnits(s, isVectorSet(j)));
  const vectorInputs = new Set<number>();
  if (vector) {
    inputs.forEach((i, n) => { if (isVectorSet(1 + n)) vectorInputs.add(i); });
    gathers.forEach((g, n) => { if (isVectorSet(1 + inputs.length + 2 * n + 1)) g.tables.forEach((t) => vectorInputs.add(t)); });
  }

  const params = new Params();
  const n = params.add('n', vector ? dimDivExact(dimProduct(out), 4)! : dimProduct(out));
  const dims = shape.map((d, a) => (a === 0 ? k.u(0) : params.add(`dim${a}`, d)));
  const idx = k.ref('idx', k.u32);
  const identity = contiguousStrides(shape);
  // Coordinates are computed only for axes some non-contiguous operand strides along.
  const strided = strideSets.slice(1).filter((s) => !sameStrides(s, identity));
  const unravel = unravelIndex(idx, dims, 'i', shape.map((_, a) => strided.some((s) => s[a] !== 0)));
  const offset = (j: number, name: string) => (sameStrides(strideSets[j]!, identity) ? idx : stridedOffset(unravel.coords, strideSets[j]!, params, name));
  const at: LeafAddress = {
    input: (i) => offset(1 + inputs.indexOf(i), `in${i}`),
    ids: (g) => offset(1 + inputs.length + 2 * g, `g${g}_ids`),
    column: (g) => offset(1 + inputs.length + 2 * g + 1, `g${g}_col`),
    iota: (n) => offset(iotaSet + n, `iota${n}`),
  };

  const reader = new FusedReader(spec.inputs, params, [spec.expr], vector ? 4 : 1, vectorInputs);
  const body: Stmt[] = [...unravel.stmts];
  reader.resolveGathers(at, body);
  const lanes = reader.emit(spec.expr, at, body, '', undefined);
  const result = vector ? k.vec4(...lanes) : toStorage(lanes[0]!, spec.out.storage, 'the elementwise expression');
  const outBuffer = k.buffer('out', vector ? k.vec4f : storageType(spec.out.storage), 'read_write');
  body.push(k.store(outBuffer, idx, result));

  const buffers = reader.buffers();
  const name = spec.name ?? `ew_${describeOps(spec.expr).join('_') || 'copy'}_r${rank}${vector ? '_vec4' : ''}`;
  return {
    kernel: {
      name,
      workgroupSize: [WORKGROUP, 1, 1],
      buffers: [...buffers.map((b) => b.param), outBuffer],
      params: params.uniforms,
      shared: [],
      body: [k.let_('idx', flatGlobalId(WORKGROUP)), k.if_(k.lt(idx, n), body)],
      grid: grid2d(k.ceilDiv(n, WORKGROUP)),
      locs: spec.locs,
    },
    bind: [...buffers.map((b) => b.bind), { kind: 'output', index: 0 }],
    params: params.values,
  };
}

const sameStrides = (a: readonly Dim[], b: readonly Dim[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * vec4 applies when the output is f32 with a last (collapsed) axis that is a multiple of 4, and every
 * operand either runs contiguously along it (f32, other strides multiples of 4: read as vec4) or is
 * constant along it (read once, used for all 4 lanes). An input in two roles keeps the scalar form.
 */
function vectorizable(spec: ElementwiseSpec, sets: Dim[][], shape: Dim[], inputs: number[], gathers: GatherLeaf[]): boolean {
  const last = shape.length - 1;
  if (spec.out.storage !== 'f32' || last < 0 || dimDivExact(shape[last]!, 4) === undefined) return false;
  const roles = [...inputs, ...gathers.flatMap((g) => [...g.tables, ...(g.ids.kind === 'input' ? [g.ids.index] : [])])];
  if (new Set(roles).size !== roles.length) return false;
  const fits = (s: Dim[], storages: StorageType[]) =>
    s[last] === 0 || (s[last] === 1 && storages.every((x) => x === 'f32') && s.every((d, a) => a === last || dimDivExact(d, 4) !== undefined));
  if (!inputs.every((i, n) => fits(sets[1 + n]!, [spec.inputs[i]!.storage]))) return false;
  return gathers.every((g, n) => {
    const ids = sets[1 + inputs.length + 2 * n]!, column = sets[1 + inputs.length + 2 * n + 1]!;
    const width = spec.inputs[g.tables[0]!]!.shape[1]!;
    return ids[last] === 0 && fits(column, g.tables.map((t) => spec.inputs[t]!.storage)) && (column[last] === 0 || dimDivExact(width, 4) !== undefined);
  });
}
