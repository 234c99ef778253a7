// ONNX export: a Graph IR and its weights as an ONNX model, for onnxruntime checks and Netron.
export { exportOnnx } from './export-onnx.js';
export type { ExternalData, OnnxExport, OnnxExportOptions, WeightTensor } from './export-onnx.js';
export { writeOnnx } from './write-onnx.js';
