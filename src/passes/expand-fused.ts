// expand-fused: rewrites each fused op (fused_elementwise, fused_matmul, fused_row) back into the graph
// ops it stands for, the inverse of the fuse-* passes, so the cpu interpreter and ONNX export need no
// fused kernels. Post: no fused op is left; inputs, params, outputs and each fused op's result id are
// unchanged (the expansion's last op takes it over); every new op carries the loc of the fused op.
import { diag } from '../diagnostics/catalogue.js';
import { PtmError } from '../diagnostics/diagnostic.js';
import type { Dim } from '../ir/dim.js';
import { shapeToString } from '../ir/dim.js';
import type { FusedExpr } from '../ir/fused.js';
import { printFused } from '../ir/fused.js';
import { ShapeError } from '../ir/ops.js';
import type { Attrs, Graph, Value } from '../ir/types.js';
import { typesEqual } from '../ir/verify.js';
import type { Pass } from './pass.js';
import { OpEmitter, rewriteOps } from './op-emitter.js';

export const FUSED_OPS: ReadonlySet<string> = new Set(['fused_elementwise', 'fused_matmul', 'fused_row']);

/** Appends the ops of one expansion, with fresh ids and the fused op's loc. */
class Emitter extends OpEmitter {
  /** Subtrees already emitted, by their text (`acc` included: it names one value per expansion). */
  private readonly emitted = new Map<string, Value>();

  /** The graph value of a fused body: `operands` are the fused op's, `acc` what its core computed. */
  expr(e: FusedExpr, operands: readonly Value[], acc?: Value): Value {
    const key = printFused(e);
    let v = this.emitted.get(key);
    if (!v) this.emitted.set(key, (v = this.lower(e, operands, acc)));
    return v;
  }

  private lower(e: FusedExpr, operands: readonly Value[], acc?: Value): Value {
    switch (e.kind) {
      case 'input':
        return operand(operands, e.index);
      case 'acc':
        if (!acc) throw new ShapeError('the body uses acc where there is no accumulator');
        return acc;
      case 'const':
        return this.emit('constant', [], { value: e.value, dtype: e.dtype });
      case 'gather': {
        // Chunk c holds rows [c·rowsPerChunk, (c+1)·rowsPerChunk): stacked, they are the whole table.
        const chunks = e.tables.map((t) => operand(operands, t));
        const table = chunks.length === 1 ? chunks[0]! : this.emit('concat', chunks, { axis: 0 });
        const ids = e.ids.kind === 'input' ? operand(operands, e.ids.index) : this.emit('iota', [], iotaAttrs(e.shape[0]!, 'i32', e.ids.start));
        return this.emit('gather', [table, ids], { axis: 0 });
      }
      case 'iota': {
        const iota = this.emit('iota', [], iotaAttrs(e.shape[e.axis]!, e.dtype, e.start));
        return e.shape.length === 1 ? iota : this.emit('reshape', [iota], { shape: [...e.shape] });
      }
      case 'op': {
        const args = e.args.map((a) => this.expr(a, operands, acc));
        return this.emit(e.op, args, e.op === 'cast' ? { to: e.to ?? 'f32' } : {});
      }
    }
  }
}

function iotaAttrs(length: Dim, dtype: 'f32' | 'i32', start: Dim | undefined): Attrs {
  return start === undefined ? { length, dtype } : { length, dtype, start };
}

function operand(operands: readonly Value[], index: number): Value {
  const v = operands[index];
  if (!v) throw new ShapeError(`the body reads operand ${index}, which does not exist`);
  return v;
}

/** layer_norm / rms_norm of `x` with the fused op's weight (and bias) operands; `none` gives x. */
function norm(e: Emitter, kind: string, x: Value, operands: readonly Value[], weight: number, bias: number, eps: number): Value {
  if (kind === 'none') return x;
  if (kind === 'rms_norm') return e.emit('rms_norm', [x, operand(operands, weight)], { eps });
  if (kind === 'layer_norm') return e.emit('layer_norm', [x, operand(operands, weight), operand(operands, bias)], { eps });
  throw new ShapeError(`unknown norm '${kind}'`);
}

type Expansion = (e: Emitter, operands: readonly Value[], attrs: Attrs) => Value;

const EXPANSIONS: Record<string, Expansion> = {
  fused_elementwise: (e, xs, attrs) => e.expr(attrs.expr as FusedExpr, xs),
  // epilogue(norm(a) @ b)
  fused_matmul: (e, xs, attrs) => {
    const a = norm(e, attrs.norm as string, operand(xs, 0), xs, attrs.norm_weight as number, attrs.norm_bias as number, attrs.eps as number);
    return e.expr(attrs.epilogue as FusedExpr, xs, e.emit('matmul', [a, operand(xs, 1)]));
  },
  // epilogue(core(x)) over the last axis
  fused_row: (e, xs, attrs) => {
    const x = e.expr(attrs.x as FusedExpr, xs);
    const kind = attrs.kind as string;
    const core = kind === 'softmax' ? e.emit('softmax', [x], { axis: -1 }) : norm(e, kind, x, xs, attrs.weight as number, attrs.bias as number, attrs.eps as number);
    return e.expr(attrs.epilogue as FusedExpr, xs, core);
  },
};

export const expandFused: Pass = {
  info: {
    name: 'expand-fused',
    summary: 'rewrite fused_elementwise, fused_matmul and fused_row back into the graph ops they stand for',
  },
  run(graph: Graph): Graph {
    return rewriteOps(graph, (op, operands, ops, ids) => {
      const expansion = EXPANSIONS[op.op];
      if (!expansion) return undefined;
      const e = new Emitter(ops, ids, op.loc);
      const start = ops.length;
      let value: Value;
      try {
        value = expansion(e, operands, op.attrs);
        // A body that is a bare operand (or a subtree emitted earlier) still needs an op of its own to
        // carry the result id: a reshape to the same shape is a copy.
        if (ops.length === start || ops[ops.length - 1]!.result !== value) value = e.emit('reshape', [value], { shape: [...value.type.shape] });
      } catch (error) {
        if (error instanceof ShapeError) throw new PtmError(diag.ir_invalid(op.loc, `cannot expand ${op.op} ${op.result.id}: ${error.message}`));
        throw error;
      }
      if (!typesEqual(value.type, op.result.type)) {
        throw new PtmError(diag.internal_error(op.loc, `the expansion of ${op.op} ${op.result.id} gives ${value.type.dtype}${shapeToString(value.type.shape)}, but its type is ${op.result.type.dtype}${shapeToString(op.result.type.shape)}`));
      }
      return value;
    });
  },
};

/** `graph` itself when it holds no fused op (a cheap scan), else its expansion. */
export function expandFusedOps(graph: Graph): Graph {
  return graph.ops.some((op) => FUSED_OPS.has(op.op)) ? expandFused.run(graph, {}, {}) : graph;
}
