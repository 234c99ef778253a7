// The kernels every renderer test compiles or runs: the interpreter's test kernels plus one that uses
// every vec4 helper of the CUDA prelude.
import type { Kernel } from '../../src/codegen/kernel-ir/types.js';
import * as k from '../../src/codegen/kernel-ir/build.js';
import { intOps, mathOps, reduceSum, tiledMatmul, vec4Scale, vectorAdd } from '../kernel-ir/kernels.js';

/** out[i] = a mix of every vec4 op and math function on a[i] (exercises the CUDA float4 prelude). */
export function vec4Math(): Kernel {
  const a = k.buffer('a', k.vec4f), out = k.buffer('out', k.vec4f, 'read_write');
  const n4 = k.uniform('n4');
  const i = k.ref('i', k.u32), v = k.ref('v', k.vec4f), w = k.ref('w', k.vec4f);
  return {
    name: 'vec4_math',
    workgroupSize: [16, 1, 1],
    buffers: [a, out],
    params: [n4],
    shared: [k.shared('stage', k.vec4f, 16)],
    body: [
      k.let_('i', k.globalId(0)),
      k.if_(k.lt(i, k.param(n4)), [
        k.let_('v', k.load(a, i)),
        k.let_('w', k.add(k.abs(v), 0.5)),
        k.sharedStore(k.shared('stage', k.vec4f, 16), k.localId(0), k.div(k.sub(k.exp(k.neg(v)), k.tanh(v)), k.sqrt(w))),
        k.store(out, i, k.add(k.mul(k.min(k.max(k.sharedLoad(k.shared('stage', k.vec4f, 16), k.localId(0)), -4), 4), k.rsqrt(w)),
          k.add(k.add(k.log(w), k.math('pow', w, k.splat(k.f(0.5)))), k.add(k.fma(v, w, k.splat(k.f(1))), k.add(k.mod(v, 0.75), k.add(k.floor(v), k.math('ceil', v))))))),
      ]),
    ],
    grid: [k.ceilDiv(k.param(n4), 16), k.u(1), k.u(1)],
    locs: [],
  };
}

export const allKernels = (): Kernel[] => [vectorAdd(), reduceSum(), tiledMatmul(), vec4Scale(), intOps(), mathOps(), vec4Math()];
