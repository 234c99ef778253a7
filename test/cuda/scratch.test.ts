import { it } from 'vitest';
import { prepareGpuCheck, workingTreeBytes } from '../../src/runtime/cuda/gpu-check-artifacts.js';
it('scratch', () => {
  const r = prepareGpuCheck('/work/main/tmp/gpu-check', { root: '/work/main', log: console.log });
  console.log(JSON.stringify(r), workingTreeBytes('/work/main'));
}, 600000);
