import { readFileSync } from 'node:fs';
import { test } from 'vitest';
import { compileGraph } from '../../src/api.js';
import { FUSION_PIPELINE, runPipeline } from '../../src/passes/pipeline.js';
import { lowerGraph } from '../../src/codegen/lower/lower.js';
import { ProgramSession } from '../../src/runtime/program/session.js';
import { InterpreterDevice } from '../../src/runtime/program/interpreter-device.js';
import { WebGpuDevice } from '../../src/runtime/program/webgpu-device.js';
import { initParams, randomInputs, runGraph } from '../../src/runtime/index.js';
test('try', async () => {
  for (const f of ['models/gpt2.ptm', 'models/bert.ptm']) {
    const { graph } = compileGraph(readFileSync(f, 'utf8'), { file: f, set: { layers: 1, d: 64, heads: 4, vocab: 97, ctx: 32 } });
    const fused = runPipeline(graph, FUSION_PIPELINE, { verify: true });
    const program = lowerGraph(fused, {});
    console.log(f, program.launches.length, 'launches:', program.launches.map((l) => l.instance.kernel.name).join(' '));
    const params = initParams(graph, 3);
    const inputs = randomInputs(graph, 4, new Map([['batch', 2], ['seq', 7]]));
    const ref = runGraph(graph, { inputs, params, precision: 'f64' }).outputs;
    for (const device of [new InterpreterDevice(), await WebGpuDevice.create()]) {
      const session = ProgramSession.create(program, params, device);
      const t0 = performance.now();
      const out = await session.run(inputs);
      for (const [name, t] of ref) {
        const u = out.get(name)!;
        let err = 0, norm = 0;
        t.data.forEach((x, i) => { err += (x - u.data[i]!) ** 2; norm += x * x; });
        console.log(device.name, name, 'rel err', Math.sqrt(err / norm), (performance.now() - t0).toFixed(0), 'ms');
      }
    }
  }
});
