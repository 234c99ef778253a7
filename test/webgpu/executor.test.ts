// The executor on hand-written WGSL: packed parameters, ordering of many dispatches in one pass,
// the pipeline cache, and errors that name the kernel and its .ptm location.
import { beforeAll, describe, expect, it } from 'vitest';
import { buffer, f32, u32, uniform } from '../../src/codegen/kernel-ir/build.js';
import {
  PipelineCache, WebGpuExecutor, createStorageBuffer, timeDispatches, uploadTensor, type GpuContext, type WebGpuError,
} from '../../src/runtime/webgpu/index.js';
import { INCREMENT_WGSL, SAXPY_WGSL, gpu, handKernel, packScalars, span } from './helpers.js';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await gpu();
});

const saxpy = handKernel('saxpy_f32', [buffer('x', f32), buffer('y', f32, 'read_write')], [uniform('n', u32), uniform('a', f32)], [span(7, 3)]);
const increment = handKernel('increment_f32', [buffer('x', f32, 'read_write')], [uniform('n', u32)], [span(2, 1)]);

async function rejection(p: Promise<unknown> | (() => unknown)): Promise<WebGpuError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return e as WebGpuError;
  }
  throw new Error('expected an error');
}

describe('webgpu executor', () => {
  it('runs a kernel with packed parameters', async () => {
    const n = 1000;
    const x = uploadTensor(ctx, 'x', Float32Array.from({ length: n }, (_, i) => i));
    const y = uploadTensor(ctx, 'y', new Float32Array(n).fill(1));
    const ex = new WebGpuExecutor(ctx, { packParams: packScalars });
    ex.dispatch(saxpy, SAXPY_WGSL, [{ buffer: x }, { buffer: y }], { n, a: 2 }, [Math.ceil(n / 64), 1, 1]);
    const out = await ex.download(y, 'f32');
    expect(out[0]).toBe(1);
    expect(out[999]).toBe(2 * 999 + 1);
  });

  it('runs 200 dependent dispatches in one flush, in order', async () => {
    const x = uploadTensor(ctx, 'counter', new Float32Array(100));
    const ex = new WebGpuExecutor(ctx, { packParams: packScalars });
    for (let i = 0; i < 200; i++) ex.dispatch(increment, INCREMENT_WGSL, [{ buffer: x }], { n: 100 }, [2, 1, 1]);
    expect(ex.pending).toBe(200);
    const out = await ex.download(x, 'f32');
    expect(ex.stats.submits).toBe(1);
    expect(ex.stats.bindGroupsCreated).toBe(1);
    expect(new Set(out)).toEqual(new Set([200]));
  });

  it('gives each dispatch its own parameters', async () => {
    const y = uploadTensor(ctx, 'y', new Float32Array(64));
    const x = uploadTensor(ctx, 'x', new Float32Array(64).fill(1));
    const ex = new WebGpuExecutor(ctx, { packParams: packScalars });
    for (let a = 1; a <= 10; a++) ex.dispatch(saxpy, SAXPY_WGSL, [{ buffer: x }, { buffer: y }], { n: 64, a }, [1, 1, 1]);
    expect(Array.from(await ex.download(y, 'f32')).every((v) => v === 55)).toBe(true);
  });

  it('binds sub-ranges of one buffer', async () => {
    const align = ctx.limits.minStorageBufferOffsetAlignment;
    const arena = uploadTensor(ctx, 'arena', new Float32Array((3 * align) / 4));
    const ex = new WebGpuExecutor(ctx, { packParams: packScalars });
    ex.dispatch(increment, INCREMENT_WGSL, [{ buffer: arena, offset: align, size: align }], { n: align / 4 }, [1, 1, 1]);
    const out = await ex.download(arena, 'f32');
    expect([out[0], out[align / 4], out[align / 2 - 1], out[align / 2]]).toEqual([0, 1, 1, 0]);
  });

  it('makes one pipeline for the same WGSL', async () => {
    const ex = new WebGpuExecutor(ctx, { packParams: packScalars, pipelines: new PipelineCache(ctx) });
    const x = createStorageBuffer(ctx, 'x', 256);
    const twin = { ...increment, name: 'increment_twin' };
    ex.dispatch(increment, INCREMENT_WGSL, [{ buffer: x }], { n: 64 }, [1, 1, 1]);
    ex.dispatch(twin, `${INCREMENT_WGSL}`, [{ buffer: x }], { n: 64 }, [1, 1, 1]);
    await ex.flush();
    expect(ex.pipelines.size).toBe(1);
    expect(ex.pipelines.misses).toBe(1);
    expect(ex.pipelines.hits).toBe(1);
  });

  it('reports a WGSL error with the kernel name, the WGSL line and the .ptm location', async () => {
    const broken = handKernel('gelu_broken', increment.buffers, increment.params, [span(12, 9, 'gpt2.ptm'), span(14, 3, 'gpt2.ptm')]);
    const wgsl = INCREMENT_WGSL.replace('x[gid.x] + 1.0;', 'x[gid.x] + ;');
    const ex = new WebGpuExecutor(ctx, { packParams: packScalars });
    const err = await rejection(ex.pipelines.compile(broken, wgsl));
    expect(err.code).toBe('wgsl_compile_error');
    expect(err.message).toContain("kernel 'gelu_broken'");
    expect(err.message).toContain('gpt2.ptm:12:9, gpt2.ptm:14:3');
    expect(err.message).toMatch(/wgsl:8:\d+: error: /);
    expect(err.message).toContain('x[gid.x] + ;');
    // Once known, the kernel is refused at dispatch (the cache is shared); a new one fails at flush.
    const x = createStorageBuffer(ctx, 'x', 256);
    const fresh = new WebGpuExecutor(ctx, { packParams: packScalars });
    expect((await rejection(() => fresh.dispatch(broken, wgsl, [{ buffer: x }], { n: 1 }, [1, 1, 1]))).code).toBe('wgsl_compile_error');
    const other = handKernel('gelu_broken2', increment.buffers, increment.params);
    const wgsl2 = wgsl.replace('@compute', '// another\n@compute');
    fresh.dispatch(other, wgsl2, [{ buffer: x }], { n: 1 }, [1, 1, 1]);
    expect((await rejection(fresh.flush())).message).toContain("kernel 'gelu_broken2' (tiny.ptm:3:5)");
  });

  it('refuses a grid over maxComputeWorkgroupsPerDimension', async () => {
    const ex = new WebGpuExecutor(ctx, { packParams: packScalars });
    const x = createStorageBuffer(ctx, 'x', 256);
    const err = await rejection(() => ex.dispatch(increment, INCREMENT_WGSL, [{ buffer: x }], { n: 1 }, [70000, 1, 1]));
    expect(err.code).toBe('grid_too_large');
    expect(err.message).toContain("kernel 'increment_f32' (tiny.ptm:2:1)");
    expect(err.message).toContain('maxComputeWorkgroupsPerDimension');
    expect(err.message).toContain('65535');
  });

  it('refuses wrong binding counts and a buffer bound read-only and writable at once', async () => {
    const ex = new WebGpuExecutor(ctx, { packParams: packScalars });
    const x = createStorageBuffer(ctx, 'h', 1024);
    expect((await rejection(() => ex.dispatch(saxpy, SAXPY_WGSL, [{ buffer: x }], { n: 1, a: 1 }, [1, 1, 1]))).code).toBe('binding_count');
    const align = ctx.limits.minStorageBufferOffsetAlignment;
    const alias = await rejection(() =>
      ex.dispatch(saxpy, SAXPY_WGSL, [{ buffer: x, offset: 0, size: align }, { buffer: x, offset: align, size: align }], { n: 1, a: 1 }, [1, 1, 1]),
    );
    expect(alias.code).toBe('binding_alias');
    expect(alias.message).toContain("'x' and 'y'");
    expect(ex.pending).toBe(0);
  });

  it('names the kernel when the device rejects a dispatch', async () => {
    const notStorage = ctx.device.createBuffer({ label: 'staging', size: 256, usage: 0x8 /* COPY_DST */ });
    const ex = new WebGpuExecutor(ctx, { packParams: packScalars });
    ex.dispatch(increment, INCREMENT_WGSL, [{ buffer: notStorage }], { n: 1 }, [1, 1, 1]);
    const err = await rejection(ex.flush());
    expect(err.code).toBe('dispatch_error');
    expect(err.message).toContain("kernel 'increment_f32' (tiny.ptm:2:1)");
    expect(err.message).toContain('staging');
  });

  it('records many tiny dispatches cheaply', async () => {
    const x = createStorageBuffer(ctx, 'x', 256);
    const timing = await timeDispatches(ctx, (ex) => {
      for (let i = 0; i < 1000; i++) ex.dispatch(increment, INCREMENT_WGSL, [{ buffer: x }], { n: 64 }, [1, 1, 1]);
    }, { packParams: packScalars, runs: 5 });
    console.log(`1000 tiny dispatches: record ${timing.recordUsPerDispatch.toFixed(2)} µs, wall ${timing.wallUsPerDispatch.toFixed(2)} µs per dispatch; GPU pass ${timing.gpuNs === null ? 'n/a' : `${(timing.gpuNs / 1e6).toFixed(2)} ms`}`);
    expect(timing.dispatches).toBe(1000);
    expect(timing.recordUsPerDispatch).toBeLessThan(100);
  });
});
