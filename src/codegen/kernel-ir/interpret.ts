// Reference interpreter of kernel IR: runs a kernel over its grid in JS, workgroup by workgroup, with
// GPU semantics, so templates can be tested without a GPU. Each kernel is compiled once into a tree of
// JS closures over a flat Float64Array of registers (per invocation); statements that contain a
// barrier compile to generators that yield at the barrier, and a scheduler steps every invocation of a
// workgroup to its next barrier before any goes on.
//
// Semantics (those of WGSL; where CUDA differs, the CUDA renderer's output is undefined behaviour):
// - f32: every operation and math function is rounded with Math.fround; min/max return the non-NaN
//   operand (fminf/fmaxf; WGSL leaves NaN indeterminate). fma is a*b+c rounded twice (double, then f32).
// - i32 wraps (`| 0`, Math.imul); u32 wraps (`>>> 0`). `/` truncates toward zero, `%` takes the sign
//   of the dividend. x / 0 = x and x % 0 = 0; i32 MIN / -1 = MIN and MIN % -1 = 0 (WGSL; CUDA: UB).
//   Shift counts are masked by 31 (WGSL for non-constant counts; the renderers print the mask).
// - Casts f32 -> i32/u32 truncate toward zero and clamp to the integers f32 can hold, as WGSL does:
//   [-2^31, 2147483520] and [0, 4294967040] (CUDA's __float2int_rz saturates at 2^31-1; the CUDA renderer
//   clamps first). NaN -> 0 (WGSL leaves it indeterminate). i32 <-> u32 keep the bits; bool -> 1/0;
//   x -> bool is x != 0.
// - bitcast reinterprets bits through one shared ArrayBuffer (NaN payloads may not survive).
// - `select` evaluates both operands (as a GPU does), so an out-of-bounds load in either is caught.
// - Shared memory is per workgroup and starts poisoned (f32 NaN, integers 0xdeadbeef): CUDA does not
//   zero it, so a template must not read what it has not written.
// - Checked, with an Error naming the kernel: out-of-bounds buffer/shared access, stores into `read`
//   buffers, barrier divergence (some invocations at a barrier, others finished or at another barrier),
//   and data races: shared memory between barriers (a read or change of an element another invocation
//   wrote or read since the last barrier) and buffers within a dispatch (a read of another invocation's
//   write, or two different values written to one element).
import type { Builtin, Expr, Kernel, KType, MathFn, ScalarType, Stmt } from './types.js';

export type KernelArray = Float32Array | Int32Array | Uint32Array;

export interface RunOptions {
  /** Every buffer of the kernel by name: Float32Array for f32 and vec4<f32>, Int32Array, Uint32Array. */
  buffers: Record<string, KernelArray>;
  /** Every launch parameter by name (integers for i32/u32). */
  params: Record<string, number>;
  /** Workgroups per axis; default: `kernel.grid` evaluated with `params`. */
  grid?: [number, number, number];
  /** Detect data races on shared memory and buffers (default true; costs some speed). */
  checkRaces?: boolean;
}

export interface RunStats {
  workgroups: number;
  invocations: number;
}

/** Runs `kernel` over its grid, updating `options.buffers` in place. Throws on any checked fault. */
export function runKernel(kernel: Kernel, options: RunOptions): RunStats {
  const compiled = compile(kernel);
  const params = paramValues(kernel, options.params);
  const grid = options.grid ?? evalGridWith(kernel, compiled, params);
  const buffers = kernel.buffers.map((b) => checkedBuffer(kernel, b.name, b.type, options.buffers[b.name]));
  const checkRaces = options.checkRaces ?? true;
  const writers = kernel.buffers.map((b, n) => (checkRaces && b.access === 'read_write' ? new Int32Array(elements(buffers[n]!, b.type)).fill(-1) : null));
  const [sx, sy, sz] = kernel.workgroupSize;
  const groupSize = sx * sy * sz;
  const memory: Memory = { kernel: kernel.name, buffers, writers, shared: [], sharedTrack: [], epoch: 0, checkRaces };
  const frames = Array.from({ length: compiled.hasBarrier ? groupSize : 1 }, () => newFrame(compiled.registers, memory));
  for (const f of frames) f.r.set(params, PARAM_BASE);
  for (let wz = 0; wz < grid[2]; wz++) {
    for (let wy = 0; wy < grid[1]; wy++) {
      for (let wx = 0; wx < grid[0]; wx++) {
        memory.shared = kernel.shared.map((s) => poisoned(s.type, s.size));
        memory.sharedTrack = kernel.shared.map((s) => (checkRaces ? newTrack(s.size) : null));
        memory.epoch = 0;
        const setIds = (f: Frame, local: number) => {
          const lx = local % sx, ly = Math.floor(local / sx) % sy, lz = Math.floor(local / (sx * sy));
          const r = f.r;
          r[0] = wx * sx + lx; r[1] = wy * sy + ly; r[2] = wz * sz + lz;
          r[3] = lx; r[4] = ly; r[5] = lz;
          r[6] = wx; r[7] = wy; r[8] = wz;
          r[9] = grid[0]; r[10] = grid[1]; r[11] = grid[2];
          f.invocation = local;
          f.globalInvocation = ((wz * grid[1] + wy) * grid[0] + wx) * groupSize + local;
        };
        if (!compiled.hasBarrier) {
          const f = frames[0]!;
          for (let local = 0; local < groupSize; local++) {
            setIds(f, local);
            compiled.plain!(f);
          }
        } else {
          frames.forEach(setIds);
          runWorkgroup(kernel, compiled, frames, memory, [wx, wy, wz]);
        }
      }
    }
  }
  const workgroups = grid[0] * grid[1] * grid[2];
  return { workgroups, invocations: workgroups * groupSize };
}

/** The grid `kernel.grid` gives for these params: workgroups per axis. */
export function evalGrid(kernel: Kernel, params: Record<string, number>): [number, number, number] {
  return evalGridWith(kernel, compile(kernel), paramValues(kernel, params));
}

// ---- runtime state -----------------------------------------------------------------------------------

interface Memory {
  kernel: string;
  buffers: KernelArray[];
  /** Per read_write buffer element: the global invocation that last wrote it (-1: none). */
  writers: (Int32Array | null)[];
  shared: (KernelArray | Uint8Array)[];
  sharedTrack: (SharedTrack | null)[];
  /** Barrier phase within the workgroup. */
  epoch: number;
  checkRaces: boolean;
}

interface SharedTrack {
  writeEpoch: Int32Array;
  writer: Int32Array;
  readEpoch: Int32Array;
  /** The one invocation that read the element in readEpoch, or -2 for several. */
  reader: Int32Array;
}

interface Frame {
  r: Float64Array;
  /** vec4 registers. */
  v: number[][];
  m: Memory;
  invocation: number;
  globalInvocation: number;
}

interface Place {
  /** `buffer a` or `shared tile`, for messages. */
  what: string;
  lanes: number;
  array(f: Frame): KernelArray | Uint8Array;
  writable: boolean;
  /** Race checks of an access to element i. */
  read(f: Frame, i: number): void;
  write(f: Frame, i: number, changes: boolean): void;
}

type Num = (f: Frame) => number;
type Vec = (f: Frame) => number[];
/** Returns 1 on `break`, else 0. */
type Exec = (f: Frame) => number;
/** Yields barrier ids; returns like Exec. */
type GenExec = (f: Frame) => Generator<number, number, void>;

const BUILTIN_BASE: Record<Builtin, number> = { global_id: 0, local_id: 3, workgroup_id: 6, num_workgroups: 9 };
const PARAM_BASE = 12;

function newFrame(registers: number, m: Memory): Frame {
  return { r: new Float64Array(registers), v: [], m, invocation: 0, globalInvocation: 0 };
}

function newTrack(size: number): SharedTrack {
  const full = () => new Int32Array(size).fill(-1);
  return { writeEpoch: full(), writer: full(), readEpoch: full(), reader: full() };
}

function poisoned(type: KType, size: number): KernelArray | Uint8Array {
  const n = size * type.lanes;
  switch (type.scalar) {
    case 'f32': return new Float32Array(n).fill(NaN);
    case 'i32': return new Int32Array(n).fill(0xdeadbeef | 0);
    case 'u32': return new Uint32Array(n).fill(0xdeadbeef);
    case 'bool': return new Uint8Array(n).fill(1);
  }
}

const elements = (a: KernelArray, type: KType) => Math.floor(a.length / type.lanes);

function checkedBuffer(kernel: Kernel, name: string, type: KType, a: KernelArray | undefined): KernelArray {
  const want = type.scalar === 'f32' ? Float32Array : type.scalar === 'i32' ? Int32Array : type.scalar === 'u32' ? Uint32Array : null;
  if (!a) throw new Error(`kernel ${kernel.name}: buffer '${name}' was not given`);
  if (!want || !(a instanceof want)) throw new Error(`kernel ${kernel.name}: buffer '${name}' must be a ${want?.name ?? '(bool buffers are not allowed)'}, got ${a.constructor.name}`);
  return a;
}

function paramValues(kernel: Kernel, given: Record<string, number>): number[] {
  return kernel.params.map((p) => {
    const x = given[p.name];
    if (x === undefined) throw new Error(`kernel ${kernel.name}: param '${p.name}' was not given`);
    if (p.type.scalar === 'f32') return Math.fround(x);
    const ok = Number.isInteger(x) && (p.type.scalar === 'u32' ? x >= 0 && x <= 0xffffffff : p.type.scalar === 'i32' ? x >= -0x80000000 && x <= 0x7fffffff : x === 0 || x === 1);
    if (!ok) throw new Error(`kernel ${kernel.name}: param '${p.name}' = ${x} is not a ${p.type.scalar}`);
    return x;
  });
}

function evalGridWith(kernel: Kernel, compiled: Compiled, params: number[]): [number, number, number] {
  const f = newFrame(compiled.registers, { kernel: kernel.name, buffers: [], writers: [], shared: [], sharedTrack: [], epoch: 0, checkRaces: false });
  f.r.set(params, PARAM_BASE);
  return compiled.grid.map((g) => g(f)) as [number, number, number];
}

/** Steps every invocation to its next barrier, round after round; all must agree at each step. */
function runWorkgroup(kernel: Kernel, compiled: Compiled, frames: Frame[], memory: Memory, group: number[]): void {
  const live = frames.map((f) => compiled.gen!(f));
  for (;;) {
    let barrier: number | undefined;
    let finished = 0;
    const where: string[] = [];
    live.forEach((g, local) => {
      const step = g.next();
      const at = step.done ? -1 : step.value;
      if (step.done) finished++;
      if (barrier === undefined) barrier = at;
      if (at !== barrier && where.length < 4) where.push(`invocation ${local} ${at < 0 ? 'finished' : `is at barrier #${at}`} while invocation 0 ${barrier < 0 ? 'finished' : `is at barrier #${barrier}`}`);
    });
    if (where.length) throw new Error(`kernel ${kernel.name}: barrier divergence in workgroup (${group.join(', ')}): ${where.join('; ')}`);
    if (finished === live.length) return;
    memory.epoch++;
  }
}

// ---- compilation -------------------------------------------------------------------------------------

interface Compiled {
  registers: number;
  hasBarrier: boolean;
  plain?: Exec;
  gen?: GenExec;
  grid: Num[];
}

interface Binding {
  slot: number;
  type: KType;
  mutable: boolean;
}

const cache = new WeakMap<Kernel, Compiled>();

function compile(kernel: Kernel): Compiled {
  let compiled = cache.get(kernel);
  if (!compiled) {
    compiled = new Compiler(kernel).compileKernel();
    cache.set(kernel, compiled);
  }
  return compiled;
}

const hasBarrier = (s: Stmt): boolean =>
  s.k === 'barrier' || (s.k === 'if' && (s.then.some(hasBarrier) || s.else.some(hasBarrier))) || (s.k === 'for' && s.body.some(hasBarrier));

class Compiler {
  private next = PARAM_BASE;
  private nextVec = 0;
  private barriers = 0;
  private scopes: Map<string, Binding>[] = [];
  private readonly params = new Map<string, number>();

  constructor(private readonly kernel: Kernel) {
    kernel.params.forEach((p, n) => this.params.set(p.name, PARAM_BASE + n));
    this.next = PARAM_BASE + kernel.params.length;
  }

  compileKernel(): Compiled {
    const grid = this.kernel.grid.map((g) => this.gridExpr(g));
    const barrier = this.kernel.body.some(hasBarrier);
    const body = barrier ? { gen: this.genBlock(this.kernel.body) } : { plain: this.block(this.kernel.body) };
    return { registers: this.next, hasBarrier: barrier, grid, ...body };
  }

  private fail(message: string): never {
    throw new Error(`kernel ${this.kernel.name}: ${message}`);
  }

  private gridExpr(e: Expr): Num {
    const check = (x: Expr): void => {
      if (x.k === 'var' || x.k === 'builtin' || x.k === 'load' || x.k === 'shared_load') this.fail(`the grid may use only params and constants, not ${x.k} ${'name' in x ? x.name : ''}`);
      for (const c of children(x)) check(c);
    };
    check(e);
    return this.num(e);
  }

  // ---- statements ----

  private withScope<T>(run: () => T): T {
    this.scopes.push(new Map());
    try {
      return run();
    } finally {
      this.scopes.pop();
    }
  }

  private block(stmts: Stmt[]): Exec {
    return this.withScope(() => {
      const execs = stmts.map((s) => this.stmt(s)).filter((x): x is Exec => x !== null);
      if (execs.length === 1) return execs[0]!;
      return (f) => {
        for (let n = 0; n < execs.length; n++) if (execs[n]!(f)) return 1;
        return 0;
      };
    });
  }

  private genBlock(stmts: Stmt[]): GenExec {
    return this.withScope(() => {
      const parts = stmts.map((s) => (hasBarrier(s) ? { gen: this.genStmt(s) } : { plain: this.stmt(s) }));
      return function* (f) {
        for (const p of parts) {
          const signal = p.gen ? yield* p.gen(f) : p.plain ? p.plain(f) : 0;
          if (signal) return signal;
        }
        return 0;
      };
    });
  }

  private genStmt(s: Stmt): GenExec {
    switch (s.k) {
      case 'barrier': {
        const id = this.barriers++;
        return function* () {
          yield id;
          return 0;
        };
      }
      case 'if': {
        const cond = this.num(s.cond);
        const then = this.genBlock(s.then), otherwise = this.genBlock(s.else);
        return function* (f) {
          return cond(f) ? yield* then(f) : yield* otherwise(f);
        };
      }
      case 'for': {
        const { slot, start, end, step, wrap, body } = this.loop(s, () => this.genBlock(s.body));
        return function* (f) {
          const r = f.r;
          for (r[slot] = start(f); r[slot]! < end(f); r[slot] = wrap(r[slot]! + step(f))) if (yield* body(f)) break;
          return 0;
        };
      }
      default:
        return this.fail(`internal: no barrier in a '${s.k}' statement`);
    }
  }

  private loop<B>(s: Extract<Stmt, { k: 'for' }>, compileBody: () => B) {
    if (s.type.lanes !== 1 || (s.type.scalar !== 'i32' && s.type.scalar !== 'u32')) this.fail(`loop variable '${s.name}' must be i32 or u32`);
    const start = this.num(s.start), end = this.num(s.end), rawStep = this.num(s.step);
    const name = s.name;
    const step: Num = (f) => {
      const x = rawStep(f);
      return x === 0 ? this.fail(`loop '${name}' has step 0`) : x;
    };
    const wrap = s.type.scalar === 'i32' ? (x: number) => x | 0 : (x: number) => x >>> 0;
    return this.withScope(() => {
      const slot = this.declare(s.name, s.type, false);
      return { slot, start, end, step, wrap, body: compileBody() };
    });
  }

  private declare(name: string, type: KType, mutable: boolean): number {
    const slot = type.lanes === 4 ? this.nextVec++ : this.next++;
    this.scopes[this.scopes.length - 1]!.set(name, { slot, type, mutable });
    return slot;
  }

  private lookup(name: string): Binding {
    for (let n = this.scopes.length - 1; n >= 0; n--) {
      const b = this.scopes[n]!.get(name);
      if (b) return b;
    }
    return this.fail(`unknown variable '${name}'`);
  }

  private stmt(s: Stmt): Exec | null {
    switch (s.k) {
      case 'let': {
        if (s.type.lanes === 4) {
          const init = this.vec(s.init);
          const slot = this.declare(s.name, s.type, s.mutable);
          return (f) => ((f.v[slot] = init(f)), 0);
        }
        const init = this.num(s.init);
        const slot = this.declare(s.name, s.type, s.mutable);
        return (f) => ((f.r[slot] = init(f)), 0);
      }
      case 'assign': {
        const b = this.lookup(s.name);
        if (!b.mutable) this.fail(`assignment to '${s.name}', which is not a var`);
        if (b.type.lanes === 4) {
          const value = this.vec(s.value);
          return (f) => ((f.v[b.slot] = value(f)), 0);
        }
        const value = this.num(s.value);
        return (f) => ((f.r[b.slot] = value(f)), 0);
      }
      case 'store':
        return this.store(this.place('buffer', s.buffer), s.index, s.value);
      case 'shared_store':
        return this.store(this.place('shared', s.name), s.index, s.value);
      case 'if': {
        const cond = this.num(s.cond);
        const then = this.block(s.then), otherwise = this.block(s.else);
        return (f) => (cond(f) ? then(f) : otherwise(f));
      }
      case 'for': {
        const { slot, start, end, step, wrap, body } = this.loop(s, () => this.block(s.body));
        return (f) => {
          const r = f.r;
          for (r[slot] = start(f); r[slot]! < end(f); r[slot] = wrap(r[slot]! + step(f))) if (body(f)) break;
          return 0;
        };
      }
      case 'break':
        return () => 1;
      case 'barrier':
        return this.fail('internal: barrier outside a generator');
      case 'comment':
        return null;
    }
  }

  // ---- memory ----

  /** A buffer or shared array: where its elements are, and how accesses are checked for races. */
  private place(kind: 'buffer' | 'shared', name: string): Place {
    const decls = kind === 'buffer' ? this.kernel.buffers : this.kernel.shared;
    const k = decls.findIndex((d) => d.name === name);
    if (k < 0) this.fail(`unknown ${kind === 'buffer' ? 'buffer' : 'shared array'} '${name}'`);
    const lanes = decls[k]!.type.lanes;
    const fail = (message: string) => this.fail(`data race: ${message}`);
    if (kind === 'buffer') {
      return {
        what: `buffer ${name}`, lanes, array: (f) => f.m.buffers[k]!, writable: (this.kernel.buffers[k]!.access === 'read_write'),
        read(f, i) {
          const w = f.m.writers[k];
          if (w && w[i] !== -1 && w[i] !== f.globalInvocation) fail(`invocation ${f.globalInvocation} reads ${name}[${i}], written by invocation ${w[i]} in the same dispatch`);
        },
        write(f, i, changes) {
          const w = f.m.writers[k]!;
          if (changes && w[i] !== -1 && w[i] !== f.globalInvocation) fail(`invocations ${w[i]} and ${f.globalInvocation} write different values to ${name}[${i}]`);
          w[i] = f.globalInvocation;
        },
      };
    }
    return {
      what: `shared ${name}`, lanes, array: (f) => f.m.shared[k]!, writable: true,
      read(f, i) {
        const t = f.m.sharedTrack[k]!, e = f.m.epoch, me = f.invocation;
        if (t.writeEpoch[i] === e && t.writer[i] !== me) fail(`invocation ${me} reads shared ${name}[${i}], written by invocation ${t.writer[i]} since the last barrier`);
        if (t.readEpoch[i] !== e) (t.readEpoch[i] = e), (t.reader[i] = me);
        else if (t.reader[i] !== me) t.reader[i] = -2;
      },
      write(f, i, changes) {
        const t = f.m.sharedTrack[k]!, e = f.m.epoch, me = f.invocation;
        if (changes && t.writeEpoch[i] === e && t.writer[i] !== me) fail(`invocations ${t.writer[i]} and ${me} write different values to shared ${name}[${i}] between barriers`);
        if (changes && t.readEpoch[i] === e && t.reader[i] !== me) fail(`invocation ${me} changes shared ${name}[${i}], read by ${t.reader[i] === -2 ? 'other invocations' : `invocation ${t.reader[i]}`} since the last barrier`);
        t.writeEpoch[i] = e;
        t.writer[i] = me;
      },
    };
  }

  /** The element index `e` evaluates to, checked against the place's length. */
  private index(e: Expr, place: Place, verb: string): Num {
    const index = this.num(e);
    const kernel = this.kernel.name;
    return (f) => {
      const i = index(f);
      const n = Math.floor(place.array(f).length / place.lanes);
      if (i < 0 || i >= n) {
        const units = place.lanes === 4 ? 'elements of vec4' : 'elements';
        throw new Error(`kernel ${kernel}: out-of-bounds ${verb} ${place.what}[${i}] (${n} ${units}) at global_id (${f.r[0]}, ${f.r[1]}, ${f.r[2]})`);
      }
      return i;
    };
  }

  private load(place: Place, indexExpr: Expr): Num | Vec {
    const index = this.index(indexExpr, place, 'load from');
    if (place.lanes === 4) {
      return (f) => {
        const i = index(f), a = place.array(f), b = 4 * i;
        if (f.m.checkRaces) place.read(f, i);
        return [a[b]!, a[b + 1]!, a[b + 2]!, a[b + 3]!];
      };
    }
    return (f) => {
      const i = index(f);
      if (f.m.checkRaces) place.read(f, i);
      return place.array(f)[i]!;
    };
  }

  private store(place: Place, indexExpr: Expr, valueExpr: Expr): Exec {
    if (!place.writable) this.fail(`store into read-only ${place.what.replace(' ', " '")}'`);
    const index = this.index(indexExpr, place, 'store to');
    if (place.lanes === 4) {
      const value = this.vec(valueExpr);
      return (f) => {
        const i = index(f), x = value(f), a = place.array(f), b = 4 * i;
        if (f.m.checkRaces) place.write(f, i, !sameLanes(a, b, x));
        a[b] = x[0]!; a[b + 1] = x[1]!; a[b + 2] = x[2]!; a[b + 3] = x[3]!;
        return 0;
      };
    }
    const value = this.num(valueExpr);
    return (f) => {
      const i = index(f), x = value(f), a = place.array(f);
      if (f.m.checkRaces) place.write(f, i, !Object.is(a[i], x));
      a[i] = x;
      return 0;
    };
  }

  // ---- expressions ----

  num(e: Expr): Num {
    if (e.type.lanes !== 1) this.fail(`expected a scalar, got a vec4 ${e.k}`);
    return this.expr(e) as Num;
  }

  vec(e: Expr): Vec {
    if (e.type.lanes !== 4) this.fail(`expected a vec4, got a scalar ${e.k}`);
    return this.expr(e) as Vec;
  }

  private expr(e: Expr): Num | Vec {
    switch (e.k) {
      case 'const': {
        const value = normalize(e.type.scalar, e.value);
        return () => value;
      }
      case 'var': {
        const b = this.lookup(e.name);
        if (b.type.lanes !== e.type.lanes) this.fail(`'${e.name}' used with the wrong type`);
        const slot = b.slot;
        return b.type.lanes === 4 ? (f: Frame) => f.v[slot]! : (f: Frame) => f.r[slot]!;
      }
      case 'param': {
        const slot = this.params.get(e.name) ?? this.fail(`unknown param '${e.name}'`);
        return (f) => f.r[slot]!;
      }
      case 'builtin': {
        const slot = BUILTIN_BASE[e.name] + e.axis;
        return (f) => f.r[slot]!;
      }
      case 'load':
        return this.load(this.place('buffer', e.buffer), e.index);
      case 'shared_load':
        return this.load(this.place('shared', e.name), e.index);
      case 'binary': {
        const scalar = e.a.type.scalar;
        const op = binaryOp(e.op, scalar) ?? this.fail(`'${e.op}' on ${scalar}`);
        if (e.a.type.lanes === 4 || e.b.type.lanes === 4) return lanewise2(op, this.vec(e.a), this.vec(e.b));
        const a = this.num(e.a), b = this.num(e.b);
        if (e.op === '&&') return (f) => (a(f) ? b(f) : 0);
        if (e.op === '||') return (f) => (a(f) ? 1 : b(f));
        return (f) => op(a(f), b(f));
      }
      case 'unary': {
        const scalar = e.type.scalar;
        const op = e.op === '!' ? (x: number) => (x ? 0 : 1) : scalar === 'i32' ? (x: number) => -x | 0 : (x: number) => -x;
        if (e.type.lanes === 4) return lanewise1(op, this.vec(e.a));
        const a = this.num(e.a);
        return (f) => op(a(f));
      }
      case 'math':
        return this.math(e.fn, e.type, e.args);
      case 'select': {
        const cond = this.num(e.cond);
        const a = this.expr(e.a), b = this.expr(e.b);
        return ((f: Frame) => {
          const x = a(f), y = b(f);
          return cond(f) ? x : y;
        }) as Num | Vec;
      }
      case 'cast': {
        const op = castOp(e.a.type.scalar, e.type.scalar);
        if (e.type.lanes === 4) return lanewise1(op, this.vec(e.a));
        const a = this.num(e.a);
        return (f) => op(a(f));
      }
      case 'bitcast': {
        const op = bitcastOp(e.a.type.scalar, e.type.scalar);
        const a = this.num(e.a);
        return (f) => op(a(f));
      }
      case 'vec': {
        const lanes = e.lanes.map((x) => this.num(x));
        if (lanes.length === 1) {
          const a = lanes[0]!;
          return (f) => {
            const x = a(f);
            return [x, x, x, x];
          };
        }
        if (lanes.length !== 4) this.fail(`a vec4 of ${lanes.length} lanes`);
        const [a, b, c, d] = lanes as [Num, Num, Num, Num];
        return (f) => [a(f), b(f), c(f), d(f)];
      }
      case 'lane': {
        const a = this.vec(e.a), lane = e.lane;
        return (f) => a(f)[lane]!;
      }
    }
  }

  private math(fn: MathFn, type: KType, argExprs: Expr[]): Num | Vec {
    const op = mathOp(fn, type.scalar) ?? this.fail(`${fn} of ${type.scalar}`);
    if (type.lanes === 4) {
      const args = argExprs.map((a) => this.vec(a));
      return (f) => {
        const xs = args.map((a) => a(f));
        return [0, 1, 2, 3].map((l) => op(...xs.map((x) => x[l]!)));
      };
    }
    const args = argExprs.map((a) => this.num(a));
    if (args.length === 1) {
      const a = args[0]!;
      return (f) => op(a(f));
    }
    if (args.length === 2) {
      const [a, b] = args as [Num, Num];
      return (f) => op(a(f), b(f));
    }
    const [a, b, c] = args as [Num, Num, Num];
    return (f) => op(a(f), b(f), c(f));
  }
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

function sameLanes(a: ArrayLike<number>, b: number, x: number[]): boolean {
  return Object.is(a[b], x[0]) && Object.is(a[b + 1], x[1]) && Object.is(a[b + 2], x[2]) && Object.is(a[b + 3], x[3]);
}

function lanewise1(op: (x: number) => number, a: Vec): Vec {
  return (f) => {
    const x = a(f);
    return [op(x[0]!), op(x[1]!), op(x[2]!), op(x[3]!)];
  };
}

function lanewise2(op: (x: number, y: number) => number, a: Vec, b: Vec): Vec {
  return (f) => {
    const x = a(f), y = b(f);
    return [op(x[0]!, y[0]!), op(x[1]!, y[1]!), op(x[2]!, y[2]!), op(x[3]!, y[3]!)];
  };
}

// ---- scalar semantics ----------------------------------------------------------------------------------

const fr = Math.fround;
const INT_MIN = -0x80000000;

function normalize(scalar: ScalarType, x: number): number {
  switch (scalar) {
    case 'f32': return fr(x);
    case 'i32': return x | 0;
    case 'u32': return x >>> 0;
    case 'bool': return x ? 1 : 0;
  }
}

/** IEEE minNum/maxNum, as fminf/fmaxf: a NaN operand yields the other. */
const fmin = (x: number, y: number) => (x !== x ? y : y !== y ? x : Math.min(x, y));
const fmax = (x: number, y: number) => (x !== x ? y : y !== y ? x : Math.max(x, y));

type BinFn = (x: number, y: number) => number;

const COMPARE: Record<string, BinFn> = {
  '<': (x, y) => (x < y ? 1 : 0),
  '<=': (x, y) => (x <= y ? 1 : 0),
  '>': (x, y) => (x > y ? 1 : 0),
  '>=': (x, y) => (x >= y ? 1 : 0),
  '==': (x, y) => (x === y ? 1 : 0),
  '!=': (x, y) => (x !== y ? 1 : 0),
};

const SCALAR_OPS: Record<ScalarType, Record<string, BinFn>> = {
  f32: {
    '+': (x, y) => fr(x + y), '-': (x, y) => fr(x - y), '*': (x, y) => fr(x * y), '/': (x, y) => fr(x / y), '%': (x, y) => fr(x % y),
    min: fmin, max: fmax, ...COMPARE,
  },
  i32: {
    '+': (x, y) => (x + y) | 0, '-': (x, y) => (x - y) | 0, '*': Math.imul,
    '/': (x, y) => (y === 0 || (x === INT_MIN && y === -1) ? x : (x / y) | 0),
    '%': (x, y) => (y === 0 || (x === INT_MIN && y === -1) ? 0 : (x % y) | 0),
    '&': (x, y) => x & y, '|': (x, y) => x | y, '^': (x, y) => x ^ y, '<<': (x, y) => x << (y & 31), '>>': (x, y) => x >> (y & 31),
    min: Math.min, max: Math.max, ...COMPARE,
  },
  u32: {
    '+': (x, y) => (x + y) >>> 0, '-': (x, y) => (x - y) >>> 0, '*': (x, y) => Math.imul(x, y) >>> 0,
    '/': (x, y) => (y === 0 ? x : (x / y) >>> 0), '%': (x, y) => (y === 0 ? 0 : x % y),
    '&': (x, y) => (x & y) >>> 0, '|': (x, y) => (x | y) >>> 0, '^': (x, y) => (x ^ y) >>> 0,
    '<<': (x, y) => (x << (y & 31)) >>> 0, '>>': (x, y) => x >>> (y & 31),
    min: Math.min, max: Math.max, ...COMPARE,
  },
  bool: { '&&': (x, y) => x & y, '||': (x, y) => x | y, '==': COMPARE['==']!, '!=': COMPARE['!=']! },
};

function binaryOp(op: string, scalar: ScalarType): BinFn | undefined {
  return SCALAR_OPS[scalar][op];
}

type MathImpl = (...xs: number[]) => number;

const F32_MATH: Record<MathFn, MathImpl> = {
  exp: (x) => fr(Math.exp(x!)),
  log: (x) => fr(Math.log(x!)),
  sin: (x) => fr(Math.sin(x!)),
  cos: (x) => fr(Math.cos(x!)),
  sqrt: (x) => fr(Math.sqrt(x!)),
  inverse_sqrt: (x) => fr(1 / Math.sqrt(x!)),
  tanh: (x) => fr(Math.tanh(x!)),
  abs: (x) => Math.abs(x!),
  floor: (x) => Math.floor(x!),
  ceil: (x) => Math.ceil(x!),
  pow: (x, y) => fr(Math.pow(x!, y!)),
  fma: (x, y, z) => fr(x! * y! + z!),
};

function mathOp(fn: MathFn, scalar: ScalarType): MathImpl | undefined {
  if (scalar === 'f32') return F32_MATH[fn];
  if (scalar === 'i32' && fn === 'abs') return (x) => Math.abs(x!) | 0;
  return undefined;
}

/** The largest i32 and u32 that are also f32 values: where WGSL clamps float-to-integer conversions. */
const I32_MAX_F32 = 2147483520, U32_MAX_F32 = 4294967040;

function castOp(from: ScalarType, to: ScalarType): (x: number) => number {
  if (to === 'bool') return (x) => (x !== 0 ? 1 : 0);
  if (to === 'f32') return from === 'f32' ? (x) => x : (x) => fr(x);
  if (to === 'i32') {
    if (from === 'f32') return (x) => (x !== x ? 0 : x >= I32_MAX_F32 ? I32_MAX_F32 : x <= INT_MIN ? INT_MIN : Math.trunc(x) | 0);
    return (x) => x | 0;
  }
  if (from === 'f32') return (x) => (x !== x || x <= 0 ? 0 : x >= U32_MAX_F32 ? U32_MAX_F32 : Math.trunc(x) >>> 0);
  return (x) => x >>> 0;
}

const bits = new ArrayBuffer(4);
const asF32 = new Float32Array(bits), asI32 = new Int32Array(bits), asU32 = new Uint32Array(bits);
const views: Record<ScalarType, Float32Array | Int32Array | Uint32Array> = { f32: asF32, i32: asI32, u32: asU32, bool: asU32 };

function bitcastOp(from: ScalarType, to: ScalarType): (x: number) => number {
  const src = views[from], dst = views[to];
  return (x) => {
    src[0] = x;
    return dst[0]!;
  };
}
