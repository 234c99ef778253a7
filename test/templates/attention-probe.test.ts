import { it } from 'vitest';
import { attentionKernel, ATTENTION_VARIANTS } from '../../src/codegen/templates/attention.js';
import { packParams, renderWgsl } from '../../src/codegen/render/wgsl.js';
import { evalGrid } from '../../src/codegen/kernel-ir/interpret.js';
import { timeDispatches, uploadTensor } from '../../src/runtime/webgpu/index.js';
import { specOf, type AttentionCase } from './attention.test.js';
import { bindParams } from './helpers.js';
import { gpu } from '../webgpu/helpers.js';
import { maskBin, maskVar, maskTrue } from '../../src/ir/index.js';
it('probe', async () => {
  const ctx = await gpu();
  for (const mask of [maskTrue, maskBin('<=', maskVar('k'), maskVar('q'))]) {
    const c: AttentionCase = { name: 'x', batch: 1, heads: 12, tq: 256, tk: 256, d: 64, dv: 64, mask };
    const spec = specOf(c);
    const n = 12 * 256 * 64;
    const bufs = [0, 1, 2, 3].map((i) => uploadTensor(ctx, 'x' + i, Float32Array.from({ length: n }, () => Math.random())));
    for (const v of Object.keys(ATTENTION_VARIANTS)) {
      const inst = attentionKernel({ ...spec, variant: ATTENTION_VARIANTS[v]!, locs: [] });
      const wgsl = renderWgsl(inst.kernel), params = bindParams(inst), grid = evalGrid(inst.kernel, params);
      const t = await timeDispatches(ctx, (ex) => ex.dispatch(inst.kernel, wgsl, bufs.map((buffer) => ({ buffer })), params, grid), { packParams, runs: 2 });
      const s = t.gpuNs !== null ? t.gpuNs / 1e9 : t.wallUsPerDispatch / 1e6;
      console.log(mask === maskTrue ? 'full' : 'causal', v, inst.kernel.name, (s * 1e3).toFixed(1), 'ms', ((4 * 12 * 256 * 256 * 64) / s / 1e9).toFixed(2), 'GFLOP/s (dense count)');
    }
  }
});
