// Fused elementwise expressions (the type lives in src/ir/fused.ts: fused ops carry them in the graph
// IR), shared by every template that fuses (elementwise kernels, norm prologues, matmul epilogues).
// `emitFused` turns one into kernel IR; how a leaf is loaded is the template's business (a callback), since only the
// template knows its indexing. Math that a target lacks (erf) is built here once, from exp.
import type { Expr } from '../kernel-ir/types.js';
import * as k from '../kernel-ir/build.js';
import type { FusedExpr, FusedLeaf } from '../../ir/fused.js';

export type { FusedExpr, FusedLeaf } from '../../ir/fused.js';
export { FUSABLE_OPS } from '../../ir/fused.js';

/**
 * Kernel IR for `e`. `leaf` loads an input or gives the accumulator; the result is f32, i32 or bool
 * scalar (or vec4 when the leaves are vec4 and the ops allow it).
 */
export function emitFused(e: FusedExpr, leaf: (l: FusedLeaf & { kind: 'input' | 'acc' | 'gather' | 'iota' }) => Expr): Expr {
  switch (e.kind) {
    case 'input':
    case 'acc':
    case 'gather':
    case 'iota':
      return leaf(e);
    case 'const':
      return e.dtype === 'f32' ? k.f(e.value) : e.dtype === 'i32' ? k.i(e.value) : k.lit(k.bool, e.value);
    case 'op': {
      const a = e.args.map((x) => emitFused(x, leaf));
      return applyOp(e.op, a, e.to);
    }
  }
}

/** One elementwise graph op in kernel IR. */
export function applyOp(op: string, a: Expr[], to?: 'f32' | 'i32' | 'bool'): Expr {
  const [x, y, z] = a as [Expr, Expr, Expr];
  switch (op) {
    case 'add': return k.add(x, y);
    case 'sub': return k.sub(x, y);
    case 'mul': return k.mul(x, y);
    // Integer x/0 is 0, as in the CPU reference (WGSL would give x).
    case 'div': return x.type.scalar === 'i32' ? k.select(k.eq(y, 0), k.i(0), k.div(x, y)) : k.div(x, y);
    // WGSL's pow is NaN for a negative base; the graph's pow is Math.pow. Integer pow goes through f32 (exact below 2^24).
    case 'pow': return x.type.scalar === 'i32' ? k.toI32(k.math('pow', k.toF32(x), k.toF32(y))) : k.math('pow', x, y);
    case 'max': return k.max(x, y);
    case 'min': return k.min(x, y);
    case 'neg': return k.neg(x);
    case 'abs': return k.abs(x);
    case 'exp': return k.exp(x);
    case 'log': return k.log(x);
    case 'sin': return k.math('sin', reduceTurns(x));
    case 'cos': return k.math('cos', reduceTurns(x));
    case 'sqrt': return k.sqrt(x);
    case 'rsqrt': return k.rsqrt(x);
    case 'tanh': return tanh(x);
    case 'erf': return erf(x);
    case 'sigmoid': return sigmoid(x);
    case 'relu': return k.max(x, 0);
    case 'gelu': return k.mul(k.mul(x, 0.5), k.add(erf(k.mul(x, Math.SQRT1_2)), 1));
    case 'gelu_tanh': {
      // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
      const inner = k.mul(k.add(x, k.mul(k.mul(k.mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
      return k.mul(k.mul(x, 0.5), k.add(tanh(inner), 1));
    }
    case 'silu': return k.mul(x, sigmoid(x));
    case 'and': return k.and(x, y);
    case 'or': return k.or(x, y);
    case 'not': return k.not(x);
    case 'eq': return k.eq(x, y);
    case 'ne': return k.ne(x, y);
    case 'lt': return k.lt(x, y);
    case 'le': return k.le(x, y);
    case 'gt': return k.gt(x, y);
    case 'ge': return k.ge(x, y);
    case 'where': return k.select(x, y, z);
    case 'cast': return k.cast(to === 'i32' ? k.i32 : to === 'bool' ? k.bool : k.f32, x.type.scalar === 'bool' && to === 'f32' ? k.select(x, k.f(1), k.f(0)) : x);
    default: throw new Error(`kernel IR: '${op}' is not an elementwise op`);
  }
}

/**
 * x - n·2π with n = round(x / 2π), so sin and cos see |r| <= π (plus rounding): WGSL bounds their
 * error only on [-π, π] (2^-11 absolute; a GPU's fast sine loses accuracy with |x|), and position
 * angles reach thousands. Cody–Waite: 2π = C1 + C2 + C3 with C1 (8 significant bits) and C2 (12)
 * short enough that n·C1 and n·C2 are exact in f32 for |n| < 4096, i.e. |x| < 25700.
 */
const TWO_PI_PARTS = [6.28125, 1.93500518798828125e-3, 3.019916050561733e-7] as const;
function reduceTurns(x: Expr): Expr {
  const n = k.floor(k.add(k.mul(x, 1 / (2 * Math.PI)), 0.5));
  return TWO_PI_PARTS.reduce((r, c) => k.sub(r, k.mul(n, c)), x);
}

/** 1 / (1 + exp(-x)), written to stay finite for large |x|. */
function sigmoid(x: Expr): Expr {
  return k.div(1, k.add(k.exp(k.neg(x)), 1));
}

/**
 * tanh that stays finite: some targets compute tanh(x) as (e^2x - 1)/(e^2x + 1), which is inf/inf
 * for x > 44; |tanh(x)| rounds to 1 in f32 beyond |x| = 9.01, so clamping there changes nothing.
 */
function tanh(x: Expr): Expr {
  return k.tanh(k.min(k.max(x, -10), 10));
}

/**
 * erf(x) with |error| < 1.2e-7 (Numerical Recipes' erfc Chebyshev fit, W. H. Press et al., §6.2),
 * from exp only, so WGSL and CUDA compute the same thing. erf(x) = 1 - erfc(|x|) for x >= 0.
 */
export function erf(x: Expr): Expr {
  const z = k.abs(x);
  const t = k.div(1, k.add(k.mul(z, 0.5), 1));
  const coefficients = [-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277];
  // Horner: c0 + t (c1 + t (c2 + ...))
  let poly: Expr = k.f(coefficients[coefficients.length - 1]!);
  for (let n = coefficients.length - 2; n >= 0; n--) poly = k.add(k.mul(poly, t), coefficients[n]!);
  const erfc = k.mul(t, k.exp(k.sub(poly, k.mul(z, z))));
  const positive = k.sub(1, erfc);
  return k.select(k.ge(x, 0), positive, k.neg(positive));
}
