import { it } from 'vitest';
import { attentionKernel, ATTENTION_VARIANTS } from '../../src/codegen/templates/attention.js';
import { renderWgsl } from '../../src/codegen/render/wgsl.js';
import { ATTENTION_CASES, specOf, caseRun } from './attention.test.js';
import { runWebGpu } from './helpers.js';
import { gpu } from '../webgpu/helpers.js';
it('probe', async () => {
  const ctx = await gpu();
  for (const name of ['d = dv = 128 (tiles shrink to fit 16 KiB)', 'xlnet ranks: rank[b, k] <= rank[b, q]', 'cross attention tq = 7, tk = 45 with source padding']) {
    const c = ATTENTION_CASES.find((x) => x.name === name)!;
    for (const v of ['q16k16t16', 'q32k32t4']) {
      const inst = attentionKernel({ ...specOf(c), variant: ATTENTION_VARIANTS[v]!, locs: [] });
      const wgsl = renderWgsl(inst.kernel);
      const t0 = performance.now();
      const m = ctx.device.createShaderModule({ code: wgsl });
      await ctx.device.createComputePipelineAsync({ layout: 'auto', compute: { module: m, entryPoint: 'main' } });
      const t1 = performance.now();
      await runWebGpu(ctx, inst, caseRun(c));
      const t2 = performance.now();
      await runWebGpu(ctx, inst, caseRun(c));
      const t3 = performance.now();
      console.log(name, v, 'wgsl lines', wgsl.split('\n').length, 'compile', (t1 - t0).toFixed(0), 'first run', (t2 - t1).toFixed(0), 'second', (t3 - t2).toFixed(0));
    }
  }
});
