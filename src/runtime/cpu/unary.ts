// Elementwise unary kernels: exp, log, sqrt, rsqrt, tanh, erf, sigmoid, gelu (exact erf), gelu_tanh,
// silu, neg, abs, relu, not. Math is in float64; the result array's type does the final rounding.
import type { TensorData } from '../tensor.js';
import { erf, erfc } from './erf.js';
import type { Kernel } from './kernel.js';
import { allocResult } from './kernel.js';

export type UnaryKind = 'exp' | 'log' | 'sin' | 'cos' | 'sqrt' | 'rsqrt' | 'tanh' | 'erf' | 'sigmoid' | 'gelu' | 'gelu_tanh' | 'silu' | 'neg' | 'abs' | 'relu' | 'not';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** Numerically stable logistic function: never evaluates exp of a large positive number. */
export function sigmoid(v: number): number {
  if (v >= 0) return 1 / (1 + Math.exp(-v));
  const e = Math.exp(v);
  return e / (1 + e);
}

/** y[i] = f(x[i]); one loop per kind so no closure is called per element. */
export function applyUnary(kind: UnaryKind, x: TensorData, y: TensorData): void {
  const n = x.length;
  switch (kind) {
    case 'exp': for (let i = 0; i < n; i++) y[i] = Math.exp(x[i]!); return;
    case 'log': for (let i = 0; i < n; i++) y[i] = Math.log(x[i]!); return;
    case 'sin': for (let i = 0; i < n; i++) y[i] = Math.sin(x[i]!); return;
    case 'cos': for (let i = 0; i < n; i++) y[i] = Math.cos(x[i]!); return;
    case 'sqrt': for (let i = 0; i < n; i++) y[i] = Math.sqrt(x[i]!); return;
    case 'rsqrt': for (let i = 0; i < n; i++) y[i] = 1 / Math.sqrt(x[i]!); return;
    case 'tanh': for (let i = 0; i < n; i++) y[i] = Math.tanh(x[i]!); return;
    case 'erf': for (let i = 0; i < n; i++) y[i] = erf(x[i]!); return;
    case 'sigmoid': for (let i = 0; i < n; i++) y[i] = sigmoid(x[i]!); return;
    // gelu(x) = x/2·(1 + erf(x/√2)) = x/2·erfc(-x/√2); the erfc form keeps accuracy for x ≪ 0.
    case 'gelu': for (let i = 0; i < n; i++) { const v = x[i]!; y[i] = 0.5 * v * erfc(-v * Math.SQRT1_2); } return;
    case 'gelu_tanh':
      for (let i = 0; i < n; i++) { const v = x[i]!; y[i] = 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v))); }
      return;
    case 'silu': for (let i = 0; i < n; i++) { const v = x[i]!; y[i] = v * sigmoid(v); } return;
    case 'neg': for (let i = 0; i < n; i++) y[i] = -x[i]!; return;
    case 'abs': for (let i = 0; i < n; i++) y[i] = Math.abs(x[i]!); return;
    // `v < 0 ? 0 : v` lets NaN through, as max(x, 0) does in IEEE maxNum-free implementations.
    case 'relu': for (let i = 0; i < n; i++) { const v = x[i]!; y[i] = v < 0 ? 0 : v; } return;
    case 'not': for (let i = 0; i < n; i++) y[i] = x[i] ? 0 : 1; return;
  }
}

export const unaryKernel = (kind: UnaryKind): Kernel => (op, [x], ctx) => {
  const out = allocResult(op, ctx);
  applyUnary(kind, x!.data, out.data);
  return out;
};
