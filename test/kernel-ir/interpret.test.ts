// The kernel IR interpreter against plain JS references: grids and guards, barriers in loops, tiles,
// vec4, integer semantics (checked with BigInt), and the faults it must catch.
import { describe, expect, test } from 'vitest';
import type { Kernel } from '../../src/codegen/kernel-ir/types.js';
import * as k from '../../src/codegen/kernel-ir/build.js';
import { evalGrid, runKernel } from '../../src/codegen/kernel-ir/interpret.js';
import { INT_OPS, intOps, MATH_OPS, mathOps, reduceSum, tiledMatmul, vec4Scale, vectorAdd } from './kernels.js';

/** Deterministic pseudo-random floats in [-1, 1). */
export function randomFloats(n: number, seed = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let j = 0; j < n; j++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[j] = s / 2 ** 31 - 1;
  }
  return out;
}

describe('runKernel', () => {
  test('vector add over a grid with a bounds guard', () => {
    const n = 1000;
    const a = randomFloats(n, 1), b = randomFloats(n, 2), out = new Float32Array(n);
    const stats = runKernel(vectorAdd(), { buffers: { a, b, out }, params: { n } });
    expect(stats).toEqual({ workgroups: 16, invocations: 1024 });
    for (let j = 0; j < n; j++) expect(out[j]).toBe(Math.fround(a[j]! + b[j]!));
  });

  test('evalGrid evaluates the grid expressions with the params', () => {
    expect(evalGrid(tiledMatmul(), { M: 33, N: 64, K: 7 })).toEqual([4, 3, 1]);
    expect(evalGrid(reduceSum(), { n: 100000 })).toEqual([8, 1, 1]);
  });

  test('workgroup tree reduction: shared memory, barriers inside a loop', () => {
    const n = 5000;
    const x = Float32Array.from({ length: n }, (_, j) => (j % 17) - 8); // small integers: sums are exact
    const partial = new Float32Array(8);
    runKernel(reduceSum(), { buffers: { x, partial }, params: { n } });
    const expected = new Array(8).fill(0);
    for (let j = 0; j < n; j++) expected[Math.floor((j % 512) / 64)] += x[j]!;
    expect([...partial]).toEqual(expected);
  });

  test('tiled matmul with barriers in the k-loop, sizes not multiples of the tile', () => {
    const [M, N, K] = [37, 29, 21];
    const a = randomFloats(M * K, 3), b = randomFloats(K * N, 4), c = new Float32Array(M * N);
    runKernel(tiledMatmul(), { buffers: { a, b, c }, params: { M, N, K } });
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let acc = 0, exact = 0;
        for (let j = 0; j < K; j++) {
          acc = Math.fround(a[m * K + j]! * b[j * N + n]! + acc); // the kernel's order, rounded per fma
          exact += a[m * K + j]! * b[j * N + n]!;
        }
        expect(c[m * N + n]).toBe(acc);
        expect(Math.abs(c[m * N + n]! - exact)).toBeLessThan(1e-5);
      }
    }
  });

  test('a 64x64x64 tiled matmul interprets in well under a second', () => {
    const a = randomFloats(64 * 64, 5), b = randomFloats(64 * 64, 6), c = new Float32Array(64 * 64);
    const kernel = tiledMatmul();
    const times = [0, 1, 2, 3].map(() => {
      const start = performance.now();
      runKernel(kernel, { buffers: { a, b, c }, params: { M: 64, N: 64, K: 64 } });
      return performance.now() - start;
    });
    const ms = Math.min(...times.slice(1)); // the first run compiles and warms up
    console.log(`64x64x64 tiled matmul: ${ms.toFixed(1)} ms (with race checks)`);
    expect(ms).toBeLessThan(500);
  });

  test('vec4 loads, arithmetic, lanes and stores', () => {
    const n4 = 10;
    const a = randomFloats(4 * n4, 7), out = new Float32Array(4 * n4), lanes = new Float32Array(n4);
    runKernel(vec4Scale(), { buffers: { a, out, lanes }, params: { n4, scale: 0.5 } });
    for (let j = 0; j < 4 * n4; j++) expect(out[j]).toBe(Math.fround(Math.fround(a[j]! * 0.5) + (j % 4) + 1));
    for (let j = 0; j < n4; j++) expect(lanes[j]).toBe(Math.fround(a[4 * j + 1]! - a[4 * j + 3]!));
  });

  test('integer semantics: wrap, / and % signs, division by zero, shifts, casts (BigInt reference)', () => {
    const a = Int32Array.from([7, -7, 7, -7, -2147483648, 5, 2147483647, 3, -1, 123456789, 0, -5]);
    const b = Int32Array.from([2, 2, -2, -2, -1, 0, 1, 35, 31, 987654321, 0, 32]);
    const x = Float32Array.from([2.9, -2.9, 3e9, -3e9, NaN, 0.5, 1e10, -0.75, 4294967040, 2147483520, -2147483904, 0.49]);
    const n = a.length;
    const outI = new Int32Array(n * INT_OPS), outU = new Uint32Array(n * INT_OPS);
    runKernel(intOps(), { buffers: { a, b, x, out_i: outI, out_u: outU }, params: { n } });
    const i32 = (v: bigint) => Number(BigInt.asIntN(32, v)), u32 = (v: bigint) => Number(BigInt.asUintN(32, v));
    const f32Bits = (v: number) => new Uint32Array(Float32Array.of(v).buffer)[0]!;
    const trunc = (v: number, lo: number, hi: number) => (Number.isNaN(v) ? 0 : Math.min(hi, Math.max(lo, Math.trunc(v))) || 0);
    for (let j = 0; j < n; j++) {
      const p = BigInt(a[j]!), q = BigInt(b[j]!), up = BigInt.asUintN(32, p), uq = BigInt.asUintN(32, q), f = x[j]!;
      const shift = BigInt(b[j]! & 31);
      const ints = [i32(p + q), i32(p - q), i32(p * q), q === 0n ? a[j] : i32(p / q), q === 0n ? 0 : i32(p % q), i32(p << shift), i32(p >> shift),
        Math.min(a[j]!, b[j]!), i32(p ^ q), i32(-p), i32(p < 0n ? -p : p), trunc(f, -2147483648, 2147483520), a[j]! < b[j]! ? 1 : 0,
        i32(BigInt(f32Bits(f))), i32(p << 1n), Math.max(a[j]!, -7)];
      const uints = [u32(up + uq), u32(up - uq), u32(up * uq), uq === 0n ? Number(up) : Number(up / uq), uq === 0n ? 0 : Number(up % uq), u32(up << shift),
        Number(up >> shift), Math.min(Number(up), Number(uq)), Number((up & 0xff00ff00n) | uq), trunc(f, 0, 4294967040), f32Bits(f),
        trunc(Math.fround(a[j]!), 0, 4294967040), f32Bits(Math.fround(Number(up))), Number(up >> 3n), Math.max(Number(up), Number(uq)), f >= 0.5 ? 1 : 0];
      expect([...outI.subarray(j * INT_OPS, (j + 1) * INT_OPS)], `i32 row ${j}: ${a[j]}, ${b[j]}, ${f}`).toEqual(ints);
      expect([...outU.subarray(j * INT_OPS, (j + 1) * INT_OPS)], `u32 row ${j}: ${a[j]}, ${b[j]}, ${f}`).toEqual(uints);
    }
  });

  test('f32 math rounds every result to f32', () => {
    const x = Float32Array.from([-3, -0.5, 0, 0.1, 1, 2.5, 10, 100]);
    const n = x.length, out = new Float32Array(n * MATH_OPS);
    runKernel(mathOps(), { buffers: { x, out }, params: { n } });
    const fr = Math.fround;
    for (let j = 0; j < n; j++) {
      const v = x[j]!;
      const expected = [fr(Math.exp(v)), fr(Math.tanh(v)), fr(Math.sqrt(Math.abs(v))), fr(1 / Math.sqrt(fr(Math.abs(v) + 1))), fr(Math.abs(v) ** 1.5),
        fr(Math.log(fr(Math.abs(v) + fr(0.1)))), Math.floor(v), Math.ceil(v), fr(v % 0.75), fr(v / 3), v > 0 ? v : fr(v * fr(0.01)), v, v, fr(v * v + fr(-0.1)), fr(Math.sin(v)), fr(Math.cos(v))];
      expect([...out.subarray(j * MATH_OPS, (j + 1) * MATH_OPS)]).toEqual(expected);
    }
  });
});

describe('runKernel faults', () => {
  test('barrier divergence is detected and names the kernel', () => {
    const x = k.buffer('x', k.f32, 'read_write');
    const kernel: Kernel = { ...vectorAdd(), name: 'divergent', buffers: [x], params: [], grid: [k.u(1), k.u(1), k.u(1)],
      body: [k.if_(k.lt(k.localId(0), 32), [k.barrier()]), k.store(x, k.localId(0), k.f(1))] };
    expect(() => runKernel(kernel, { buffers: { x: new Float32Array(64) }, params: {} })).toThrow(/kernel divergent: barrier divergence .*invocation 32 finished/);
  });

  test('out-of-bounds loads name the kernel, the buffer and the index', () => {
    const kernel: Kernel = { ...vectorAdd(), name: 'unguarded', body: [k.store(k.buffer('out', k.f32, 'read_write'), k.globalId(0), k.load(k.buffer('a', k.f32), k.globalId(0)))] };
    const buffers = { a: new Float32Array(100), b: new Float32Array(100), out: new Float32Array(200) };
    expect(() => runKernel(kernel, { buffers, params: { n: 100 } })).toThrow('kernel unguarded: out-of-bounds load from buffer a[100] (100 elements) at global_id (100, 0, 0)');
  });

  test('out-of-bounds shared access is detected', () => {
    const s = k.shared('s', k.f32, 16), out = k.buffer('out', k.f32, 'read_write');
    const kernel: Kernel = { ...vectorAdd(), name: 'shared_oob', buffers: [out], params: [], shared: [s], grid: [k.u(1), k.u(1), k.u(1)],
      body: [k.sharedStore(s, k.localId(0), k.f(1))] };
    expect(() => runKernel(kernel, { buffers: { out: new Float32Array(1) }, params: {} })).toThrow(/kernel shared_oob: out-of-bounds store to shared s\[16\]/);
  });

  test('a store into a read buffer is rejected', () => {
    const a = k.buffer('a', k.f32);
    const kernel: Kernel = { ...vectorAdd(), name: 'writes_input', body: [{ k: 'store', buffer: 'a', index: k.globalId(0), value: k.f(0) }] };
    expect(() => runKernel(kernel, { buffers: { a: new Float32Array(64), b: new Float32Array(64), out: new Float32Array(64) }, params: { n: 64 } }))
      .toThrow("kernel writes_input: store into read-only buffer 'a'");
    void a;
  });

  test('a shared-memory race between barriers is detected', () => {
    const s = k.shared('s', k.f32, 64), out = k.buffer('out', k.f32, 'read_write');
    const lid = k.localId(0);
    const kernel: Kernel = { ...vectorAdd(), name: 'racy', buffers: [out], params: [], shared: [s], grid: [k.u(1), k.u(1), k.u(1)],
      body: [k.sharedStore(s, lid, k.toF32(lid)), k.store(out, lid, k.sharedLoad(s, k.mod(k.add(lid, 1), 64)))] };
    expect(() => runKernel(kernel, { buffers: { out: new Float32Array(64) }, params: {} })).toThrow(/kernel racy: data race/);
    const fixed: Kernel = { ...kernel, body: [kernel.body[0]!, k.barrier(), kernel.body[1]!] };
    const out64 = new Float32Array(64);
    runKernel(fixed, { buffers: { out: out64 }, params: {} });
    expect(out64[63]).toBe(0);
    expect(out64[0]).toBe(1);
  });

  test('two invocations writing different values to one element is a race', () => {
    const out = k.buffer('out', k.f32, 'read_write');
    const kernel: Kernel = { ...vectorAdd(), name: 'collide', buffers: [out], params: [], grid: [k.u(1), k.u(1), k.u(1)],
      body: [k.store(out, k.u(0), k.toF32(k.localId(0)))] };
    expect(() => runKernel(kernel, { buffers: { out: new Float32Array(1) }, params: {} })).toThrow(/collide: data race: invocations 0 and 1/);
    expect(() => runKernel(kernel, { buffers: { out: new Float32Array(1) }, params: {}, checkRaces: false })).not.toThrow();
  });

  test('missing or mistyped buffers and params are reported', () => {
    expect(() => runKernel(vectorAdd(), { buffers: { a: new Float32Array(4), b: new Float32Array(4) }, params: { n: 4 } })).toThrow("kernel vector_add: buffer 'out' was not given");
    expect(() => runKernel(vectorAdd(), { buffers: { a: new Float32Array(4), b: new Float32Array(4), out: new Int32Array(4) }, params: { n: 4 } })).toThrow(/must be a Float32Array/);
    expect(() => runKernel(vectorAdd(), { buffers: { a: new Float32Array(4), b: new Float32Array(4), out: new Float32Array(4) }, params: { n: -1 } })).toThrow(/'n' = -1 is not a u32/);
  });
});
