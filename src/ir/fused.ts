// Fused elementwise expressions in the graph IR: the bodies of fused ops (fused_elementwise,
// fused_matmul epilogues, fused_row prologues). A tree of elementwise graph ops over leaves: the
// fused op's operands, constants, the accumulator, embedding lookups, positions (iota). Text form: an
// s-expression, `(gelu_tanh (add acc $2))`, `(gather [$0] 50257 $1 [batch, seq, 768])`, `1.5:f32`,
// `(iota:i32 [seq, 1] 0 past)`.
import type { Dim } from './dim.js';
import { parseDim, shapeToString } from './dim.js';
import { broadcastShapes, inferType, ShapeError } from './ops.js';
import type { DType, TensorType } from './types.js';

export type FusedLeaf =
  /** Operand `index` of the fused op, at the element being computed (NumPy broadcasting). */
  | { kind: 'input'; index: number }
  | { kind: 'const'; value: number; dtype: 'f32' | 'i32' | 'bool' }
  /** The value the fused op's core computed: a matmul accumulator, a normalized element. */
  | { kind: 'acc' }
  /**
   * Row `ids[outer]` of a [rows, D] table at column = the last index: an embedding lookup. The table
   * is operand `tables[0]`, or split in chunks of `rowsPerChunk` rows across `tables` (binding limits).
   * `ids` is an integer operand, or `iota` (positions start, start+1, ... along the ids' one axis;
   * start defaults to 0, decoding with a key/value cache starts at `past`). `shape` = ids.shape + [D].
   */
  | { kind: 'gather'; tables: number[]; rowsPerChunk: number; ids: { kind: 'input'; index: number } | { kind: 'iota'; start?: Dim }; shape: Dim[] }
  /**
   * The iota op's values start, start+1, ... (start defaults to 0) laid along `axis` of `shape`, every
   * other axis of size 1: an iota, or an iota reshaped to e.g. [seq, 1] for an outer product with
   * frequencies (sinusoidal and rotary position tables).
   */
  | { kind: 'iota'; shape: Dim[]; axis: number; start?: Dim; dtype: 'f32' | 'i32' };

export type FusedExpr = FusedLeaf | { kind: 'op'; op: string; args: FusedExpr[]; to?: 'f32' | 'i32' | 'bool' };

/** Graph ops a fused elementwise body may contain. */
export const FUSABLE_OPS = new Set([
  'add', 'sub', 'mul', 'div', 'pow', 'max', 'min', 'neg', 'abs',
  'exp', 'log', 'sin', 'cos', 'sqrt', 'rsqrt', 'tanh', 'erf', 'sigmoid', 'relu', 'gelu', 'gelu_tanh', 'silu',
  'and', 'or', 'not', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'where', 'cast',
]);

/** Operand indices the expression reads. */
export function fusedOperands(e: FusedExpr): number[] {
  const out = new Set<number>();
  const walk = (x: FusedExpr): void => {
    if (x.kind === 'input') out.add(x.index);
    else if (x.kind === 'gather') {
      x.tables.forEach((t) => out.add(t));
      if (x.ids.kind === 'input') out.add(x.ids.index);
    } else if (x.kind === 'op') x.args.forEach(walk);
  };
  walk(e);
  return [...out].sort((a, b) => a - b);
}

/**
 * The type of `e` given the fused op's operand types and, where the body uses `acc`, its type.
 * Shapes broadcast as the unfused ops would; each op is checked by the registry's own inference.
 */
export function inferFused(e: FusedExpr, operands: readonly TensorType[], acc?: TensorType): TensorType {
  switch (e.kind) {
    case 'input': {
      const t = operands[e.index];
      if (!t) throw new ShapeError(`fused body reads operand ${e.index}, which does not exist`);
      return t;
    }
    case 'const':
      // As the constant op (whose value a fusion copies): infinities are allowed (masking), NaN is not.
      if (Number.isNaN(e.value)) throw new ShapeError('a fused constant cannot be NaN');
      return { dtype: e.dtype, shape: [] };
    case 'acc':
      if (!acc) throw new ShapeError('fused body uses acc where there is no accumulator');
      return acc;
    case 'gather': {
      const tables = e.tables.map((i) => operands[i]);
      if (tables.length === 0 || tables.some((t) => !t || t.shape.length !== 2)) throw new ShapeError('gather: tables must be [rows, D] operands');
      const d = tables[0]!.shape[1]!;
      if (tables.some((t) => t!.shape[1] !== d || t!.dtype !== tables[0]!.dtype)) throw new ShapeError('gather: table chunks differ in width or dtype');
      // Row r lives in chunk floor(r / rowsPerChunk): every chunk but the last is full, the last not over-full.
      if (!Number.isSafeInteger(e.rowsPerChunk) || e.rowsPerChunk < 1) throw new ShapeError(`gather: ${e.rowsPerChunk} rows per chunk`);
      tables.forEach((t, c) => {
        const rows = t!.shape[0]!;
        const last = c === tables.length - 1;
        if (last ? typeof rows === 'number' && rows > e.rowsPerChunk : rows !== e.rowsPerChunk) {
          throw new ShapeError(`gather: chunk ${c} has ${rows} rows; ${last ? 'the last chunk holds at most' : 'every chunk but the last holds'} ${e.rowsPerChunk}`);
        }
      });
      if (e.shape[e.shape.length - 1] !== d) throw new ShapeError(`gather: shape ${shapeToString(e.shape)} does not end in the table width ${d}`);
      if (e.ids.kind === 'input') {
        const ids = operands[e.ids.index];
        if (!ids || (ids.dtype !== 'i32' && ids.dtype !== 'i64')) throw new ShapeError('gather: ids must be an integer operand');
        if (shapeToString([...ids.shape, d]) !== shapeToString(e.shape)) throw new ShapeError(`gather: ids ${shapeToString(ids.shape)} do not match the shape ${shapeToString(e.shape)}`);
      } else if (e.shape.length !== 2) throw new ShapeError('gather: iota ids have one axis');
      return { dtype: tables[0]!.dtype, shape: [...e.shape] };
    }
    case 'iota':
      if (!Number.isInteger(e.axis) || e.axis < 0 || e.axis >= e.shape.length) throw new ShapeError(`iota: axis ${e.axis} is not an axis of ${shapeToString(e.shape)}`);
      if (e.shape.some((d, a) => a !== e.axis && d !== 1)) throw new ShapeError(`iota: ${shapeToString(e.shape)} has axes of size other than 1 besides axis ${e.axis}`);
      if (typeof e.shape[e.axis] === 'number' && (e.shape[e.axis] as number) < 0) throw new ShapeError(`iota: negative length ${e.shape[e.axis]}`);
      return { dtype: e.dtype, shape: [...e.shape] };
    case 'op': {
      const args = e.args.map((a) => inferFused(a, operands, acc));
      if (!FUSABLE_OPS.has(e.op)) throw new ShapeError(`'${e.op}' cannot be fused elementwise`);
      return inferType(e.op, args, e.op === 'cast' ? { to: (e.to ?? 'f32') as DType } : {});
    }
  }
}

/** Broadcast shape of everything the body reads (the fused op's iteration space, before `acc`). */
export function fusedShape(e: FusedExpr, operands: readonly TensorType[], acc?: TensorType): Dim[] {
  return broadcastShapes(inferFused(e, operands, acc).shape, acc?.shape ?? []);
}

// ---- text form -------------------------------------------------------------------------------------

export function printFused(e: FusedExpr): string {
  switch (e.kind) {
    case 'input': return `$${e.index}`;
    case 'acc': return 'acc';
    case 'const': return `${printConstValue(e.value, e.dtype)}:${e.dtype}`;
    case 'gather':
      return `(gather [${e.tables.map((t) => `$${t}`).join(', ')}] ${e.rowsPerChunk} ${printIds(e.ids)} [${e.shape.join(', ')}])`;
    case 'iota':
      return `(iota:${e.dtype} [${e.shape.join(', ')}] ${e.axis}${e.start !== undefined ? ` ${e.start}` : ''})`;
    case 'op':
      return `(${e.op}${e.to ? `:${e.to}` : ''} ${e.args.map(printFused).join(' ')})`;
  }
}

function printIds(ids: Extract<FusedExpr, { kind: 'gather' }>['ids']): string {
  if (ids.kind === 'input') return `$${ids.index}`;
  return ids.start === undefined ? 'iota' : `(iota ${ids.start})`;
}

/** `1.0` for an f32 integer, `-0.0`, `1e+21`, `inf`: text that Number() reads back to the same double. */
function printConstValue(value: number, dtype: string): string {
  if (value === Infinity || value === -Infinity) return value > 0 ? 'inf' : '-inf';
  const text = Object.is(value, -0) ? '-0' : String(value);
  return dtype === 'f32' && /^-?\d+$/.test(text) ? `${text}.0` : text;
}

/** Parses printFused's output; throws Error with the offending position on malformed text. */
export function parseFused(text: string): FusedExpr {
  const tokens = text.match(/\(|\)|\[|\]|,|[^\s()[\],]+/g) ?? [];
  let pos = 0;
  const fail = (what: string): never => {
    throw new Error(`fused expression: expected ${what} at token ${pos + 1} ('${tokens[pos] ?? 'end'}') of '${text}'`);
  };
  const next = (): string => tokens[pos++] ?? fail('more input');
  const operand = (tok: string): number => (/^\$\d+$/.test(tok) ? Number(tok.slice(1)) : fail('an operand like $0'));
  const dim = (tok: string): Dim => {
    try {
      return parseDim(tok);
    } catch {
      return fail('a dimension');
    }
  };
  const dims = (): Dim[] => {
    if (next() !== '[') fail("'['");
    const out: Dim[] = [];
    for (let t = next(); t !== ']'; t = next()) if (t !== ',') out.push(dim(t));
    return out;
  };
  const expr = (): FusedExpr => {
    const tok = next();
    if (tok === 'acc') return { kind: 'acc' };
    if (tok.startsWith('$')) return { kind: 'input', index: operand(tok) };
    if (tok === '(') {
      const head = next();
      if (head === 'gather') {
        if (next() !== '[') fail("'['");
        const tables: number[] = [];
        for (let t = next(); t !== ']'; t = next()) if (t !== ',') tables.push(operand(t));
        const rowsPerChunk = Number(next());
        if (!Number.isSafeInteger(rowsPerChunk)) fail('a chunk size');
        const idsTok = next();
        let ids: Extract<FusedExpr, { kind: 'gather' }>['ids'];
        if (idsTok === 'iota') ids = { kind: 'iota' };
        else if (idsTok === '(') {
          if (next() !== 'iota') fail("'iota'");
          ids = { kind: 'iota', start: dim(next()) };
          if (next() !== ')') fail("')'");
        } else ids = { kind: 'input', index: operand(idsTok) };
        const shape = dims();
        if (next() !== ')') fail("')'");
        return { kind: 'gather', tables, rowsPerChunk, ids, shape };
      }
      if (head === 'iota:f32' || head === 'iota:i32') {
        const shape = dims();
        const axis = Number(next());
        if (!Number.isSafeInteger(axis)) fail('an axis');
        const start = tokens[pos] === ')' ? undefined : dim(next());
        if (next() !== ')') fail("')'");
        return { kind: 'iota', shape, axis, ...(start !== undefined ? { start } : {}), dtype: head.slice(5) as 'f32' };
      }
      const [op, to] = head.split(':') as [string, string | undefined];
      const args: FusedExpr[] = [];
      while (tokens[pos] !== ')') {
        if (pos >= tokens.length) fail("')'");
        args.push(expr());
      }
      pos++;
      return to ? { kind: 'op', op, args, to: to as 'f32' } : { kind: 'op', op, args };
    }
    const m = /^(-?(?:inf|[0-9.eE+-]+)):(f32|i32|bool)$/.exec(tok);
    if (!m) return fail('an expression');
    const value = m[1] === 'inf' ? Infinity : m[1] === '-inf' ? -Infinity : Number(m[1]);
    if (Number.isNaN(value)) fail('a number');
    return { kind: 'const', value, dtype: m[2] as 'f32' };
  };
  const e = expr();
  if (pos !== tokens.length) fail('the end of the expression');
  return e;
}
