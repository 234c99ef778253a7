// Row-reduction template (softmax, LayerNorm, RMSNorm over the last axis): one workgroup per row,
// threads striding over the columns (element j on thread j % wg, so neighbours touch neighbours),
// tree reductions in shared memory, f32 accumulation, a fused prologue `x` and epilogue.
import type { Span } from '../../diagnostics/span.js';
import type { Dim } from '../../ir/dim.js';
import { dimProduct } from '../../ir/dim.js';
import type { Expr, SharedArray, Stmt } from '../kernel-ir/types.js';
import * as k from '../kernel-ir/build.js';
import type { FusedExpr } from './fused-expr.js';
import type { KernelInstance } from './instance.js';
import type { LeafAddress, OperandSpec } from './elementwise.js';
import { describeOps, FusedReader, fusedLeaves } from './elementwise.js';
import { broadcastStrides, collapseAxes, contiguousStrides, flatWorkgroupId, grid2d, LaunchParams, stridedOffset, unravelIndex } from './indexing.js';

export interface RowReduceSpec {
  kind: 'softmax' | 'layer_norm' | 'rms_norm';
  /** Overrides the generated kernel name. */
  name?: string;
  inputs: OperandSpec[];
  /** The row input: a prologue over input leaves broadcast to `out` (e.g. add(input0, input1), gathers). */
  x: FusedExpr;
  /** Input indices of the [cols] LayerNorm/RMSNorm weight and LayerNorm bias. */
  weight?: number;
  bias?: number;
  eps?: number;
  /** The last axis must be a number: the kernel is specialized to it (workgroup size, shared cache); its `cols` param carries the same value. */
  out: { shape: Dim[] };
  /** Also write x itself as output 1 (the residual stream for the next layer). */
  saveX?: boolean;
  /** Over acc = the normalized (softmax) value and input leaves broadcast to `out`; f32. */
  epilogue?: FusedExpr;
  locs: Span[];
}

/** Rows of at most this many f32 (plus the reduction scratch) are cached in shared memory: WebGPU's default limit is 16 KiB. */
const SHARED_FLOATS = 4096;

export function rowReduceKernel(spec: RowReduceSpec): KernelInstance {
  const out = spec.out.shape;
  const cols = out[out.length - 1];
  if (typeof cols !== 'number') throw new Error(`kernel template: ${spec.kind} needs a static last axis, got ${String(cols)}`);
  const outer = out.slice(0, -1);
  const wg = cols <= 64 ? 64 : cols <= 128 ? 128 : 256;
  const cached = cols + wg <= SHARED_FLOATS;
  const epilogue = spec.epilogue ?? { kind: 'acc' };
  const affine = affineExpr(spec);
  const { inputs, gathers, iotas } = fusedLeaves(spec.x, affine, epilogue);

  // Outer addressing (per row) over out[:-1]: the row itself, each input leaf, each gather's ids, each
  // iota's position; along the row an input (or iota) either runs contiguously (stride 1) or is constant (0).
  const full = inputs.map((i) => broadcastStrides(spec.inputs[i]!.shape, out));
  const iotaFull = iotas.map((leaf) => broadcastStrides(leaf.shape, out));
  const sets: Dim[][] = [contiguousStrides(outer), ...full.map((s) => s.slice(0, -1)), ...gathers.map((g) => broadcastStrides(g.shape.slice(0, -1), outer)), ...iotaFull.map((s) => s.slice(0, -1))];
  const layout = collapseAxes(outer, sets);
  const params = new LaunchParams();
  const rows = params.add('rows', dimProduct(outer));
  const colsParam = params.add('cols', cols);
  const dims = layout.shape.map((d, a) => (a === 0 ? k.u(0) : params.add(`dim${a}`, d)));

  const row = k.ref('row', k.u32), lid = k.ref('lid', k.u32);
  const perRow: Stmt[] = [];
  const unravel = unravelIndex(row, dims, 'r', layout.shape.map((_, a) => layout.strides.slice(1).some((s) => s[a] !== 0)));
  perRow.push(...unravel.stmts);
  const base = (j: number, name: string): Expr => {
    const offset = stridedOffset(unravel.coords, layout.strides[j]!, params, name);
    if (offset.k === 'const' || offset.k === 'var') return offset;
    perRow.push(k.let_(`${name}_base`, offset));
    return k.ref(`${name}_base`, k.u32);
  };
  const inputBase = inputs.map((i, n) => base(1 + n, `in${i}`));
  const idsBase = gathers.map((_, n) => base(1 + inputs.length + n, `g${n}_ids`));
  const iotaBase = iotas.map((_, n) => base(1 + inputs.length + gathers.length + n, `iota${n}`));
  const reader = new FusedReader(spec.inputs, params, [spec.x, affine, epilogue]);
  reader.resolveGathers({ ids: (n) => idsBase[n]! }, perRow);
  perRow.push(k.let_('row_start', k.mul(row, colsParam)));
  const rowStart = k.ref('row_start', k.u32);

  // Element j of the row: loop variable `j` of each pass.
  const j = k.ref('j', k.u32);
  const along = (start: Expr, strides: Dim[]): Expr => (strides.at(-1) !== 1 ? start : start.k === 'const' && start.value === 0 ? j : k.add(start, j));
  const at: LeafAddress = {
    input: (i) => along(inputBase[inputs.indexOf(i)]!, full[inputs.indexOf(i)]!),
    iota: (n) => along(iotaBase[n]!, iotaFull[n]!),
    ids: (n) => idsBase[n]!,
    column: (n) => (broadcastStrides(gathers[n]!.shape.slice(-1), [cols])[0] === 1 ? j : k.u(0)),
  };
  const red = k.shared('red', k.f32, wg);
  const xs = k.shared('xs', k.f32, cols);
  const outBuffer = k.buffer('out', k.f32, 'read_write');
  const xOut = k.buffer('x_out', k.f32, 'read_write');

  /** A pass over the row: `body` gets x(j) (recomputed, or from the cache after pass 1). */
  const pass = (name: string, body: (x: Expr, stmts: Stmt[]) => void, first = false): Stmt => {
    const stmts: Stmt[] = [];
    let x: Expr;
    if (first || !cached) {
      x = reader.emit(spec.x, at, stmts, `${name}_`)[0]!;
      if (x.type.scalar !== 'f32') throw new Error(`kernel template: the ${spec.kind} input computes ${x.type.scalar}, not f32`);
      if (first && cached) stmts.push(k.sharedStore(xs, j, x));
      if (first && spec.saveX) stmts.push(k.store(xOut, k.add(rowStart, j), x));
    } else x = k.sharedLoad(xs, j);
    body(x, stmts);
    return k.for_('j', lid, colsParam, stmts, wg);
  };
  /** Writes acc(j) through the affine params and the epilogue to out[row, j]. */
  const finish = (acc: Expr, stmts: Stmt[]) => {
    const y = reader.emit(affine, at, stmts, 'w_', [acc])[0]!;
    const z = reader.emit(epilogue, at, stmts, 'e_', [y])[0]!;
    if (z.type.scalar !== 'f32') throw new Error(`kernel template: the ${spec.kind} epilogue computes ${z.type.scalar}, not f32`);
    stmts.push(k.store(outBuffer, k.add(rowStart, j), z));
  };
  const accumulate = (name: string, value: Expr, combine: 'sum' | 'max' = 'sum'): Stmt => k.assign(name, combine === 'sum' ? k.add(k.ref(name, k.f32), value) : k.max(k.ref(name, k.f32), value));
  const n = k.toF32(colsParam);
  const eps = k.f(spec.eps ?? 0);
  const f = (name: string) => k.ref(name, k.f32);

  const passes: Stmt[] = [];
  if (spec.kind === 'softmax') {
    // max, then sum of exp(x - max) (cached as exp values), then exp(x - max) / sum.
    passes.push(k.var_('part_max', k.infinity(-1)), pass('p1', (x, s) => s.push(accumulate('part_max', x, 'max')), true));
    passes.push(...reduceRow(red, lid, f('part_max'), 'max', 'row_max', wg), k.barrier());
    passes.push(k.var_('part_sum', k.f(0)), pass('p2', (x, s) => {
      s.push(k.let_('p2_e', k.exp(k.sub(x, f('row_max')))), accumulate('part_sum', f('p2_e')));
      if (cached) s.push(k.sharedStore(xs, j, f('p2_e')));
    }));
    passes.push(...reduceRow(red, lid, f('part_sum'), 'sum', 'row_sum', wg));
    passes.push(pass('p3', (x, s) => finish(k.div(cached ? x : k.exp(k.sub(x, f('row_max'))), f('row_sum')), s)));
  } else if (spec.kind === 'layer_norm') {
    // mean, then the biased variance of (x - mean) (two passes: no cancellation), then normalize.
    passes.push(k.var_('part_sum', k.f(0)), pass('p1', (x, s) => s.push(accumulate('part_sum', x)), true));
    passes.push(...reduceRow(red, lid, f('part_sum'), 'sum', 'row_sum', wg), k.let_('mean', k.div(f('row_sum'), n)), k.barrier());
    passes.push(k.var_('part_sq', k.f(0)), pass('p2', (x, s) => s.push(k.let_('p2_d', k.sub(x, f('mean'))), accumulate('part_sq', k.mul(f('p2_d'), f('p2_d'))))));
    passes.push(...reduceRow(red, lid, f('part_sq'), 'sum', 'row_sq', wg), k.let_('rstd', k.rsqrt(k.add(k.div(f('row_sq'), n), eps))));
    passes.push(pass('p3', (x, s) => finish(k.mul(k.sub(x, f('mean')), f('rstd')), s)));
  } else {
    // mean of squares, then x * rsqrt(mean + eps) * w.
    passes.push(k.var_('part_sq', k.f(0)), pass('p1', (x, s) => s.push(accumulate('part_sq', k.mul(x, x))), true));
    passes.push(...reduceRow(red, lid, f('part_sq'), 'sum', 'row_sq', wg), k.let_('rstd', k.rsqrt(k.add(k.div(f('row_sq'), n), eps))));
    passes.push(pass('p2', (x, s) => finish(k.mul(x, f('rstd')), s)));
  }

  const ops = describeOps(spec.x);
  const epiOps = describeOps(epilogue);
  const name = spec.name ?? [ops.length ? ops.join('_') : '', `${spec.kind}_${cols}`, spec.saveX ? 'save_x' : '', epiOps.length ? `then_${epiOps.join('_')}` : ''].filter(Boolean).join('_');
  const buffers = reader.buffers();
  return {
    kernel: {
      name,
      workgroupSize: [wg, 1, 1],
      buffers: [...buffers.map((b) => b.param), outBuffer, ...(spec.saveX ? [xOut] : [])],
      params: params.uniforms,
      shared: cached ? [red, xs] : [red],
      // The row guard is uniform over the workgroup (it reads only workgroup ids and params), so the
      // barriers inside it are reached by every invocation or by none.
      body: [k.let_('row', flatWorkgroupId()), k.let_('lid', k.localId(0)), k.if_(k.lt(row, rows), [...perRow, ...passes])],
      grid: grid2d(rows),
      locs: spec.locs,
    },
    bind: [...buffers.map((b) => b.bind), { kind: 'output', index: 0 }, ...(spec.saveX ? [{ kind: 'output', index: 1 } as const] : [])],
    params: params.values,
  };
}

/** acc * weight + bias as a fused expression (acc alone for softmax, acc * weight for RMSNorm). */
function affineExpr(spec: RowReduceSpec): FusedExpr {
  let e: FusedExpr = { kind: 'acc' };
  if (spec.kind === 'softmax') return e;
  if (spec.weight === undefined) throw new Error(`kernel template: ${spec.kind} needs a weight input`);
  e = { kind: 'op', op: 'mul', args: [e, { kind: 'input', index: spec.weight }] };
  if (spec.kind === 'rms_norm') return e;
  if (spec.bias === undefined) throw new Error('kernel template: layer_norm needs a bias input');
  return { kind: 'op', op: 'add', args: [e, { kind: 'input', index: spec.bias }] };
}

/**
 * Tree reduction of each invocation's `value` over the workgroup into `let ${name}` (every invocation
 * gets it): red[lid] = value, then halve the active range log2(wg) times, a barrier after each step.
 * The caller puts a barrier after reading `name` before `red` is written again.
 */
function reduceRow(red: SharedArray, lid: Expr, value: Expr, op: 'sum' | 'max', name: string, wg: number): Stmt[] {
  const stmts: Stmt[] = [k.sharedStore(red, lid, value), k.barrier()];
  for (let s = wg / 2; s >= 1; s /= 2) {
    const a = k.sharedLoad(red, lid), b = k.sharedLoad(red, k.add(lid, s));
    stmts.push(k.if_(k.lt(lid, s), [k.sharedStore(red, lid, op === 'sum' ? k.add(a, b) : k.max(a, b))]), k.barrier());
  }
  stmts.push(k.let_(name, k.sharedLoad(red, k.u(0))));
  return stmts;
}
