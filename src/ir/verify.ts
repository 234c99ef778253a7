// The graph verifier: the contract every pass must keep (ARCHITECTURE.md, "The Graph IR is the
// contract"). It reports every problem it finds as an `ir_invalid` diagnostic at the offending
// op's loc, naming the op; an empty list means the graph is valid.
import { diag } from '../diagnostics/catalogue.js';
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import { PtmError } from '../diagnostics/diagnostic.js';
import type { Span } from '../diagnostics/span.js';
import { noSpan } from '../diagnostics/span.js';
import type { Dim } from './dim.js';
import { dimSymbols, isSymbolName, parseDim } from './dim.js';
import type { MaskExpr } from './mask.js';
import { MASK_VARS, t5BucketThresholds } from './mask.js';
import { OPS, inferType } from './ops.js';
import { printOp, printType } from './print.js';
import type { Graph, Op, TensorType, Value } from './types.js';
import { DTYPES } from './types.js';

/** Value ids the textual form can spell: `%` and then letters, digits, `_` and `.`. */
const VALUE_ID = /^%[A-Za-z0-9_.]+$/;

/** All the problems in a graph, in graph order; empty when the graph is valid. */
export function verifyGraph(g: Graph): Diagnostic[] {
  return new Verifier(g).run();
}

/** Throws PtmError carrying every problem when the graph is not valid. */
export function assertValid(g: Graph): void {
  const problems = verifyGraph(g);
  if (problems.length > 0) throw new PtmError(problems);
}

export function typesEqual(a: TensorType, b: TensorType): boolean {
  return a.dtype === b.dtype && a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
}

class Verifier {
  private readonly out: Diagnostic[] = [];
  private readonly defined = new Map<string, Value>();
  private readonly symbols: Set<string>;
  /** Undeclared symbols already reported: each is reported once, where it is first used. */
  private readonly undeclared = new Set<string>();

  constructor(private readonly g: Graph) {
    this.symbols = new Set(g.symbols);
  }

  run(): Diagnostic[] {
    const seen = new Set<string>();
    for (const s of this.g.symbols) {
      if (!isSymbolName(s)) this.report(noSpan(), `graph ${this.g.name}: '${s}' is not a valid symbol name`);
      if (seen.has(s)) this.report(noSpan(), `graph ${this.g.name}: symbol '${s}' is declared twice`);
      seen.add(s);
    }
    const inputNames = new Set<string>();
    for (const input of this.g.inputs) {
      const what = `input ${input.value.id}`;
      this.checkName(input.name, inputNames, what, input.loc);
      this.define(input.value, what, input.loc);
    }
    const paramNames = new Set<string>();
    for (const param of this.g.params) {
      const what = `param ${param.value.id}`;
      this.checkName(param.name, paramNames, what, param.loc);
      const init = param.init;
      const badFeatures = init.kind === 'random_features' && !(Number.isSafeInteger(init.seed) && init.seed >= 0 && param.value.type.shape.length === 2 && Number(param.value.type.shape[0]) % 2 === 0);
      if (init.kind === 'random_features' ? badFeatures : init.kind === 'normal' ? !(Number.isFinite(init.std) && init.std >= 0) : init.kind !== 'zeros' && init.kind !== 'ones') {
        this.report(param.loc, `${what}: invalid initializer ${JSON.stringify(init)}`);
      }
      this.define(param.value, what, param.loc);
    }
    for (const op of this.g.ops) this.checkOp(op);
    const outputNames = new Set<string>();
    for (const output of this.g.outputs) {
      const what = `output ${output.name}`;
      this.checkName(output.name, outputNames, what, output.loc);
      this.checkUse(output.value, what, output.loc);
    }
    return this.out;
  }

  private checkOp(op: Op): void {
    const what = printOp(op);
    const loc = op.loc ?? noSpan();
    let wellFormed = true;
    op.operands.forEach((operand) => { wellFormed = this.checkUse(operand, what, loc) && wellFormed; });
    const spec = OPS.get(op.op);
    if (!spec) {
      this.report(loc, `${what}: unknown op '${op.op}'`);
    } else {
      for (const [name, kind] of Object.entries(spec.attrs)) {
        const value = op.attrs[name];
        if (kind === 'dim' && (typeof value === 'number' || typeof value === 'string')) {
          wellFormed = this.checkDim(value, `${what}: attribute '${name}'`, loc, false) && wellFormed;
        } else if (kind === 'dims' && Array.isArray(value)) {
          for (const d of value) wellFormed = this.checkDim(d as Dim, `${what}: attribute '${name}'`, loc, false) && wellFormed;
        } else if (kind === 'mask' && value && typeof value === 'object' && !Array.isArray(value)) {
          wellFormed = this.checkMask(value as MaskExpr, op, what, loc) && wellFormed;
        }
      }
      if (wellFormed) this.checkInference(op, what, loc);
    }
    this.define(op.result, what, loc);
  }

  private checkInference(op: Op, what: string, loc: Span): void {
    let inferred: TensorType;
    try {
      inferred = inferType(op.op, op.operands.map((o) => o.type), op.attrs);
    } catch (e) {
      this.report(loc, `${what}: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    if (!typesEqual(inferred, op.result.type)) {
      this.report(loc, `${what}: the result is recorded as ${printType(op.result.type)} but the op gives ${printType(inferred)}`);
    }
  }

  /** Mask reads name a mask operand (index >= 3) with one index per axis; constants are integers. */
  private checkMask(m: MaskExpr, op: Op, what: string, loc: Span): boolean {
    let ok = true;
    const fail = (message: string): void => {
      this.report(loc, `${what}: ${message}`);
      ok = false;
    };
    const walk = (e: MaskExpr): void => {
      switch (e.kind) {
        case 'var':
          if (!MASK_VARS.includes(e.name)) fail(`the mask uses an unknown index variable '${e.name}'`);
          return;
        case 'const':
          if (!Number.isSafeInteger(e.value)) fail(`the mask constant ${e.value} is not an integer`);
          return;
        case 'not':
          return walk(e.operand);
        case 'dim':
          if (typeof e.dim === 'string' && e.dim.length === 0) fail('the mask has an empty dim()');
          return;
        case 't5_bucket':
          if (!Number.isInteger(e.buckets) || !Number.isInteger(e.maxDistance) || typeof e.bidirectional !== 'boolean') {
            fail(`t5_bucket needs integer buckets and max_distance, got ${e.buckets}, ${e.maxDistance}`);
          } else {
            try {
              t5BucketThresholds(e.buckets, e.maxDistance, e.bidirectional);
            } catch (err) {
              fail((err as Error).message);
            }
          }
          return walk(e.rel);
        case 'binary':
          walk(e.left);
          return walk(e.right);
        case 'read': {
          const operand = op.operands[e.operand];
          if (!Number.isInteger(e.operand) || e.operand < 3 || !operand) {
            fail(`the mask reads operand ${e.operand}, but only operands 3 to ${op.operands.length - 1} are mask tensors`);
          } else if (operand.type.shape.length !== e.indices.length) {
            fail(`the mask reads ${operand.id} with ${e.indices.length} indices, but it has rank ${operand.type.shape.length}`);
          }
          e.indices.forEach(walk);
          return;
        }
        default:
          fail(`malformed mask node ${JSON.stringify(e)}`);
      }
    };
    walk(m);
    return ok;
  }

  /** A use of a value: defined earlier, with the type it was defined with. */
  private checkUse(value: Value, what: string, loc: Span): boolean {
    const def = this.defined.get(value.id);
    if (!def) {
      this.report(loc, `${what}: ${value.id} is used before it is defined`);
      return false;
    }
    if (!typesEqual(def.type, value.type)) {
      this.report(loc, `${what}: ${value.id} is used as ${printType(value.type)} but defined as ${printType(def.type)}`);
      return false;
    }
    return true;
  }

  private define(value: Value, what: string, loc: Span): void {
    if (!VALUE_ID.test(value.id)) this.report(loc, `${what}: '${value.id}' is not a valid value id (expected % and letters, digits, '_' or '.')`);
    if (this.defined.has(value.id)) this.report(loc, `${what}: ${value.id} is defined twice`);
    else this.defined.set(value.id, value);
    this.checkType(value.type, what, loc);
  }

  private checkType(type: TensorType, what: string, loc: Span): void {
    if (!DTYPES.includes(type.dtype)) this.report(loc, `${what}: unknown dtype '${type.dtype}'`);
    for (const d of type.shape) this.checkDim(d, what, loc, true);
  }

  /** A dimension is a safe integer (non-negative in a shape) or a canonical polynomial over declared symbols. */
  private checkDim(d: Dim, what: string, loc: Span, inShape: boolean): boolean {
    if (typeof d === 'number') {
      if (Number.isSafeInteger(d) && (!inShape || d >= 0)) return true;
      this.report(loc, `${what}: ${d} is not a valid dimension`);
      return false;
    }
    let canonical: Dim | undefined;
    try {
      canonical = parseDim(d);
    } catch {
      canonical = undefined;
    }
    if (canonical !== d) {
      this.report(loc, `${what}: dimension '${d}' is not in canonical form${canonical === undefined ? '' : ` (write ${canonical})`}`);
      return false;
    }
    const undeclared = dimSymbols(d).filter((s) => !this.symbols.has(s));
    for (const s of undeclared) {
      if (!this.undeclared.has(s)) this.report(loc, `${what}: symbol '${s}' is not declared in the graph's symbols [${this.g.symbols.join(', ')}]`);
      this.undeclared.add(s);
    }
    return undeclared.length === 0;
  }

  private checkName(name: string, seen: Set<string>, what: string, loc: Span): void {
    if (!name) this.report(loc, `${what}: the name is empty`);
    else if (seen.has(name)) this.report(loc, `${what}: the name '${name}' is used twice`);
    seen.add(name);
  }

  private report(span: Span, message: string): void {
    this.out.push(diag.ir_invalid(span, message));
  }
}
