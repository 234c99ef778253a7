// Static checks of a kernel before it is interpreted or rendered: names declared before use, types
// consistent, only vars assigned, stores only to read_write buffers, grid over params only, target
// limits (workgroup size, shared memory, bindings), and barriers only in uniform control flow.
import type { Expr, Kernel, KType, Stmt } from './types.js';

/** WebGPU's compute limits as the WGSL and CUDA targets are used here (lavapipe and CUDA both allow these). */
export const KERNEL_LIMITS = {
  workgroupInvocations: 1024,
  workgroupSize: [1024, 1024, 64] as const,
  sharedBytes: 32 * 1024,
  storageBuffers: 16,
};

/**
 * Problems with `kernel`, each naming the kernel and where (`body[2].then[0]`); empty when it is valid.
 * Messages starting with `warning:` are about barriers in control flow that may not be uniform (WGSL's
 * uniformity analysis rejects such a shader; on CUDA it deadlocks or misbehaves).
 */
export function validateKernel(kernel: Kernel): string[] {
  const v = new Validator(kernel);
  v.run();
  return v.messages;
}

/** Throws an Error listing every problem with `kernel` other than warnings. */
export function assertValidKernel(kernel: Kernel): void {
  const errors = validateKernel(kernel).filter((m) => !m.startsWith('warning:'));
  if (errors.length) throw new Error(`invalid kernel ${kernel.name}:\n  ${errors.join('\n  ')}`);
}

const show = (t: KType): string => (t.lanes === 1 ? t.scalar : `vec${t.lanes}<${t.scalar}>`);
const same = (a: KType, b: KType): boolean => a.scalar === b.scalar && a.lanes === b.lanes;
const isInt = (t: KType): boolean => t.lanes === 1 && (t.scalar === 'i32' || t.scalar === 'u32');
const isBool = (t: KType): boolean => t.lanes === 1 && t.scalar === 'bool';
const ARITY = { exp: 1, log: 1, sin: 1, cos: 1, sqrt: 1, inverse_sqrt: 1, tanh: 1, abs: 1, floor: 1, ceil: 1, pow: 2, fma: 3 } as const;
const COMPARE = new Set(['<', '<=', '>', '>=', '==', '!=']);
const BITS = new Set(['&', '|', '^', '<<', '>>']);

interface Local {
  type: KType;
  mutable: boolean;
  loop: boolean;
}

class Validator {
  readonly messages: string[] = [];
  private scopes: Map<string, Local>[] = [];
  private loopDepth = 0;
  /** Names of locals whose value may differ between invocations of a workgroup (by name; conservative). */
  private readonly varying = new Set<string>();

  constructor(private readonly kernel: Kernel) {}

  private error(where: string, message: string): void {
    this.messages.push(`kernel ${this.kernel.name}: ${message} (at ${where})`);
  }

  run(): void {
    this.declarations();
    this.limits();
    this.kernel.grid.forEach((g, axis) => {
      const where = `grid[${axis}]`;
      this.expr(g, where, true);
      if (!isInt(g.type)) this.error(where, `the grid is an integer, got ${show(g.type)}`);
    });
    this.block(this.kernel.body, 'body', true);
    this.uniformity();
  }

  private declarations(): void {
    const seen = new Set<string>();
    const declare = (name: string, what: string) => {
      if (seen.has(name)) this.error(what, `'${name}' is declared twice among buffers, params and shared arrays`);
      seen.add(name);
    };
    this.kernel.buffers.forEach((b, n) => {
      declare(b.name, `buffers[${n}]`);
      if (b.type.scalar === 'bool' || (b.type.lanes === 4 && b.type.scalar !== 'f32')) this.error(`buffers[${n}]`, `buffer '${b.name}' has type ${show(b.type)}; buffers hold f32, i32, u32 or vec4<f32>`);
    });
    this.kernel.params.forEach((p, n) => {
      declare(p.name, `params[${n}]`);
      if (p.type.lanes !== 1 || p.type.scalar === 'bool') this.error(`params[${n}]`, `param '${p.name}' has type ${show(p.type)}; params are f32, i32 or u32 scalars`);
    });
    this.kernel.shared.forEach((s, n) => {
      declare(s.name, `shared[${n}]`);
      if (!Number.isInteger(s.size) || s.size < 1) this.error(`shared[${n}]`, `shared '${s.name}' has size ${s.size}`);
    });
  }

  private limits(): void {
    const size = this.kernel.workgroupSize;
    size.forEach((s, axis) => {
      if (!Number.isInteger(s) || s < 1 || s > KERNEL_LIMITS.workgroupSize[axis]!) this.error('workgroupSize', `workgroup size ${s} on axis ${axis} is not in 1..${KERNEL_LIMITS.workgroupSize[axis]}`);
    });
    const total = size[0] * size[1] * size[2];
    if (total > KERNEL_LIMITS.workgroupInvocations) this.error('workgroupSize', `${total} invocations per workgroup exceed ${KERNEL_LIMITS.workgroupInvocations}`);
    const bytes = this.kernel.shared.reduce((sum, s) => sum + 4 * s.type.lanes * s.size, 0);
    if (bytes > KERNEL_LIMITS.sharedBytes) this.error('shared', `${bytes} bytes of shared memory exceed ${KERNEL_LIMITS.sharedBytes}`);
    if (this.kernel.buffers.length > KERNEL_LIMITS.storageBuffers) this.error('buffers', `${this.kernel.buffers.length} buffers exceed ${KERNEL_LIMITS.storageBuffers} per kernel`);
  }

  // ---- statements ----

  private block(stmts: Stmt[], where: string, newScope: boolean): void {
    if (newScope) this.scopes.push(new Map());
    stmts.forEach((s, n) => this.stmt(s, `${where}[${n}]`));
    if (newScope) this.scopes.pop();
  }

  private declare(name: string, local: Local, where: string): void {
    const scope = this.scopes[this.scopes.length - 1]!;
    if (scope.has(name)) this.error(where, `'${name}' is declared twice in one scope`);
    scope.set(name, local);
  }

  private lookup(name: string): Local | undefined {
    for (let n = this.scopes.length - 1; n >= 0; n--) {
      const local = this.scopes[n]!.get(name);
      if (local) return local;
    }
    return undefined;
  }

  private stmt(s: Stmt, where: string): void {
    switch (s.k) {
      case 'let':
        this.expr(s.init, where);
        if (!same(s.init.type, s.type)) this.error(where, `'${s.name}: ${show(s.type)}' initialized with ${show(s.init.type)}`);
        this.declare(s.name, { type: s.type, mutable: s.mutable, loop: false }, where);
        return;
      case 'assign': {
        this.expr(s.value, where);
        const local = this.lookup(s.name);
        if (!local) return this.error(where, `assignment to undeclared '${s.name}'`);
        if (local.loop) this.error(where, `assignment to loop variable '${s.name}'`);
        else if (!local.mutable) this.error(where, `assignment to '${s.name}', which is a let, not a var`);
        if (!same(local.type, s.value.type)) this.error(where, `assigning ${show(s.value.type)} to '${s.name}: ${show(local.type)}'`);
        return;
      }
      case 'store': {
        this.index(s.index, where);
        this.expr(s.value, where);
        const b = this.kernel.buffers.find((x) => x.name === s.buffer);
        if (!b) return this.error(where, `store to undeclared buffer '${s.buffer}'`);
        if (b.access !== 'read_write') this.error(where, `store to read-only buffer '${s.buffer}'`);
        if (!same(b.type, s.value.type)) this.error(where, `storing ${show(s.value.type)} into '${s.buffer}: ${show(b.type)}'`);
        return;
      }
      case 'shared_store': {
        this.index(s.index, where);
        this.expr(s.value, where);
        const a = this.kernel.shared.find((x) => x.name === s.name);
        if (!a) return this.error(where, `store to undeclared shared array '${s.name}'`);
        if (!same(a.type, s.value.type)) this.error(where, `storing ${show(s.value.type)} into shared '${s.name}: ${show(a.type)}'`);
        return;
      }
      case 'if':
        this.expr(s.cond, where);
        if (!isBool(s.cond.type)) this.error(where, `an if condition is bool, got ${show(s.cond.type)}`);
        this.block(s.then, `${where}.then`, true);
        this.block(s.else, `${where}.else`, true);
        return;
      case 'for':
        for (const e of [s.start, s.end, s.step]) {
          this.expr(e, where);
          if (!same(e.type, s.type)) this.error(where, `loop '${s.name}: ${show(s.type)}' has a bound or step of type ${show(e.type)}`);
        }
        if (!isInt(s.type)) this.error(where, `loop variable '${s.name}' is ${show(s.type)}, not i32 or u32`);
        // The body shares the loop variable's scope: C++ rejects redeclaring it there.
        this.scopes.push(new Map([[s.name, { type: s.type, mutable: false, loop: true }]]));
        this.loopDepth++;
        this.block(s.body, `${where}.body`, false);
        this.loopDepth--;
        this.scopes.pop();
        return;
      case 'break':
        if (this.loopDepth === 0) this.error(where, 'break outside a loop');
        return;
      case 'barrier':
      case 'comment':
        return;
    }
  }

  private index(e: Expr, where: string): void {
    this.expr(e, where);
    if (!isInt(e.type)) this.error(where, `an index is i32 or u32, got ${show(e.type)}`);
  }

  // ---- expressions ----

  private expr(e: Expr, where: string, gridOnly = false): void {
    const bad = (message: string) => this.error(where, message);
    if (gridOnly && (e.k === 'var' || e.k === 'builtin' || e.k === 'load' || e.k === 'shared_load')) return bad(`the grid may use only params and constants, not a ${e.k}`);
    const sub = (x: Expr) => this.expr(x, where, gridOnly);
    switch (e.k) {
      case 'const': {
        const { scalar } = e.type;
        const ok = e.type.lanes === 1 && (scalar === 'f32' ? Number.isFinite(e.value) : scalar === 'bool' ? e.value === 0 || e.value === 1
          : Number.isInteger(e.value) && (scalar === 'u32' ? e.value >= 0 && e.value <= 0xffffffff : e.value >= -0x80000000 && e.value <= 0x7fffffff));
        if (!ok) bad(`constant ${e.value} is not a ${show(e.type)} literal${scalar === 'f32' ? ' (infinities and NaN are bitcasts)' : ''}`);
        return;
      }
      case 'var': {
        const local = this.lookup(e.name);
        if (!local) return bad(`'${e.name}' is used before it is declared`);
        if (!same(local.type, e.type)) bad(`'${e.name}: ${show(local.type)}' read as ${show(e.type)}`);
        return;
      }
      case 'param': {
        const p = this.kernel.params.find((x) => x.name === e.name);
        if (!p) return bad(`undeclared param '${e.name}'`);
        if (!same(p.type, e.type)) bad(`param '${e.name}: ${show(p.type)}' read as ${show(e.type)}`);
        return;
      }
      case 'builtin':
        if (e.type.scalar !== 'u32' || e.type.lanes !== 1 || ![0, 1, 2].includes(e.axis)) bad(`builtin ${e.name} is a u32 on axis 0, 1 or 2`);
        return;
      case 'load':
      case 'shared_load': {
        this.index(e.index, where);
        const decl = e.k === 'load' ? this.kernel.buffers.find((x) => x.name === e.buffer) : this.kernel.shared.find((x) => x.name === e.name);
        const name = e.k === 'load' ? e.buffer : e.name;
        if (!decl) return bad(`load from undeclared ${e.k === 'load' ? 'buffer' : 'shared array'} '${name}'`);
        if (!same(decl.type, e.type)) bad(`'${name}: ${show(decl.type)}' loaded as ${show(e.type)}`);
        return;
      }
      case 'binary': {
        sub(e.a);
        sub(e.b);
        const t = e.a.type;
        if (!same(t, e.b.type)) return bad(`'${e.op}' operands differ: ${show(t)} and ${show(e.b.type)}`);
        const logical = e.op === '&&' || e.op === '||';
        const result = COMPARE.has(e.op) || logical ? { scalar: 'bool', lanes: 1 } as KType : t;
        if (!same(result, e.type)) bad(`'${e.op}' of ${show(t)} is ${show(result)}, not ${show(e.type)}`);
        if ((e.op === '/' || e.op === '%') && isInt(t) && e.b.k === 'const' && e.b.value === 0) bad(`integer '${e.op}' by the constant 0 (WGSL rejects the shader)`);
        if (logical ? !isBool(t) : BITS.has(e.op) ? !isInt(t) : COMPARE.has(e.op) ? t.lanes !== 1 || ((e.op !== '==' && e.op !== '!=') && t.scalar === 'bool') : t.scalar === 'bool') bad(`'${e.op}' on ${show(t)}`);
        return;
      }
      case 'unary':
        sub(e.a);
        if (!same(e.a.type, e.type)) bad(`'${e.op}' changes the type ${show(e.a.type)} to ${show(e.type)}`);
        if (e.op === '!' ? !isBool(e.a.type) : e.a.type.scalar === 'bool' || e.a.type.scalar === 'u32') bad(`'${e.op}' on ${show(e.a.type)}`);
        return;
      case 'math':
        e.args.forEach(sub);
        if (e.args.length !== ARITY[e.fn]) bad(`${e.fn} takes ${ARITY[e.fn]} arguments, got ${e.args.length}`);
        if (e.args.some((a) => !same(a.type, e.type))) bad(`${e.fn} arguments must all be ${show(e.type)}`);
        if (e.type.scalar !== 'f32' && !(e.fn === 'abs' && same(e.type, { scalar: 'i32', lanes: 1 }))) bad(`${e.fn} of ${show(e.type)}`);
        return;
      case 'select':
        sub(e.cond);
        sub(e.a);
        sub(e.b);
        if (!isBool(e.cond.type)) bad(`a select condition is bool, got ${show(e.cond.type)}`);
        if (!same(e.a.type, e.type) || !same(e.b.type, e.type)) bad(`select of ${show(e.a.type)} and ${show(e.b.type)} as ${show(e.type)}`);
        return;
      case 'cast':
        sub(e.a);
        if (e.a.type.lanes !== e.type.lanes) bad(`cast from ${show(e.a.type)} to ${show(e.type)}`);
        return;
      case 'bitcast':
        sub(e.a);
        if (e.a.type.lanes !== 1 || e.type.lanes !== 1 || e.a.type.scalar === 'bool' || e.type.scalar === 'bool') bad(`bitcast from ${show(e.a.type)} to ${show(e.type)}`);
        return;
      case 'vec':
        e.lanes.forEach(sub);
        if (!same(e.type, { scalar: 'f32', lanes: 4 }) || (e.lanes.length !== 1 && e.lanes.length !== 4) || e.lanes.some((x) => !same(x.type, { scalar: 'f32', lanes: 1 }))) bad(`a vec4<f32> is built from 1 or 4 f32 lanes`);
        return;
      case 'lane':
        sub(e.a);
        if (e.a.type.lanes !== 4 || e.type.lanes !== 1 || e.type.scalar !== e.a.type.scalar || ![0, 1, 2, 3].includes(e.lane)) bad(`lane ${e.lane} of ${show(e.a.type)} as ${show(e.type)}`);
        return;
    }
  }

  // ---- uniformity ----

  /** Whether `e` may differ between invocations of one workgroup (as WGSL's uniformity analysis sees it). */
  private varies(e: Expr): boolean {
    switch (e.k) {
      case 'builtin': return e.name === 'global_id' || e.name === 'local_id';
      case 'var': return this.varying.has(e.name);
      case 'shared_load': return true;
      case 'load': return this.kernel.buffers.find((b) => b.name === e.buffer)?.access !== 'read' || this.varies(e.index);
      case 'binary': return this.varies(e.a) || this.varies(e.b);
      case 'unary': case 'cast': case 'bitcast': case 'lane': return this.varies(e.a);
      case 'math': return e.args.some((a) => this.varies(a));
      case 'select': return this.varies(e.cond) || this.varies(e.a) || this.varies(e.b);
      case 'vec': return e.lanes.some((a) => this.varies(a));
      default: return false;
    }
  }

  private uniformity(): void {
    // Taint to a fixed point (a var assigned late in a loop taints its earlier uses), then report.
    for (let size = -1; size !== this.varying.size; ) {
      size = this.varying.size;
      this.taint(this.kernel.body, false, 'body', false);
    }
    this.taint(this.kernel.body, false, 'body', true);
  }

  /** Marks varying locals; with `report`, flags barriers under varying control. Returns whether a break may be varying. */
  private taint(stmts: Stmt[], varyingControl: boolean, where: string, report: boolean): boolean {
    let varyingBreak = false;
    stmts.forEach((s, n) => {
      const at = `${where}[${n}]`;
      switch (s.k) {
        case 'let':
          if (this.varies(s.init)) this.varying.add(s.name);
          break;
        case 'assign':
          if (varyingControl || this.varies(s.value)) this.varying.add(s.name);
          break;
        case 'if': {
          const inner = varyingControl || this.varies(s.cond);
          varyingBreak = this.taint(s.then, inner, `${at}.then`, report) || varyingBreak;
          varyingBreak = this.taint(s.else, inner, `${at}.else`, report) || varyingBreak;
          break;
        }
        case 'for': {
          let inner = varyingControl || this.varies(s.start) || this.varies(s.end) || this.varies(s.step);
          if (inner) this.varying.add(s.name);
          if (this.taint(s.body, inner, `${at}.body`, false)) inner = true;
          if (inner) this.varying.add(s.name);
          this.taint(s.body, inner, `${at}.body`, report);
          break;
        }
        case 'break':
          varyingBreak ||= varyingControl;
          break;
        case 'barrier':
          if (report && varyingControl) this.messages.push(`warning: kernel ${this.kernel.name}: barrier in control flow that may differ between invocations of a workgroup (at ${at})`);
          break;
        default:
          break;
      }
    });
    return varyingBreak;
  }
}
