// A lost device (here destroyed on purpose) is reported, refused by the executor, and replaced by
// the next acquireDevice(). Its own file: it ends the device the other tests of a file would share.
import { describe, expect, it } from 'vitest';
import { buffer, f32, u32, uniform } from '../../src/codegen/kernel-ir/build.js';
import { WebGpuExecutor, acquireDevice, createStorageBuffer } from '../../src/runtime/webgpu/index.js';
import { INCREMENT_WGSL, gpu, handKernel, packScalars } from './helpers.js';

describe('webgpu device loss', () => {
  it('is reported, refused and recovered from', async () => {
    const ctx = await gpu();
    const x = createStorageBuffer(ctx, 'x', 256);
    const ex = new WebGpuExecutor(ctx, { packParams: packScalars });
    ctx.device.destroy();
    for (let i = 0; i < 50 && !ctx.lost; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(ctx.lost).toMatch(/destroyed/);
    const kernel = handKernel('increment_f32', [buffer('x', f32, 'read_write')], [uniform('n', u32)]);
    expect(() => ex.dispatch(kernel, INCREMENT_WGSL, [{ buffer: x }], { n: 1 }, [1, 1, 1])).toThrow(/increment_f32.*device was lost/);
    const next = await acquireDevice();
    expect(next).not.toBe(ctx);
    expect(next.lost).toBeNull();
  });
});
