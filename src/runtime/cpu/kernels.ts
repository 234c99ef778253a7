// The cpu kernel for every op of the registry in src/ir/ops.ts (a test checks none is missing).
import { attentionKernel } from './attention.js';
import { linearAttentionKernel } from './linear-attention.js';
import type { BinaryKind } from './binary.js';
import { binaryKernel } from './binary.js';
import type { Kernel } from './kernel.js';
import { matmulKernel } from './matmul.js';
import { expertMatmulKernel, moeAuxLossKernel, moeChoicesKernel, moeRouteKernel } from './moe.js';
import { layerNormKernel, rmsNormKernel, softmaxKernel } from './normalize.js';
import { reduceKernel } from './reduce.js';
import { concatKernel, gatherKernel, reshapeKernel, sliceKernel, transposeKernel } from './shape-ops.js';
import type { UnaryKind } from './unary.js';
import { unaryKernel } from './unary.js';
import { castKernel, constantKernel, iotaKernel, whereKernel } from './where-cast.js';

const UNARY: UnaryKind[] = ['exp', 'log', 'sin', 'cos', 'sqrt', 'rsqrt', 'tanh', 'erf', 'sigmoid', 'gelu', 'gelu_tanh', 'silu', 'neg', 'abs', 'relu', 'not'];
const BINARY: BinaryKind[] = ['add', 'sub', 'mul', 'div', 'pow', 'max', 'min', 'and', 'or', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'];

export const KERNELS: ReadonlyMap<string, Kernel> = new Map<string, Kernel>([
  ...UNARY.map((k): [string, Kernel] => [k, unaryKernel(k)]),
  ...BINARY.map((k): [string, Kernel] => [k, binaryKernel(k)]),
  ['where', whereKernel],
  ['cast', castKernel],
  ['constant', constantKernel],
  ['iota', iotaKernel],
  ['reshape', reshapeKernel],
  ['transpose', transposeKernel],
  ['slice', sliceKernel],
  ['concat', concatKernel],
  ['gather', gatherKernel],
  ['reduce_sum', reduceKernel('sum')],
  ['reduce_mean', reduceKernel('mean')],
  ['reduce_max', reduceKernel('max')],
  ['matmul', matmulKernel],
  ['softmax', softmaxKernel],
  ['layer_norm', layerNormKernel],
  ['rms_norm', rmsNormKernel],
  ['attention', attentionKernel],
  ['moe_route', moeRouteKernel],
  ['moe_aux_loss', moeAuxLossKernel],
  ['moe_choices', moeChoicesKernel],
  ['expert_matmul', expertMatmulKernel],
  ['linear_attention', linearAttentionKernel],
]);
