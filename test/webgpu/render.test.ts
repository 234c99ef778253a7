// End to end: kernels built with the kernel IR builder, rendered to WGSL, run on WebGPU, and checked
// against float64 math written here and against the kernel IR interpreter.
import { beforeAll, describe, expect, it } from 'vitest';
import * as k from '../../src/codegen/kernel-ir/build.js';
import { runKernel } from '../../src/codegen/kernel-ir/interpret.js';
import type { Kernel } from '../../src/codegen/kernel-ir/types.js';
import { renderWgsl } from '../../src/codegen/render/wgsl.js';
import { WebGpuExecutor, createStorageBuffer, uploadTensor, type GpuContext } from '../../src/runtime/webgpu/index.js';
import { gpu, span } from './helpers.js';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await gpu();
});

const { f32, u32 } = k;
const WG = 64;

/** out[r] = scale * sum_j x[r, j]: a strided loop, then a tree reduction in shared memory. */
function rowSumKernel(): Kernel {
  const x = k.buffer('x', f32), out = k.buffer('out', f32, 'read_write');
  const cols = k.uniform('cols'), rows = k.uniform('rows'), scale = k.uniform('scale', f32);
  const partial = k.shared('partial', f32, WG);
  const row = k.workgroupId(0), lid = k.localId(0);
  const acc = k.ref('acc', f32), j = k.ref('j', u32);
  const tree = [32, 16, 8, 4, 2, 1].flatMap((s) => [
    k.if_(k.lt(lid, s), [k.sharedStore(partial, lid, k.add(k.sharedLoad(partial, lid), k.sharedLoad(partial, k.add(lid, s))))]),
    k.barrier(),
  ]);
  return {
    name: 'row_sum_scaled',
    workgroupSize: [WG, 1, 1],
    buffers: [x, out],
    params: [cols, rows, scale],
    shared: [partial],
    body: [
      k.var_('acc', k.f(0)),
      k.for_('j', lid, k.param(cols), [k.assign('acc', k.add(acc, k.load(x, k.add(k.mul(row, k.param(cols)), j))))], WG),
      k.sharedStore(partial, lid, acc),
      k.barrier(),
      ...tree,
      k.if_(k.eq(lid, 0), [k.store(out, row, k.mul(k.sharedLoad(partial, k.u(0)), k.param(scale)))]),
    ],
    grid: [k.param(rows), k.u(1), k.u(1)],
    locs: [span(4, 3, 'sum.ptm')],
  };
}

/** y[i] = 2 * max(x[i], 0) + (i, 0, 0, 0) on vec4s, and idx[i] = i32(floor(x[i].w)) (negative too). */
function vec4Kernel(): Kernel {
  const x = k.buffer('x', k.vec4f), y = k.buffer('y', k.vec4f, 'read_write'), idx = k.buffer('idx', k.i32, 'read_write');
  const n = k.uniform('n');
  const i = k.ref('i', u32), v = k.ref('v', k.vec4f);
  return {
    name: 'relu2_vec4',
    workgroupSize: [WG, 1, 1],
    buffers: [x, y, idx],
    params: [n],
    shared: [],
    body: [
      k.let_('i', k.globalId(0)),
      k.if_(k.lt(i, k.param(n)), [
        k.let_('v', k.load(x, i)),
        k.store(y, i, k.add(k.mul(k.max(v, k.splat(k.f(0))), k.splat(k.f(2))), k.vec4(k.toF32(i), 0, 0, 0))),
        k.store(idx, i, k.toI32(k.floor(k.lane(v, 3)))),
      ]),
    ],
    grid: [k.ceilDiv(k.param(n), WG), k.u(1), k.u(1)],
    locs: [span(9, 1, 'vec.ptm')],
  };
}

const seeded = (seed: number) => () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;

describe('rendered kernels on webgpu', () => {
  it('row sums with shared memory and barriers match float64 and the interpreter', async () => {
    const kernel = rowSumKernel();
    const rows = 37, cols = 300, scale = 0.5;
    const rand = seeded(7);
    const x = Float32Array.from({ length: rows * cols }, rand);
    const ex = new WebGpuExecutor(ctx);
    const out = createStorageBuffer(ctx, 'out', rows * 4);
    ex.launch(kernel, [{ buffer: uploadTensor(ctx, 'x', x) }, { buffer: out }], { cols, rows, scale });
    const gpuOut = await ex.download(out, 'f32');

    const interpreted = new Float32Array(rows);
    runKernel(kernel, { buffers: { x, out: interpreted }, params: { cols, rows, scale } });
    for (let r = 0; r < rows; r++) {
      let sum = 0;
      for (let c = 0; c < cols; c++) sum += x[r * cols + c]!;
      expect(gpuOut[r]).toBeCloseTo(sum * scale, 4);
      expect(gpuOut[r]).toBeCloseTo(interpreted[r]!, 5);
    }
  });

  it('vec4 loads, lanes, casts and a grid from kernel.grid', async () => {
    const kernel = vec4Kernel();
    const n = 130; // 3 workgroups, the last one partial
    const rand = seeded(11);
    const x = Float32Array.from({ length: 4 * n }, () => rand() * 10);
    const ex = new WebGpuExecutor(ctx);
    const y = createStorageBuffer(ctx, 'y', 16 * n), idx = createStorageBuffer(ctx, 'idx', 4 * n);
    ex.launch(kernel, [{ buffer: uploadTensor(ctx, 'x', x) }, { buffer: y }, { buffer: idx }], { n });
    const [gy, gi] = [await ex.download(y, 'f32'), await ex.download(idx, 'i32')];
    for (let i = 0; i < n; i++) {
      for (let lane = 0; lane < 4; lane++) {
        const expected = 2 * Math.max(x[4 * i + lane]!, 0) + (lane === 0 ? i : 0);
        expect(gy[4 * i + lane]).toBeCloseTo(expected, 4);
      }
      expect(gi[i]).toBe(Math.floor(x[4 * i + 3]!));
    }
    expect(renderWgsl(kernel)).toContain('fn main(');
  });

  it('runs a kernel without parameters', async () => {
    const out = k.buffer('out', u32, 'read_write');
    const kernel: Kernel = {
      name: 'iota', workgroupSize: [WG, 1, 1], buffers: [out], params: [], shared: [],
      body: [k.store(out, k.globalId(0), k.add(k.globalId(0), k.mul(k.workgroupId(0), 1000)))],
      grid: [k.u(2), k.u(1), k.u(1)], locs: [],
    };
    const buffer = createStorageBuffer(ctx, 'out', 4 * 2 * WG);
    const ex = new WebGpuExecutor(ctx);
    ex.launch(kernel, [{ buffer }], {});
    const got = await ex.download(buffer, 'u32');
    expect([got[0], got[63], got[64], got[127]]).toEqual([0, 63, 1064, 1127]);
  });
});
