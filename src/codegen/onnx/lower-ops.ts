// One entry per primitive IR op: the ONNX node(s) that compute it (ai.onnx, opset 17 and later).
// Most are 1:1; rsqrt is Reciprocal(Sqrt), ne is Not(Equal), iota is Range, shapes come from OnnxNodes.
import type { onnx } from 'onnx-proto';
import { diag } from '../../diagnostics/catalogue.js';
import { PtmError } from '../../diagnostics/diagnostic.js';
import type { Dim } from '../../ir/dim.js';
import { dimAdd } from '../../ir/dim.js';
import type { DType, Op } from '../../ir/types.js';
import type { OnnxNodes } from './onnx-nodes.js';
import { attrInt, attrInts, attrTensor, inlineTensor, onnxElementType } from './onnx-tensors.js';

/** What a lowering sees: the op, its ONNX input names, the name its result must get, the opset. */
export interface LoweringContext {
  op: Op;
  inputs: string[];
  output: string;
  opset: number;
  nodes: OnnxNodes;
}

type Lowering = (ctx: LoweringContext) => void;

const same = (opType: string): Lowering => ({ inputs, output, nodes }) => { nodes.node(opType, inputs, [], output); };

function reduce(opType: string, axesAsInputSince: number): Lowering {
  return ({ op, inputs, output, opset, nodes }) => {
    const axes = op.attrs.axes as number[];
    const keepdims = attrInt('keepdims', op.attrs.keepdims ? 1 : 0);
    // ONNX reads empty axes as "all axes"; the IR reads them as "none".
    if (axes.length === 0) nodes.node('Identity', inputs, [], output);
    else if (opset >= axesAsInputSince) nodes.node(opType, [inputs[0]!, nodes.constant('i64', [axes.length], axes)], [keepdims], output);
    else nodes.node(opType, inputs, [attrInts('axes', axes), keepdims], output);
  };
}

function iota({ op, output, nodes }: LoweringContext): void {
  const dtype = op.attrs.dtype as DType;
  if (dtype === 'bool') throw new PtmError(diag.export_unsupported(op.loc, 'ONNX Range has no bool form; iota must be numeric'));
  // [start, start + length): symbolic bounds come from the Shape of the inputs that bind them
  const start = (op.attrs.start as Dim | undefined) ?? 0;
  const limit = nodes.scalar(dimAdd(start, op.attrs.length as Dim), dtype);
  nodes.node('Range', [nodes.scalar(start, dtype), limit, nodes.constant(dtype, [], [1])], [], output);
}

function slice({ op, inputs, output, nodes }: LoweringContext): void {
  const { axis, start, end, step } = op.attrs as { axis: number; start: Dim; end: Dim; step: number };
  const axes = nodes.constant('i64', [1], [axis]);
  nodes.node('Slice', [inputs[0]!, nodes.dim(start), nodes.dim(end), axes, nodes.constant('i64', [1], [step])], [], output);
}

function constant({ op, output, nodes }: LoweringContext): void {
  const dtype = op.attrs.dtype as DType;
  const tensor: onnx.ITensorProto = inlineTensor('', dtype, [], [op.attrs.value as number]);
  nodes.node('Constant', [], [attrTensor('value', tensor)], output);
}

export const LOWERINGS: Record<string, Lowering> = {
  exp: same('Exp'), log: same('Log'), sin: same('Sin'), cos: same('Cos'), sqrt: same('Sqrt'), tanh: same('Tanh'), erf: same('Erf'),
  sigmoid: same('Sigmoid'), neg: same('Neg'), abs: same('Abs'), relu: same('Relu'), not: same('Not'),
  rsqrt: ({ inputs, output, nodes }) => { nodes.node('Reciprocal', [nodes.node('Sqrt', inputs)], [], output); },
  add: same('Add'), sub: same('Sub'), mul: same('Mul'), div: same('Div'), pow: same('Pow'),
  max: same('Max'), min: same('Min'), and: same('And'), or: same('Or'),
  eq: same('Equal'), lt: same('Less'), le: same('LessOrEqual'), gt: same('Greater'), ge: same('GreaterOrEqual'),
  ne: ({ inputs, output, nodes }) => { nodes.node('Not', [nodes.node('Equal', inputs)], [], output); },
  where: same('Where'),
  cast: ({ op, inputs, output, nodes }) => { nodes.node('Cast', inputs, [attrInt('to', onnxElementType(op.attrs.to as DType))], output); },
  constant,
  iota,
  // allowzero: a 0 in the shape is a real 0, not "copy the input's dimension"
  reshape: ({ op, inputs, output, nodes }) => { nodes.node('Reshape', [inputs[0]!, nodes.shape(op.attrs.shape as Dim[])], [attrInt('allowzero', 1)], output); },
  transpose: ({ op, inputs, output, nodes }) => { nodes.node('Transpose', inputs, [attrInts('perm', op.attrs.perm as number[])], output); },
  slice,
  concat: ({ op, inputs, output, nodes }) => { nodes.node('Concat', inputs, [attrInt('axis', op.attrs.axis as number)], output); },
  gather: ({ op, inputs, output, nodes }) => { nodes.node('Gather', inputs, [attrInt('axis', op.attrs.axis as number)], output); },
  reduce_sum: reduce('ReduceSum', 13),
  reduce_mean: reduce('ReduceMean', 18),
  reduce_max: reduce('ReduceMax', 18),
  matmul: same('MatMul'),
};
