import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
const gpu = create([]);
globalThis.navigator = { gpu };
globalThis.__keep = gpu;
const orig = GPUQueue.prototype.writeBuffer;
GPUQueue.prototype.writeBuffer = function (buffer, offset, data, dataOffset, size) {
  if (ArrayBuffer.isView(data) && data.buffer instanceof SharedArrayBuffer) {
    data = new data.constructor(data); // copy into fresh ArrayBuffer
  } else if (data instanceof SharedArrayBuffer) data = data.slice(0);
  return orig.call(this, buffer, offset, data, dataOffset, size);
};
const { readFileSync } = await import('node:fs');
const ptm = await import('/work/main/dist/index.js');
const ort = await import('onnxruntime-web/webgpu');
console.log('ort', ort.env.versions);
ort.env.wasm.numThreads = 1;
ort.env.wasm.wasmPaths = new URL('../work/main/node_modules/onnxruntime-web/dist/', 'file:///tmp/').href;
const file = 'models/gpt2.ptm';
const c = ptm.compile(readFileSync(file, 'utf8'), { file, set: { layers: 2 }, maxBindingBytes: 128 * 2 ** 20 });
const params = ptm.initParams(c.graph, 0);
const inputs = ptm.randomInputs(c.graph, 1, new Map([['batch', 1], ['seq', 16]]));
const { model } = ptm.exportOnnx(c.graph, params);
console.log('onnx bytes', model.length);
let t = performance.now();
const sess = await ort.InferenceSession.create(model, { executionProviders: ['webgpu'] });
console.log('session', performance.now() - t);
const feeds = {};
for (const [k, v] of Object.entries(inputs)) feeds[k] = new ort.Tensor('int32', Int32Array.from(v.data), v.shape);
t = performance.now();
const out = await sess.run(feeds);
console.log('run', performance.now() - t, Object.keys(out), out.logits.dims, out.logits.data.slice(0, 4));
const ref = ptm.runGraph(c.graph, { inputs, params, precision: 'f32' }).outputs.get('logits');
let m = 0; for (let i = 0; i < ref.data.length; i++) m = Math.max(m, Math.abs(ref.data[i] - out.logits.data[i]));
console.log('maxabs', m, ort.env.webgpu?.adapter?.info);
