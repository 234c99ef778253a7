// Hand-built kernels shared by the interpreter, validator and renderer tests: each exercises one
// feature of kernel IR (guards, shared memory and barriers in loops, tiling, vec4, integer semantics).
import type { Kernel, Stmt } from '../../src/codegen/kernel-ir/types.js';
import * as k from '../../src/codegen/kernel-ir/build.js';

const one = k.u(1);

/** out[i] = a[i] + b[i] for i < n; 64 invocations per workgroup. */
export function vectorAdd(): Kernel {
  const a = k.buffer('a', k.f32), b = k.buffer('b', k.f32), out = k.buffer('out', k.f32, 'read_write');
  const n = k.uniform('n');
  const i = k.ref('i', k.u32);
  return {
    name: 'vector_add',
    workgroupSize: [64, 1, 1],
    buffers: [a, b, out],
    params: [n],
    shared: [],
    body: [
      k.let_('i', k.globalId(0)),
      k.if_(k.lt(i, k.param(n)), [k.store(out, i, k.add(k.load(a, i), k.load(b, i)))]),
    ],
    grid: [k.ceilDiv(k.param(n), 64), one, one],
    locs: [],
  };
}

/** partial[w] = sum of the w-th grid-stride share of x: a tree reduction in shared memory, barriers in a loop. */
export function reduceSum(): Kernel {
  const x = k.buffer('x', k.f32), partial = k.buffer('partial', k.f32, 'read_write');
  const n = k.uniform('n');
  const sums = k.shared('sums', k.f32, 64);
  const lid = k.localId(0);
  const i = k.ref('i', k.u32), acc = k.ref('acc', k.f32), s = k.ref('s', k.u32), t = k.ref('t', k.u32);
  return {
    name: 'reduce_sum',
    workgroupSize: [64, 1, 1],
    buffers: [x, partial],
    params: [n],
    shared: [sums],
    body: [
      k.var_('acc', k.f(0)),
      k.for_('i', k.globalId(0), k.param(n), [k.assign('acc', k.add(acc, k.load(x, i)))], k.mul(k.numWorkgroups(0), 64)),
      k.sharedStore(sums, lid, acc),
      k.barrier(),
      k.comment('halve the active invocations each step: 32, 16, ..., 1'),
      k.for_('t', k.u(0), 6, [
        k.let_('s', k.bin('>>', k.u(32), t)),
        k.if_(k.lt(lid, s), [k.sharedStore(sums, lid, k.add(k.sharedLoad(sums, lid), k.sharedLoad(sums, k.add(lid, s))))]),
        k.barrier(),
      ]),
      k.if_(k.eq(lid, 0), [k.store(partial, k.workgroupId(0), k.sharedLoad(sums, k.u(0)))]),
    ],
    grid: [k.min(k.ceilDiv(k.param(n), 64), 8), one, one],
    locs: [],
  };
}

/** c[m, n] = sum_k a[m, k] b[k, n] with 16x16 tiles in shared memory; barriers inside the k-loop. */
export function tiledMatmul(): Kernel {
  const T = 16;
  const a = k.buffer('a', k.f32), b = k.buffer('b', k.f32), c = k.buffer('c', k.f32, 'read_write');
  const [M, N, K] = [k.uniform('M'), k.uniform('N'), k.uniform('K')];
  const tileA = k.shared('tile_a', k.f32, T * T), tileB = k.shared('tile_b', k.f32, T * T);
  const [lx, ly] = [k.localId(0), k.localId(1)];
  const row = k.ref('row', k.u32), col = k.ref('col', k.u32), acc = k.ref('acc', k.f32);
  const t = k.ref('t', k.u32), kk = k.ref('kk', k.u32), ka = k.ref('ka', k.u32), kb = k.ref('kb', k.u32);
  const loadTile = (name: string, inBounds: ReturnType<typeof k.and>, value: ReturnType<typeof k.load>, tile: typeof tileA): Stmt[] => [
    k.var_(name, k.f(0)),
    k.if_(inBounds, [k.assign(name, value)]),
    k.sharedStore(tile, k.add(k.mul(ly, T), lx), k.ref(name, k.f32)),
  ];
  return {
    name: 'matmul_tiled_16',
    workgroupSize: [T, T, 1],
    buffers: [a, b, c],
    params: [M, N, K],
    shared: [tileA, tileB],
    body: [
      k.let_('row', k.globalId(1)),
      k.let_('col', k.globalId(0)),
      k.var_('acc', k.f(0)),
      k.for_('t', k.u(0), k.ceilDiv(k.param(K), T), [
        k.let_('ka', k.add(k.mul(t, T), lx)),
        k.let_('kb', k.add(k.mul(t, T), ly)),
        ...loadTile('va', k.and(k.lt(row, k.param(M)), k.lt(ka, k.param(K))), k.load(a, k.add(k.mul(row, k.param(K)), ka)), tileA),
        ...loadTile('vb', k.and(k.lt(kb, k.param(K)), k.lt(col, k.param(N))), k.load(b, k.add(k.mul(kb, k.param(N)), col)), tileB),
        k.barrier(),
        k.for_('kk', k.u(0), T, [
          k.assign('acc', k.fma(k.sharedLoad(tileA, k.add(k.mul(ly, T), kk)), k.sharedLoad(tileB, k.add(k.mul(kk, T), lx)), acc)),
        ]),
        k.barrier(),
      ]),
      k.if_(k.and(k.lt(row, k.param(M)), k.lt(col, k.param(N))), [k.store(c, k.add(k.mul(row, k.param(N)), col), acc)]),
    ],
    grid: [k.ceilDiv(k.param(N), T), k.ceilDiv(k.param(M), T), one],
    locs: [],
  };
}

/** out[i] = a[i] * scale + (1, 2, 3, 4), and lanes[i] = a[i].y - a[i].w, four floats at a time. */
export function vec4Scale(): Kernel {
  const a = k.buffer('a', k.vec4f), out = k.buffer('out', k.vec4f, 'read_write'), lanes = k.buffer('lanes', k.f32, 'read_write');
  const n4 = k.uniform('n4'), scale = k.uniform('scale', k.f32);
  const i = k.ref('i', k.u32), v = k.ref('v', k.vec4f);
  return {
    name: 'vec4_scale',
    workgroupSize: [32, 1, 1],
    buffers: [a, out, lanes],
    params: [n4, scale],
    shared: [],
    body: [
      k.let_('i', k.globalId(0)),
      k.if_(k.lt(i, k.param(n4)), [
        k.let_('v', k.load(a, i)),
        k.store(out, i, k.add(k.mul(v, k.param(scale)), k.vec4(1, 2, 3, 4))),
        k.store(lanes, i, k.sub(k.lane(v, 1), k.lane(v, 3))),
      ]),
    ],
    grid: [k.ceilDiv(k.param(n4), 32), one, one],
    locs: [],
  };
}

/** Number of results intOps writes per element. */
export const INT_OPS = 16;

/** For each i: i32 and u32 arithmetic of a[i], b[i] (wrap, / and % signs and by zero, shifts, casts). */
export function intOps(): Kernel {
  const a = k.buffer('a', k.i32), b = k.buffer('b', k.i32), x = k.buffer('x', k.f32);
  const outI = k.buffer('out_i', k.i32, 'read_write'), outU = k.buffer('out_u', k.u32, 'read_write');
  const n = k.uniform('n');
  const i = k.ref('i', k.u32), p = k.ref('p', k.i32), q = k.ref('q', k.i32), up = k.ref('up', k.u32), uq = k.ref('uq', k.u32), fx = k.ref('fx', k.f32);
  const at = (slot: number) => k.add(k.mul(i, INT_OPS), slot);
  const ints = [k.add(p, q), k.sub(p, q), k.mul(p, q), k.div(p, q), k.mod(p, q), k.bin('<<', p, q), k.bin('>>', p, q), k.min(p, q),
    k.bin('^', p, q), k.neg(p), k.abs(p), k.toI32(fx), k.toI32(k.lt(p, q)), k.bitcast(k.i32, fx), k.bin('<<', p, k.i(33)), k.max(p, k.i(-7))];
  const uints = [k.add(up, uq), k.sub(up, uq), k.mul(up, uq), k.div(up, uq), k.mod(up, uq), k.bin('<<', up, uq), k.bin('>>', up, uq), k.min(up, uq),
    k.bin('|', k.bin('&', up, k.u(0xff00ff00)), uq), k.toU32(fx), k.bitcast(k.u32, fx), k.toU32(k.toF32(p)), k.bitcast(k.u32, k.toF32(up)), k.bin('>>', up, k.u(35)), k.max(up, uq), k.toU32(k.ge(fx, k.f(0.5)))];
  return {
    name: 'int_ops',
    workgroupSize: [8, 1, 1],
    buffers: [a, b, x, outI, outU],
    params: [n],
    shared: [],
    body: [
      k.let_('i', k.globalId(0)),
      k.if_(k.lt(i, k.param(n)), [
        k.let_('p', k.load(a, i)),
        k.let_('q', k.load(b, i)),
        k.let_('up', k.toU32(p)),
        k.let_('uq', k.toU32(q)),
        k.let_('fx', k.load(x, i)),
        ...ints.map((e, slot) => k.store(outI, at(slot), e)),
        ...uints.map((e, slot) => k.store(outU, at(slot), e)),
      ]),
    ],
    grid: [k.ceilDiv(k.param(n), 8), one, one],
    locs: [],
  };
}

/** out[i] = gelu-ish math on x[i]: exp, tanh, sqrt, inverse_sqrt, pow, select, and an infinity via bitcast. */
export function mathOps(): Kernel {
  const x = k.buffer('x', k.f32), out = k.buffer('out', k.f32, 'read_write');
  const n = k.uniform('n');
  const i = k.ref('i', k.u32), v = k.ref('v', k.f32);
  const results = [k.exp(v), k.tanh(v), k.sqrt(k.abs(v)), k.rsqrt(k.add(k.abs(v), 1)), k.math('pow', k.abs(v), k.f(1.5)), k.log(k.add(k.abs(v), 0.1)),
    k.floor(v), k.math('ceil', v), k.mod(v, k.f(0.75)), k.div(v, k.f(3)), k.select(k.gt(v, 0), v, k.mul(v, 0.01)), k.min(v, k.infinity(1)), k.max(v, k.infinity(-1)),
    k.fma(v, v, k.f(-0.1)), k.math('sin', v), k.math('cos', v)];
  return {
    name: 'math_ops',
    workgroupSize: [16, 1, 1],
    buffers: [x, out],
    params: [n],
    shared: [],
    body: [
      k.let_('i', k.globalId(0)),
      k.if_(k.lt(i, k.param(n)), [k.let_('v', k.load(x, i)), ...results.map((e, slot) => k.store(out, k.add(k.mul(i, results.length), slot), e))]),
    ],
    grid: [k.ceilDiv(k.param(n), 16), one, one],
    locs: [],
  };
}
export const MATH_OPS = 16;
