// Attention mask predicates and score biases (MaskExpr, src/ir/mask.ts) in kernel IR, with evalMask's
// semantics: integer `/` truncates and `%` takes the dividend's sign, x / 0 = x % 0 = 0; comparisons
// and `&`, `|`, `!` give 0/1. A node is i32, bool, or f32 (a read of a float tensor, which only a bias
// does; arithmetic with an f32 operand is f32). T5 buckets use integer thresholds, never a float log.
import type { Dim } from '../../ir/dim.js';
import type { MaskExpr, MaskVar } from '../../ir/mask.js';
import type { Expr } from '../kernel-ir/types.js';
import * as k from '../kernel-ir/build.js';
import { i32Domain, safeDivision, t5BucketOf } from './mask-tiles.js';

/** What a mask expression refers to in a kernel. */
export interface MaskEnv {
  /** b, h, q, k as i32. */
  vars: Record<MaskVar, Expr>;
  /** Element of operand `operand` at i32 `indices`: i32 for integer and bool tensors (0/1), f32 for float ones. */
  read(operand: number, indices: Expr[]): Expr;
  /** The value of a dimension expression (a launch parameter), as i32. */
  dim(d: Dim): Expr;
}

/** `m` as an i32 (integer use), bool (predicate use) or f32 (a score bias). */
export function emitMask(m: MaskExpr, env: MaskEnv, want: 'int' | 'bool' | 'f32'): Expr {
  return coerce(emitRaw(m, env), want);
}

function coerce(e: Expr, want: 'int' | 'bool' | 'f32'): Expr {
  const s = e.type.scalar;
  if (want === 'bool') return s === 'bool' ? e : k.ne(e, s === 'f32' ? k.f(0) : k.i(0));
  if (want === 'int') return s === 'bool' ? k.select(e, k.i(1), k.i(0)) : s === 'f32' ? k.toI32(e) : e;
  return s === 'bool' ? k.select(e, k.f(1), k.f(0)) : s === 'i32' ? k.toF32(e) : e;
}

const isFloat = (e: Expr): boolean => e.type.scalar === 'f32';
/** Truncation toward zero (what evalMask's Math.trunc does to a float quotient). */
const trunc = (x: Expr): Expr => k.select(k.lt(x, k.f(0)), k.ceil(x), k.floor(x));

function emitRaw(m: MaskExpr, env: MaskEnv): Expr {
  const as = (x: MaskExpr, want: 'int' | 'bool' | 'f32') => emitMask(x, env, want);
  switch (m.kind) {
    case 'const':
      if (m.bool) return k.lit(k.bool, m.value);
      return Number.isInteger(m.value) ? k.i(m.value) : k.f(m.value);
    case 'var': return env.vars[m.name];
    case 'dim': return env.dim(m.dim);
    case 'read': return env.read(m.operand, m.indices.map((x) => as(x, 'int')));
    case 'not': return k.not(as(m.operand, 'bool'));
    case 't5_bucket': return t5BucketOf(i32Domain, as(m.rel, 'int'), m);
    case 'binary': {
      if (m.op === '&') return k.and(as(m.left, 'bool'), as(m.right, 'bool'));
      if (m.op === '|') return k.or(as(m.left, 'bool'), as(m.right, 'bool'));
      const l = emitRaw(m.left, env), r = emitRaw(m.right, env);
      const type = isFloat(l) || isFloat(r) ? 'f32' : 'int';
      const a = coerce(l, type), b = coerce(r, type);
      if (m.op === '/' || m.op === '%') {
        if (type === 'int') return safeDivision(m.op, a, b);
        const zero = k.eq(b, k.f(0));
        return k.select(zero, k.f(0), m.op === '/' ? trunc(k.div(a, b)) : k.mod(a, b));
      }
      return k.bin(m.op, a, b);
    }
  }
}
