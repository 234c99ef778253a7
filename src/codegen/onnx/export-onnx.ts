// Graph IR -> ONNX ModelProto (ai.onnx opset 17, IR version 8 by default), for onnxruntime and Netron.
// Fused ops are expanded and high-level ops decomposed first; each primitive op then becomes one node (or a few, lower-ops.ts).
// Pre: params holds every parameter by its hierarchical name. Post: the same graph gives the same bytes.
import type { onnx } from 'onnx-proto';
import { diag } from '../../diagnostics/catalogue.js';
import { PtmError } from '../../diagnostics/diagnostic.js';
import type { Span } from '../../diagnostics/span.js';
import { noSpan } from '../../diagnostics/span.js';
import { evalDim, isSymbolName, shapeToString } from '../../ir/dim.js';
import type { DType, Graph, Output, Value } from '../../ir/types.js';
import { decomposeHighLevel } from '../../passes/decompose-high-level.js';
import { expandFusedOps } from '../../passes/expand-fused.js';
import { LOWERINGS } from './lower-ops.js';
import type { SymbolSource } from './onnx-nodes.js';
import { OnnxNodes } from './onnx-nodes.js';
import { encodeValues, externalTensor, inlineTensor, onnxElementBytes, onnxElementType, proto } from './onnx-tensors.js';

/** A weight as the runtime holds it (src/runtime's Tensor fits); i64 values as doubles, bools as 0/1. */
export interface WeightTensor {
  dtype: DType;
  shape: number[];
  data: ArrayLike<number>;
}

export interface OnnxExportOptions {
  /** ai.onnx opset, 17 (default) to 21. */
  opset?: number;
  /**
   * Write the weights as external data to this file, relative to the model file. Without it, weights
   * go external (to `<graph name>.onnx.data`) only when they would not fit in a 2 GiB protobuf.
   */
  externalDataPath?: string;
}

/** The side file of an exported model: `size` bytes, each weight at its offset, zeros between; chunks may share memory with the weights given to exportOnnx. */
export interface ExternalData {
  location: string;
  size: number;
  chunks: { name: string; offset: number; bytes: Uint8Array }[];
}

export interface OnnxExport {
  model: Uint8Array;
  externalData?: ExternalData;
}

/** Inline weights above this many bytes would push the protobuf past its 2 GiB limit (16 MiB kept for the graph). */
const INLINE_WEIGHT_LIMIT = 2 ** 31 - 2 ** 24;
const IR_VERSION: Record<number, number> = { 17: 8, 18: 8, 19: 9, 20: 9, 21: 10 };

/**
 * Exports `graph` with the weights `params` as an ONNX model. f16/bf16 tensors are exported and
 * computed as FLOAT (onnxruntime's CPU kernels lack most f16 ops); i64 as INT64; bool as BOOL.
 * Throws PtmError `export_unsupported` (with the op's location) for what ONNX cannot express.
 */
export function exportOnnx(graph: Graph, params: ReadonlyMap<string, WeightTensor>, options: OnnxExportOptions = {}): OnnxExport {
  const opset = options.opset ?? 17;
  const irVersion = IR_VERSION[opset];
  if (irVersion === undefined) throw new PtmError(diag.export_unsupported(noSpan(graph.name), `opset ${opset} is not supported; use 17 to 21`));
  const g = decomposeHighLevel.run(expandFusedOps(graph), {}, {});

  const { names, taken, identities } = valueNames(g);

  const nodes = new OnnxNodes(taken, symbolSources(g));
  for (const op of g.ops) {
    const lowering = LOWERINGS[op.op];
    if (!lowering) throw new PtmError(diag.export_unsupported(op.loc, `the op '${op.op}' has no ONNX form`));
    nodes.loc = op.loc;
    lowering({ op, inputs: op.operands.map((v) => names.get(v.id)!), output: names.get(op.result.id)!, opset, nodes });
  }
  for (const o of identities) {
    nodes.loc = o.loc;
    nodes.node('Identity', [names.get(o.value.id)!], [], o.name);
  }

  const { initializer, externalData } = weights(g, params, options);
  const model: onnx.IModelProto = {
    irVersion,
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'ptm',
    graph: {
      name: g.name,
      node: nodes.nodes,
      initializer,
      input: g.inputs.map((i) => valueInfo(i.name, i.value)),
      output: g.outputs.map((o) => valueInfo(o.name, o.value)),
    },
  };
  const bytes = proto.ModelProto.encode(model).finish();
  return externalData ? { model: bytes, externalData } : { model: bytes };
}

/**
 * ONNX names for every value: inputs, params and outputs keep theirs, other op results are named
 * after their id (`%12` -> `12`). An output that is not an op result of its own needs an Identity.
 */
function valueNames(g: Graph): { names: Map<string, string>; taken: Set<string>; identities: Output[] } {
  const names = new Map<string, string>();
  const taken = new Set<string>();
  const claim = (v: Value, name: string, loc: Span): void => {
    if (taken.has(name)) throw new PtmError(diag.export_unsupported(loc, `the ONNX name '${name}' is used twice`));
    taken.add(name);
    names.set(v.id, name);
  };
  g.inputs.forEach((i) => claim(i.value, i.name, i.loc));
  g.params.forEach((p) => claim(p.value, p.name, p.loc));
  const identities: Output[] = [];
  const produced = new Set(g.ops.map((o) => o.result.id));
  for (const o of g.outputs) {
    if (produced.has(o.value.id) && !names.has(o.value.id)) claim(o.value, o.name, o.loc);
    else identities.push(o);
  }
  for (const o of identities) {
    if (taken.has(o.name)) throw new PtmError(diag.export_unsupported(o.loc, `the output name '${o.name}' is also the name of an input, parameter or other output`));
    taken.add(o.name);
  }
  for (const op of g.ops) {
    if (names.has(op.result.id)) continue;
    const base = op.result.id.replace(/^%/, '');
    let name = base;
    for (let n = 1; taken.has(name); n++) name = `${base}_${n}`;
    claim(op.result, name, op.loc);
  }
  return { names, taken, identities };
}

/** The first whole-dimension occurrence of each symbol among the graph inputs. */
function symbolSources(g: Graph): Map<string, SymbolSource> {
  const sources = new Map<string, SymbolSource>();
  for (const input of g.inputs) {
    input.value.type.shape.forEach((d, axis) => {
      if (typeof d === 'string' && isSymbolName(d) && !sources.has(d)) sources.set(d, { input: input.name, axis });
    });
  }
  return sources;
}

function valueInfo(name: string, v: Value): onnx.IValueInfoProto {
  const dim = v.type.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return { name, type: { tensorType: { elemType: onnxElementType(v.type.dtype), shape: { dim } } } };
}

/** Initializers for the params, inline or (past 2 GiB, or when asked) in one aligned external file. */
function weights(g: Graph, params: ReadonlyMap<string, WeightTensor>, options: OnnxExportOptions): { initializer: onnx.ITensorProto[]; externalData?: ExternalData } {
  const source = '<weights>';
  const checked = g.params.map((p) => {
    const tensor = params.get(p.name);
    if (!tensor) throw new PtmError(diag.weights_missing_tensor(p.loc, source, p.name));
    const dims = p.value.type.shape.map((d) => {
      if (typeof d !== 'number') throw new PtmError(diag.export_unsupported(p.loc, `parameter '${p.name}' has the symbolic shape ${shapeToString(p.value.type.shape)}`));
      return evalDim(d, new Map());
    });
    if (tensor.shape.length !== dims.length || tensor.shape.some((d, i) => d !== dims[i]) || tensor.data.length !== dims.reduce((a, b) => a * b, 1)) {
      throw new PtmError(diag.weights_shape_mismatch(p.loc, source, p.name, shapeToString(dims), shapeToString(tensor.shape)));
    }
    return { param: p, dims, tensor };
  });
  const total = checked.reduce((sum, { param, dims }) => sum + dims.reduce((a, b) => a * b, 1) * onnxElementBytes(param.value.type.dtype), 0);
  if (options.externalDataPath === undefined && total <= INLINE_WEIGHT_LIMIT) {
    return { initializer: checked.map(({ param, dims, tensor }) => inlineTensor(param.name, param.value.type.dtype, dims, tensor.data)) };
  }
  const location = options.externalDataPath ?? `${g.name}.onnx.data`;
  const chunks: ExternalData['chunks'] = [];
  let size = 0;
  const initializer = checked.map(({ param, dims, tensor }) => {
    const bytes = encodeValues(param.value.type.dtype, tensor.data);
    // Large tensors start on a 64 KiB boundary so they can be memory-mapped; the rest on 64 bytes.
    const align = bytes.length >= 2 ** 20 ? 65536 : 64;
    const offset = Math.ceil(size / align) * align;
    chunks.push({ name: param.name, offset, bytes });
    size = offset + bytes.length;
    return externalTensor(param.name, param.value.type.dtype, dims, location, offset, bytes.length);
  });
  return { initializer, externalData: { location, size, chunks } };
}
