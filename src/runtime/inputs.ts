// Input tensors for a run: read from a JSON file of nested arrays, or generated from a seed so that
// ids stay in range of the tables they index and padding masks have some (never all) positions off.
import { PtmError, diag, nearestName, noSpan } from '../diagnostics/index.js';
import { evalDim } from '../ir/dim.js';
import type { MaskExpr } from '../ir/mask.js';
import { normalizeAxis } from '../ir/ops.js';
import type { DType, Graph, Input, Op } from '../ir/types.js';
import { isFloat } from '../ir/types.js';
import { readBytes } from './files.js';
import { RandomStream } from './random.js';
import { concreteShape } from './shapes.js';
import type { Tensor } from './tensor.js';
import { allocate, size, tensor } from './tensor.js';

const badFile = (file: string, message: string): PtmError => new PtmError(diag.invalid_input_file(noSpan(file), message));

/** Flattens a nested array, checking that it is rectangular and that each leaf fits `dtype`. */
function flatten(value: unknown, dtype: DType, name: string, file: string): { shape: number[]; values: number[] } {
  const shape: number[] = [];
  for (let v = value; Array.isArray(v); v = v[0]) shape.push(v.length);
  const values: number[] = [];
  const walk = (v: unknown, depth: number, where: string): void => {
    if (depth < shape.length) {
      if (!Array.isArray(v) || v.length !== shape[depth]) {
        const got = Array.isArray(v) ? `${v.length} elements` : JSON.stringify(v);
        throw badFile(file, `input '${name}' is ragged: ${where} should be an array of ${shape[depth]} elements, got ${got}`);
      }
      v.forEach((x, i) => walk(x, depth + 1, `${where}[${i}]`));
      return;
    }
    values.push(leaf(v, dtype, name, where, file));
  };
  walk(value, 0, name);
  return { shape, values };
}

function leaf(v: unknown, dtype: DType, name: string, where: string, file: string): number {
  if (dtype === 'bool') {
    if (typeof v !== 'boolean') throw badFile(file, `input '${name}' is bool: ${where} must be true or false, got ${JSON.stringify(v)}`);
    return v ? 1 : 0;
  }
  if (isFloat(dtype)) {
    if (typeof v === 'number') return v;
    // JSON has no inf/nan literals; accept the spellings Python's json module writes.
    if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') return Number(v);
    throw badFile(file, `input '${name}' is ${dtype}: ${where} must be a number, got ${JSON.stringify(v)}`);
  }
  const limit = dtype === 'i32' ? 2 ** 31 : 2 ** 53;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -limit || v >= limit) {
    throw badFile(file, `input '${name}' is ${dtype}: ${where} must be an integer in range, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** `{"ids": [[1, 2, 3]], "valid": [[true, true, false]]}`: one nested array (or scalar) per graph input. */
export function readInputsJson(path: string, graph: Graph): Record<string, Tensor> {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(readBytes(path)));
  } catch (e) {
    if (e instanceof PtmError) throw e;
    throw badFile(path, `not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw badFile(path, 'expected a JSON object mapping input names to nested arrays');
  const names = graph.inputs.map((i) => i.name);
  const given = json as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!names.includes(key)) throw new PtmError(diag.unknown_input(noSpan(path), key, nearestName(key, names)));
  }
  const out: Record<string, Tensor> = {};
  for (const input of graph.inputs) {
    if (!Object.hasOwn(given, input.name)) throw new PtmError(diag.missing_input(noSpan(path), input.name));
    const dtype = input.value.type.dtype;
    const { shape, values } = flatten(given[input.name], dtype, input.name, path);
    out[input.name] = tensor(dtype, shape, values);
  }
  return out;
}

/** Every mask expression node, depth first. */
function* maskNodes(m: MaskExpr): Generator<MaskExpr> {
  yield m;
  if (m.kind === 'read') for (const i of m.indices) yield* maskNodes(i);
  else if (m.kind === 'binary') { yield* maskNodes(m.left); yield* maskNodes(m.right); }
  else if (m.kind === 'not') yield* maskNodes(m.operand);
}

/**
 * Exclusive upper bound for a random integer input: the table size along the axis it gathers from;
 * for a tensor an attention mask reads, the size of the axis it indexes inside another read, else
 * the number of keys; otherwise the smallest symbol value above 1 (2 if none).
 */
function intBound(graph: Graph, input: Input, symbols: ReadonlyMap<string, number>): number {
  const id = input.value.id;
  const bounds: number[] = [];
  // NaN when a symbol has no size; such bounds are dropped below.
  const dim = (op: Op, operand: number, axis: number): number => {
    try {
      return evalDim(op.operands[operand]!.type.shape[axis]!, symbols);
    } catch {
      return NaN;
    }
  };
  for (const op of graph.ops) {
    if (op.op === 'gather' && op.operands[1]!.id === id) {
      bounds.push(dim(op, 0, normalizeAxis(op.attrs.axis as number, op.operands[0]!.type.shape.length)));
    } else if (op.op === 'attention') {
      const reads = (operand: number): boolean => operand >= 3 && op.operands[operand]!.id === id;
      let read = false;
      const inner: number[] = [];
      for (const node of maskNodes(op.attrs.mask as MaskExpr)) {
        if (node.kind !== 'read') continue;
        if (reads(node.operand)) read = true;
        node.indices.forEach((ix, axis) => {
          if (ix.kind === 'read' && reads(ix.operand)) inner.push(dim(op, node.operand, axis));
        });
      }
      if (inner.length > 0) bounds.push(...inner);
      else if (read) bounds.push(dim(op, 1, 2));
    }
  }
  const known = bounds.filter((b) => !Number.isNaN(b));
  if (known.length > 0) return Math.max(1, Math.min(...known));
  const sizes = [...symbols.values()].filter((v) => v > 1);
  return sizes.length > 0 ? Math.min(...sizes) : 2;
}

/**
 * Deterministic inputs for `symbols`: floats standard normal; integers uniform in [0, bound) (see
 * intBound); bools all true except the last quarter of the last axis in the last batch row, so
 * padding masks are exercised and no row is all false. Depends only on (seed, input name, shape).
 */
export function randomInputs(graph: Graph, seed: number, symbols: ReadonlyMap<string, number>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const input of graph.inputs) {
    const { dtype, shape: dims } = input.value.type;
    const shape = concreteShape(dims, symbols, input.loc, `random input '${input.name}' (give sizes with --dim NAME=N)`);
    const n = size(shape);
    const data = allocate(dtype, n);
    const stream = new RandomStream(seed, `input:${input.name}`);
    if (isFloat(dtype)) stream.normals(n, data as Float32Array);
    else if (dtype === 'bool') fillPaddingMask(data as Uint8Array, shape);
    else {
      const bound = intBound(graph, input, symbols);
      for (let i = 0; i < n; i++) data[i] = stream.below(i, bound);
    }
    out[input.name] = tensor(dtype, shape, data);
  }
  return out;
}

function fillPaddingMask(data: Uint8Array, shape: readonly number[]): void {
  data.fill(1);
  if (shape.length === 0 || data.length === 0) return;
  const last = shape[shape.length - 1]!;
  const padded = Math.floor(last / 4);
  // Rank 1: the tensor is one row; otherwise the rows whose first index is the last batch entry.
  const rowsStart = shape.length === 1 ? 0 : (shape[0]! - 1) * (size(shape) / shape[0]!);
  for (let row = rowsStart; row < data.length; row += last) data.fill(0, row + last - padded, row + last);
}
