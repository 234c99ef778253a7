// The device: found here (CI installs lavapipe), cached, with limits raised; and the explanation
// given when no Vulkan driver is installed.
import { describe, expect, it } from 'vitest';
import { acquireDevice, fnv1a64, probeWebGpu } from '../../src/runtime/webgpu/index.js';
import { explainNoAdapter, vulkanSetup } from '../../src/runtime/webgpu/node-env.js';
import { gpu } from './helpers.js';

describe('webgpu device', () => {
  it('probes ok and reports the adapter', async () => {
    const probe = await probeWebGpu();
    if (!probe.ok) throw new Error(probe.reason);
    expect(probe.info.description.length + probe.info.vendor.length).toBeGreaterThan(0);
    expect(probe.info.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(2 ** 27);
  });

  it('is one device per process, with the adapter limits it asked for', async () => {
    const ctx = await gpu();
    expect(await acquireDevice()).toBe(ctx);
    expect(ctx.lost).toBeNull();
    expect(ctx.limits.maxComputeWorkgroupsPerDimension).toBeGreaterThanOrEqual(65535);
    expect(ctx.limits.minStorageBufferOffsetAlignment).toBeLessThanOrEqual(256);
  });

  it('records errors no error scope caught', async () => {
    const ctx = await gpu();
    const before = ctx.uncapturedErrors.length;
    ctx.device.createBuffer({ label: 'bad-usage', size: 4, usage: 0x1 | 0x80 }); // MAP_READ | STORAGE is invalid
    for (let i = 0; i < 50 && ctx.uncapturedErrors.length === before; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(ctx.uncapturedErrors.at(-1)).toContain('bad-usage');
  });

  it('explains a missing Vulkan driver with the fix', () => {
    const saved = process.env['VK_DRIVER_FILES'];
    process.env['VK_DRIVER_FILES'] = '/nonexistent/icd.json';
    try {
      expect(vulkanSetup().icds).toEqual([]);
      const reason = explainNoAdapter();
      expect(reason).toMatch(/no Vulkan ICD found|Vulkan loader/);
      expect(reason).toContain('scripts/install-lavapipe.sh');
    } finally {
      if (saved === undefined) delete process.env['VK_DRIVER_FILES'];
      else process.env['VK_DRIVER_FILES'] = saved;
    }
  });

  it('finds lavapipe among the Vulkan drivers (Linux, as in CI)', () => {
    if (process.platform === 'linux') expect(vulkanSetup().icds.some((p) => p.includes('lvp_icd'))).toBe(true);
  });

  it('hashes WGSL with FNV-1a 64', () => {
    expect(fnv1a64('')).toBe('cbf29ce484222325');
    expect(fnv1a64('a')).toBe('af63dc4c8601ec8c');
    expect(fnv1a64('foobar')).toBe('85944171f73967e8');
  });
});
