// The printer shared by the WGSL and CUDA renderers: statements, expressions with the fewest
// parentheses their precedence allows, indentation and names. A target is a table of `Spellings`; it
// decides nothing, and the printer never asks which target it prints for.
import type { BinaryOp, Builtin, Expr, Kernel, KType, MathFn, ScalarType, Stmt } from '../kernel-ir/types.js';
import { assertValidKernel } from '../kernel-ir/validate.js';

/** Printed expression text and the precedence of its outermost operator (higher binds tighter). */
export interface Printed {
  text: string;
  prec: number;
  /** The outermost binary operator, so `a & b & c` chains without parentheses. */
  op?: BinaryOp;
}

export const PREC = { top: 0, ternary: 3, or: 4, and: 5, bitOr: 6, bitXor: 7, bitAnd: 8, compare: 9, shift: 11, add: 12, mul: 13, unary: 15, postfix: 16 };

const BINARY_PREC: Partial<Record<BinaryOp, number>> = {
  '||': PREC.or, '&&': PREC.and, '|': PREC.bitOr, '^': PREC.bitXor, '&': PREC.bitAnd,
  '<': PREC.compare, '<=': PREC.compare, '>': PREC.compare, '>=': PREC.compare, '==': PREC.compare, '!=': PREC.compare,
  '<<': PREC.shift, '>>': PREC.shift, '+': PREC.add, '-': PREC.add, '*': PREC.mul, '/': PREC.mul, '%': PREC.mul,
};

/** Sanitized names of the kernel's buffers, params and shared arrays, index for index. */
export interface KernelNames {
  buffers: string[];
  params: string[];
  shared: string[];
}

/** How one target spells each construct. Functions get operands already printed. */
export interface Spellings {
  /** Identifiers a kernel may not use: keywords, builtin functions, names the header declares. */
  reserved: ReadonlySet<string>;
  type(t: KType): string;
  /** A scalar constant (finite; infinities are bitcasts). */
  literal(value: number, scalar: ScalarType): Printed;
  builtin(name: Builtin, axis: 0 | 1 | 2): Printed;
  param(name: string): Printed;
  /** The function a binary op is spelled as on this type (min, fminf, fmodf), or undefined for the infix operator. */
  binaryFunction(op: BinaryOp, t: KType): string | undefined;
  /** Whether the target itself masks a non-constant shift count by 31 (WGSL) or needs `& 31` printed (C). */
  masksShiftCount: boolean;
  /** The type a shift count must have (WGSL: u32); undefined for the shifted value's type. */
  shiftCountType?: ScalarType;
  math(fn: MathFn, t: KType): string;
  cast(to: KType, from: KType, a: Printed): Printed;
  bitcast(to: KType, from: KType, a: Printed): Printed;
  /** vec4 from 4 lanes, or splatted from 1. */
  vec(lanes: string[]): Printed;
  select(cond: Printed, a: Printed, b: Printed): Printed;
  declare(name: string, t: KType, init: string, mutable: boolean): string;
  forHeader(name: string, t: KType, start: string, condition: string, step: string): string;
  barrier: string;
  /** The translation unit around the body: bindings, shared arrays, entry point. Body lines come indented once. */
  kernel(kernel: Kernel, names: KernelNames, body: string[]): string;
}

export const INDENT = '  ';
const LANES = ['x', 'y', 'z', 'w'] as const;

/** `p` as an operand that must bind at least as tightly as `min`. */
export function wrap(p: Printed, min: number): string {
  return p.prec < min ? `(${p.text})` : p.text;
}

export const call = (fn: string, args: Printed[]): Printed => ({ text: `${fn}(${args.map((a) => a.text).join(', ')})`, prec: PREC.postfix });
export const atom = (text: string): Printed => ({ text, prec: PREC.postfix });

/** Shortest decimal that reads back as exactly the f32 `value` (`0.1`, `1.0`, `1e-7`, `-0.0`). */
export function f32Decimal(value: number): string {
  if (Object.is(value, -0)) return '-0.0';
  if (!Number.isFinite(value)) throw new Error(`render: ${value} has no f32 literal (use a bitcast)`);
  for (let digits = 1; digits <= 9; digits++) {
    const d = Number(value.toPrecision(digits));
    // A decimal that lands on a midpoint between two floats in double may round either way in a compiler.
    if (Math.fround(d) === value && (d === value || !isF32Midpoint(d))) return withPoint(String(d));
  }
  return withPoint(String(value));
}

function isF32Midpoint(d: number): boolean {
  const v = Math.fround(d);
  const bits = new Float32Array([v]);
  const u = new Int32Array(bits.buffer);
  u[0]! += (d > v) === (v >= 0) ? 1 : -1;
  return (v + bits[0]!) / 2 === d;
}

const withPoint = (s: string): string => (/[.e]/.test(s) ? s : `${s}.0`);

// ---- names -------------------------------------------------------------------------------------------

class NameTable {
  private readonly used = new Set<string>();
  constructor(private readonly reserved: ReadonlySet<string>) {}

  /** A fresh identifier like `name`, valid in C and WGSL and distinct from every other given out. */
  fresh(name: string): string {
    let base = name.replace(/[^A-Za-z0-9_]/g, '_').replace(/^_+/, '');
    if (!base || /^[0-9]/.test(base)) base = `v_${base}`;
    let candidate = base;
    for (let n = 1; this.used.has(candidate) || this.reserved.has(candidate); n++) candidate = `${base}_${n}`;
    this.used.add(candidate);
    return candidate;
  }
}

// ---- the printer -------------------------------------------------------------------------------------

/** The kernel's source in the target `spell` describes. Throws if the kernel is not valid. */
export function printKernel(kernel: Kernel, spell: Spellings): string {
  assertValidKernel(kernel);
  return new Printer(kernel, spell).print();
}

class Printer {
  private readonly table: NameTable;
  private readonly names: KernelNames;
  private readonly scopes: Map<string, string>[] = [];
  private readonly lines: string[] = [];

  constructor(private readonly kernel: Kernel, private readonly spell: Spellings) {
    this.table = new NameTable(spell.reserved);
    this.names = {
      buffers: kernel.buffers.map((b) => this.table.fresh(b.name)),
      params: kernel.params.map((p) => this.table.fresh(p.name)),
      shared: kernel.shared.map((s) => this.table.fresh(s.name)),
    };
  }

  print(): string {
    this.block(this.kernel.body, 1);
    return this.spell.kernel(this.kernel, this.names, this.lines);
  }

  private emit(depth: number, text: string): void {
    this.lines.push(INDENT.repeat(depth - 1) + text);
  }

  private block(stmts: Stmt[], depth: number, scope = new Map<string, string>()): void {
    this.scopes.push(scope);
    for (const s of stmts) this.stmt(s, depth);
    this.scopes.pop();
  }

  private local(name: string): string {
    for (let n = this.scopes.length - 1; n >= 0; n--) {
      const printed = this.scopes[n]!.get(name);
      if (printed) return printed;
    }
    throw new Error(`render: kernel ${this.kernel.name}: unknown variable '${name}'`);
  }

  private stmt(s: Stmt, depth: number): void {
    const sp = this.spell;
    switch (s.k) {
      case 'let': {
        const init = this.expr(s.init).text;
        const name = this.table.fresh(s.name);
        this.scopes[this.scopes.length - 1]!.set(s.name, name);
        return this.emit(depth, sp.declare(name, s.type, init, s.mutable));
      }
      case 'assign':
        return this.emit(depth, `${this.local(s.name)} = ${this.expr(s.value).text};`);
      case 'store':
        return this.emit(depth, `${this.bufferName(s.buffer)}[${this.expr(s.index).text}] = ${this.expr(s.value).text};`);
      case 'shared_store':
        return this.emit(depth, `${this.sharedName(s.name)}[${this.expr(s.index).text}] = ${this.expr(s.value).text};`);
      case 'if': {
        this.emit(depth, `if (${this.expr(s.cond).text}) {`);
        this.block(s.then, depth + 1);
        let otherwise = s.else;
        // `else if` chains read as written instead of nesting one level per branch.
        while (otherwise.length === 1 && otherwise[0]!.k === 'if') {
          const next: Extract<Stmt, { k: 'if' }> = otherwise[0];
          this.emit(depth, `} else if (${this.expr(next.cond).text}) {`);
          this.block(next.then, depth + 1);
          otherwise = next.else;
        }
        if (otherwise.length) {
          this.emit(depth, '} else {');
          this.block(otherwise, depth + 1);
        }
        return this.emit(depth, '}');
      }
      case 'for': {
        const start = this.expr(s.start).text;
        const scope = new Map<string, string>();
        const name = this.table.fresh(s.name);
        scope.set(s.name, name);
        this.scopes.push(scope);
        const condition = `${name} < ${wrap(this.expr(s.end), PREC.compare + 1)}`;
        const step = this.expr(s.step).text;
        this.scopes.pop();
        this.emit(depth, sp.forHeader(name, s.type, start, condition, step));
        this.block(s.body, depth + 1, scope);
        return this.emit(depth, '}');
      }
      case 'break':
        return this.emit(depth, 'break;');
      case 'barrier':
        return this.emit(depth, sp.barrier);
      case 'comment':
        for (const line of s.text.split('\n')) this.emit(depth, `// ${line}`.trimEnd());
        return;
    }
  }

  private bufferName(name: string): string {
    return this.names.buffers[this.kernel.buffers.findIndex((b) => b.name === name)]!;
  }

  private sharedName(name: string): string {
    return this.names.shared[this.kernel.shared.findIndex((b) => b.name === name)]!;
  }

  expr(e: Expr): Printed {
    const sp = this.spell;
    switch (e.k) {
      case 'const':
        return sp.literal(e.value, e.type.scalar);
      case 'var':
        return atom(this.local(e.name));
      case 'param':
        return sp.param(this.names.params[this.kernel.params.findIndex((p) => p.name === e.name)]!);
      case 'builtin':
        return sp.builtin(e.name, e.axis);
      case 'load':
        return atom(`${this.bufferName(e.buffer)}[${this.expr(e.index).text}]`);
      case 'shared_load':
        return atom(`${this.sharedName(e.name)}[${this.expr(e.index).text}]`);
      case 'binary':
        return this.binary(e.op, e.a, e.b);
      case 'unary': {
        const a = this.expr(e.a);
        const operand = wrap(a, PREC.unary);
        // `- -x` would lex as a decrement
        return { text: e.op + (operand.startsWith(e.op) ? `(${operand})` : operand), prec: PREC.unary };
      }
      case 'math':
        return call(sp.math(e.fn, e.type), e.args.map((a) => this.expr(a)));
      case 'select':
        return sp.select(this.expr(e.cond), this.expr(e.a), this.expr(e.b));
      case 'cast':
        return sp.cast(e.type, e.a.type, this.expr(e.a));
      case 'bitcast':
        return sp.bitcast(e.type, e.a.type, this.expr(e.a));
      case 'vec':
        return sp.vec(e.lanes.map((l) => this.expr(l).text));
      case 'lane':
        return atom(`${wrap(this.expr(e.a), PREC.postfix)}.${LANES[e.lane]}`);
    }
  }

  private binary(op: BinaryOp, ea: Expr, eb: Expr): Printed {
    const fn = this.spell.binaryFunction(op, ea.type);
    if (op === '<<' || op === '>>') eb = this.shiftCount(eb);
    const a = this.expr(ea), b = this.expr(eb);
    if (fn) return call(fn, [a, b]);
    const prec = BINARY_PREC[op]!;
    const text = `${this.operand(a, op, prec, true)} ${op} ${this.operand(b, op, prec, false)}`;
    return { text, prec, op };
  }

  /**
   * Parenthesizes an operand where precedence needs it, and also where WGSL's grammar does (operands of
   * bitwise operators and shifts are unary expressions; `&&` and `||` do not mix; comparisons do not chain),
   * which is where C compilers warn about precedence anyway.
   */
  private operand(p: Printed, op: BinaryOp, prec: number, left: boolean): string {
    const chains = left && p.op === op;
    if (prec >= PREC.bitOr && prec <= PREC.bitAnd || op === '<<' || op === '>>') return chains && op !== '<<' && op !== '>>' ? p.text : wrap(p, PREC.unary);
    if (op === '&&' || op === '||') return chains ? p.text : wrap(p, PREC.compare);
    if (prec === PREC.compare) return wrap(p, PREC.compare + 1);
    return wrap(p, left ? prec : prec + 1);
  }

  /** The shift count with IR semantics (masked by 31), in the type the target wants. */
  private shiftCount(count: Expr): Expr {
    const scalar = this.spell.shiftCountType ?? count.type.scalar;
    const type: KType = { scalar, lanes: 1 };
    if (count.k === 'const') return { k: 'const', type, value: count.value & 31 };
    const masked: Expr = this.spell.masksShiftCount ? count : { k: 'binary', type: count.type, op: '&', a: count, b: { k: 'const', type: count.type, value: 31 } };
    return scalar === count.type.scalar ? masked : { k: 'cast', type, a: masked };
  }
}
