// Tensor buffers: round trips through the device, sub-ranges, and the limits that the compiler must
// plan around (binding size, offset alignment), each refused with an error naming the tensor.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  bindRange, checkBindingSize, createStorageBuffer, downloadTensor, uploadTensor, writeTensor, type GpuContext,
} from '../../src/runtime/webgpu/index.js';
import { gpu } from './helpers.js';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await gpu();
});

describe('webgpu buffers', () => {
  it('round-trips f32, i32 and u32', async () => {
    const f = new Float32Array([1.5, -2.25, 3e-8, 3.4e38, -0]);
    const i = new Int32Array([0, -1, 2147483647, -2147483648, 7]);
    const u = new Uint32Array([0, 1, 4294967295]);
    expect(Array.from(await downloadTensor(ctx, uploadTensor(ctx, 'f', f), 'f32'))).toEqual(Array.from(f));
    expect(Array.from(await downloadTensor(ctx, uploadTensor(ctx, 'i', i), 'i32'))).toEqual(Array.from(i));
    expect(Array.from(await downloadTensor(ctx, uploadTensor(ctx, 'u', u), 'u32'))).toEqual(Array.from(u));
  });

  it('writes into and reads back a sub-range', async () => {
    const align = ctx.limits.minStorageBufferOffsetAlignment;
    const buffer = createStorageBuffer(ctx, 'arena', 4 * align);
    const range = bindRange(ctx, buffer, 2 * align, 12, 'h');
    writeTensor(ctx, range, new Float32Array([7, 8, 9]));
    expect(Array.from(await downloadTensor(ctx, range, 'f32'))).toEqual([7, 8, 9]);
    const whole = await downloadTensor(ctx, buffer, 'f32');
    expect(whole.length).toBe(align);
    expect(whole[(2 * align) / 4]).toBe(7);
    expect(whole[0]).toBe(0);
  });

  it('pads sizes to 4 bytes', () => {
    expect(createStorageBuffer(ctx, 'odd', 3).size).toBe(4);
    expect(createStorageBuffer(ctx, 'empty', 0).size).toBe(4);
  });

  it('refuses a tensor over maxStorageBufferBindingSize, naming it and the limit', () => {
    const limit = ctx.limits.maxStorageBufferBindingSize;
    expect(() => checkBindingSize(ctx, 'wte', limit)).not.toThrow();
    const err = (() => {
      try {
        createStorageBuffer(ctx, 'wte', limit + 4);
      } catch (e) {
        return e as Error & { code: string };
      }
      throw new Error('expected a throw');
    })();
    expect(err.code).toBe('binding_too_large');
    expect(err.message).toContain("tensor 'wte'");
    expect(err.message).toContain(`maxStorageBufferBindingSize = ${limit}`);
    expect(err.message).toContain('must split');
  });

  it('refuses misaligned and out-of-range sub-ranges', () => {
    const align = ctx.limits.minStorageBufferOffsetAlignment;
    expect(align).toBeGreaterThan(4);
    const buffer = createStorageBuffer(ctx, 'arena', 4 * align);
    expect(() => bindRange(ctx, buffer, 4, 4, 'k')).toThrow(/tensor 'k'.*minStorageBufferOffsetAlignment/);
    expect(() => bindRange(ctx, buffer, 0, 4 * align + 4, 'v')).toThrow(/tensor 'v' binds/);
  });
});
