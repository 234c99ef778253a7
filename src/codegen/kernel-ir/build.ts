// Typed constructors for kernel IR, so templates read like the kernels they make. Types are inferred
// and checked here (a mismatch is a bug in a template: it throws); JS numbers become constants of
// the other operand's type, and a scalar meeting a vec4 is splatted explicitly.
import type { BinaryOp, Builtin, BufferParam, Expr, KType, MathFn, SharedArray, Stmt, UniformParam } from './types.js';
import { bool, f32, i32, u32, vec4f } from './types.js';

export type Operand = Expr | number;

export const typeName = (t: KType): string => (t.lanes === 1 ? t.scalar : `vec${t.lanes}<${t.scalar}>`);
export const sameType = (a: KType, b: KType): boolean => a.scalar === b.scalar && a.lanes === b.lanes;

function fail(message: string): never {
  throw new Error(`kernel IR: ${message}`);
}

// ---- leaves ----------------------------------------------------------------------------------------

export const lit = (type: KType, value: number): Expr => {
  if (type.lanes !== 1) return splat(lit({ scalar: type.scalar, lanes: 1 }, value), type.lanes);
  if ((type.scalar === 'i32' || type.scalar === 'u32') && !Number.isInteger(value)) fail(`${value} is not an integer constant of ${type.scalar}`);
  if (type.scalar === 'u32' && value < 0) fail(`${value} is not a u32`);
  return { k: 'const', type, value: type.scalar === 'bool' ? (value ? 1 : 0) : value };
};
export const f = (value: number): Expr => lit(f32, value);
export const i = (value: number): Expr => lit(i32, value);
export const u = (value: number): Expr => lit(u32, value);
export const T = lit(bool, 1);
export const F = lit(bool, 0);

export const ref = (name: string, type: KType): Expr => ({ k: 'var', type, name });
export const param = (p: UniformParam): Expr => ({ k: 'param', type: p.type, name: p.name });
export const builtin = (name: Builtin, axis: 0 | 1 | 2 = 0): Expr => ({ k: 'builtin', type: u32, name, axis });
export const globalId = (axis: 0 | 1 | 2 = 0) => builtin('global_id', axis);
export const localId = (axis: 0 | 1 | 2 = 0) => builtin('local_id', axis);
export const workgroupId = (axis: 0 | 1 | 2 = 0) => builtin('workgroup_id', axis);
export const numWorkgroups = (axis: 0 | 1 | 2 = 0) => builtin('num_workgroups', axis);

function operand(x: Operand, like: KType): Expr {
  return typeof x === 'number' ? lit({ scalar: like.scalar, lanes: 1 }, x) : x;
}

/** Brings two operands to one type: numbers adopt the other's type; a scalar meets a vec4 by splatting. */
function unify(a: Operand, b: Operand): [Expr, Expr] {
  if (typeof a === 'number' && typeof b === 'number') fail('two literal operands; wrap one with f(), i() or u()');
  let x = typeof a === 'number' ? operand(a, (b as Expr).type) : a;
  let y = typeof b === 'number' ? operand(b, x.type) : b;
  if (x.type.scalar !== y.type.scalar) fail(`operand types differ: ${typeName(x.type)} and ${typeName(y.type)}`);
  if (x.type.lanes !== y.type.lanes) {
    if (x.type.lanes === 1) x = splat(x, y.type.lanes);
    else if (y.type.lanes === 1) y = splat(y, x.type.lanes);
  }
  return [x, y];
}

// ---- operators -------------------------------------------------------------------------------------

const ARITH = new Set<BinaryOp>(['+', '-', '*', '/', '%', 'min', 'max']);
const COMPARE = new Set<BinaryOp>(['<', '<=', '>', '>=', '==', '!=']);
const BITS = new Set<BinaryOp>(['&', '|', '^', '<<', '>>']);

export function bin(op: BinaryOp, a: Operand, b: Operand): Expr {
  const [x, y] = unify(a, b);
  const t = x.type;
  if (ARITH.has(op)) {
    if (t.scalar === 'bool') fail(`'${op}' on bool`);
    return { k: 'binary', type: t, op, a: x, b: y };
  }
  if (COMPARE.has(op)) {
    if (t.lanes !== 1) fail(`'${op}' on vectors`);
    if (t.scalar === 'bool' && op !== '==' && op !== '!=') fail(`'${op}' on bool`);
    return { k: 'binary', type: bool, op, a: x, b: y };
  }
  if (op === '&&' || op === '||') {
    if (t.scalar !== 'bool') fail(`'${op}' needs bool operands, got ${typeName(t)}`);
    return { k: 'binary', type: bool, op, a: x, b: y };
  }
  if (BITS.has(op)) {
    if (t.scalar !== 'u32' && t.scalar !== 'i32') fail(`'${op}' needs integer operands`);
    return { k: 'binary', type: t, op, a: x, b: y };
  }
  return fail(`unknown operator ${op}`);
}

export const add = (a: Operand, b: Operand) => bin('+', a, b);
export const sub = (a: Operand, b: Operand) => bin('-', a, b);
export const mul = (a: Operand, b: Operand) => bin('*', a, b);
export const div = (a: Operand, b: Operand) => bin('/', a, b);
export const mod = (a: Operand, b: Operand) => bin('%', a, b);
export const min = (a: Operand, b: Operand) => bin('min', a, b);
export const max = (a: Operand, b: Operand) => bin('max', a, b);
export const lt = (a: Operand, b: Operand) => bin('<', a, b);
export const le = (a: Operand, b: Operand) => bin('<=', a, b);
export const gt = (a: Operand, b: Operand) => bin('>', a, b);
export const ge = (a: Operand, b: Operand) => bin('>=', a, b);
export const eq = (a: Operand, b: Operand) => bin('==', a, b);
export const ne = (a: Operand, b: Operand) => bin('!=', a, b);
export const and = (a: Expr, b: Expr) => bin('&&', a, b);
export const or = (a: Expr, b: Expr) => bin('||', a, b);

export function neg(a: Expr): Expr {
  if (a.type.scalar === 'bool' || a.type.scalar === 'u32') fail(`negation of ${typeName(a.type)}`);
  return { k: 'unary', type: a.type, op: '-', a };
}
export function not(a: Expr): Expr {
  if (a.type.scalar !== 'bool') fail(`'!' on ${typeName(a.type)}`);
  return { k: 'unary', type: bool, op: '!', a };
}

export function math(fn: MathFn, ...args: Operand[]): Expr {
  const exprs = args.filter((x): x is Expr => typeof x !== 'number');
  if (exprs.length === 0) fail(`${fn} of literals only`);
  const first = exprs.reduce((a, b) => (b.type.lanes > a.type.lanes ? b : a));
  const xs = args.map((x) => {
    const e = operand(x, first.type);
    return e.type.lanes < first.type.lanes ? splat(e, first.type.lanes) : e;
  });
  for (const x of xs) {
    if (x.type.scalar !== 'f32' && !(fn === 'abs' && x.type.scalar === 'i32')) fail(`${fn} needs f32 operands, got ${typeName(x.type)}`);
    if (!sameType(x.type, first.type)) fail(`${fn}: operand types differ`);
  }
  return { k: 'math', type: first.type, fn, args: xs };
}
export const exp = (a: Expr) => math('exp', a);
export const log = (a: Expr) => math('log', a);
export const sqrt = (a: Expr) => math('sqrt', a);
export const rsqrt = (a: Expr) => math('inverse_sqrt', a);
export const tanh = (a: Expr) => math('tanh', a);
export const abs = (a: Expr) => math('abs', a);
export const floor = (a: Expr) => math('floor', a);
export const ceil = (a: Expr) => math('ceil', a);
export const pow = (a: Operand, b: Operand) => math('pow', a, b);
export const fma = (a: Operand, b: Operand, c: Operand) => math('fma', a, b, c);

export function select(cond: Expr, a: Operand, b: Operand): Expr {
  if (cond.type.scalar !== 'bool' || cond.type.lanes !== 1) fail('select needs a scalar bool condition');
  const [x, y] = unify(a, b);
  return { k: 'select', type: x.type, cond, a: x, b: y };
}

export function cast(to: KType, a: Expr): Expr {
  if (sameType(to, a.type)) return a;
  if (to.lanes !== a.type.lanes) fail(`cast between ${typeName(a.type)} and ${typeName(to)}`);
  return { k: 'cast', type: to, a };
}
export const toF32 = (a: Expr) => cast(f32, a);
export const toI32 = (a: Expr) => cast(i32, a);
export const toU32 = (a: Expr) => cast(u32, a);

export function bitcast(to: KType, a: Expr): Expr {
  if (to.lanes !== 1 || a.type.lanes !== 1 || to.scalar === 'bool' || a.type.scalar === 'bool') fail('bitcast between 32-bit scalars only');
  return { k: 'bitcast', type: to, a };
}

/** +inf / -inf as f32 (there is no infinite literal in WGSL; this is a bitcast of the IEEE pattern). */
export const infinity = (sign: 1 | -1 = 1): Expr => bitcast(f32, u(sign > 0 ? 0x7f800000 : 0xff800000));

export function vec4(...lanes: Operand[]): Expr {
  if (lanes.length !== 4) fail('vec4 needs 4 lanes');
  const xs = lanes.map((x) => operand(x, f32));
  if (xs.some((x) => !sameType(x.type, f32))) fail('vec4 lanes must be f32');
  return { k: 'vec', type: vec4f, lanes: xs };
}
export function splat(a: Expr, lanes: 1 | 4 = 4): Expr {
  if (lanes === 1) return a;
  if (a.type.lanes !== 1 || a.type.scalar !== 'f32') fail('only f32 scalars splat to vec4');
  return { k: 'vec', type: vec4f, lanes: [a] };
}
export function lane(a: Expr, index: 0 | 1 | 2 | 3): Expr {
  if (a.type.lanes !== 4) fail('lane of a scalar');
  return { k: 'lane', type: { scalar: a.type.scalar, lanes: 1 }, a, lane: index };
}

export function load(buffer: BufferParam, index: Expr): Expr {
  checkIndex(index);
  return { k: 'load', type: buffer.type, buffer: buffer.name, index };
}
export function sharedLoad(array: SharedArray, index: Expr): Expr {
  checkIndex(index);
  return { k: 'shared_load', type: array.type, name: array.name, index };
}
function checkIndex(index: Expr): void {
  if (index.type.lanes !== 1 || (index.type.scalar !== 'u32' && index.type.scalar !== 'i32')) fail(`an index must be i32 or u32, got ${typeName(index.type)}`);
}

/** ceil(a / b) for unsigned integers. */
export const ceilDiv = (a: Expr, b: Operand): Expr => div(add(a, typeof b === 'number' ? b - 1 : sub(b, 1)), b);

// ---- statements ------------------------------------------------------------------------------------

export const let_ = (name: string, init: Expr): Stmt => ({ k: 'let', name, type: init.type, init, mutable: false });
export const var_ = (name: string, init: Expr): Stmt => ({ k: 'let', name, type: init.type, init, mutable: true });
export const assign = (name: string, value: Expr): Stmt => ({ k: 'assign', name, value });
export function store(buffer: BufferParam, index: Expr, value: Expr): Stmt {
  checkIndex(index);
  if (!sameType(buffer.type, value.type)) fail(`storing ${typeName(value.type)} into ${buffer.name}: ${typeName(buffer.type)}`);
  if (buffer.access !== 'read_write') fail(`${buffer.name} is read-only`);
  return { k: 'store', buffer: buffer.name, index, value };
}
export function sharedStore(array: SharedArray, index: Expr, value: Expr): Stmt {
  checkIndex(index);
  if (!sameType(array.type, value.type)) fail(`storing ${typeName(value.type)} into shared ${array.name}: ${typeName(array.type)}`);
  return { k: 'shared_store', name: array.name, index, value };
}
export function if_(cond: Expr, then: Stmt[], otherwise: Stmt[] = []): Stmt {
  if (cond.type.scalar !== 'bool' || cond.type.lanes !== 1) fail('if needs a scalar bool condition');
  return { k: 'if', cond, then, else: otherwise };
}
export function for_(name: string, start: Expr, end: Operand, body: Stmt[], step: Operand = 1): Stmt {
  const e = operand(end, start.type), s = operand(step, start.type);
  if (start.type.lanes !== 1 || (start.type.scalar !== 'i32' && start.type.scalar !== 'u32')) fail('a loop variable is i32 or u32');
  if (!sameType(e.type, start.type) || !sameType(s.type, start.type)) fail('loop bounds and step must have the loop variable type');
  return { k: 'for', name, type: start.type, start, end: e, step: s, body };
}
export const barrier = (): Stmt => ({ k: 'barrier' });
export const brk = (): Stmt => ({ k: 'break' });
export const comment = (text: string): Stmt => ({ k: 'comment', text });

// ---- common subexpressions ------------------------------------------------------------------------

/**
 * Binds every subexpression *object* used more than once in `root` (templates build DAGs: erf
 * reuses t and |x|) to a `let` appended to `stmts`, so renderers, which print trees, never repeat it.
 */
export function hoistShared(root: Expr, stmts: Stmt[], prefix: string): Expr {
  const uses = new Map<Expr, number>();
  const count = (e: Expr): void => {
    const n = (uses.get(e) ?? 0) + 1;
    uses.set(e, n);
    if (n === 1) children(e).forEach(count);
  };
  count(root);
  const rebuilt = new Map<Expr, Expr>();
  let next = 0;
  const rebuild = (e: Expr): Expr => {
    const known = rebuilt.get(e);
    if (known) return known;
    let out = withChildren(e, children(e).map(rebuild));
    if (e !== root && uses.get(e)! > 1 && children(e).length > 0) {
      const name = `${prefix}${next++}`;
      stmts.push(let_(name, out));
      out = ref(name, out.type);
    }
    rebuilt.set(e, out);
    return out;
  };
  return rebuild(root);
}

function children(e: Expr): Expr[] {
  switch (e.k) {
    case 'load': case 'shared_load': return [e.index];
    case 'binary': return [e.a, e.b];
    case 'unary': case 'cast': case 'bitcast': case 'lane': return [e.a];
    case 'math': return e.args;
    case 'select': return [e.cond, e.a, e.b];
    case 'vec': return e.lanes;
    default: return [];
  }
}

function withChildren(e: Expr, c: Expr[]): Expr {
  switch (e.k) {
    case 'load': case 'shared_load': return { ...e, index: c[0]! };
    case 'binary': return { ...e, a: c[0]!, b: c[1]! };
    case 'unary': case 'cast': case 'bitcast': case 'lane': return { ...e, a: c[0]! };
    case 'math': return { ...e, args: c };
    case 'select': return { ...e, cond: c[0]!, a: c[1]!, b: c[2]! };
    case 'vec': return { ...e, lanes: c };
    default: return e;
  }
}

// ---- declarations ----------------------------------------------------------------------------------

export const buffer = (name: string, type: KType, access: BufferParam['access'] = 'read'): BufferParam => ({ name, type, access });
export const uniform = (name: string, type: KType = u32): UniformParam => ({ name, type });
export const shared = (name: string, type: KType, size: number): SharedArray => ({ name, type, size });

export { f32, i32, u32, bool, vec4f };
