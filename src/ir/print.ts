// The textual form of the graph IR: one deterministic line per input, param, op and output, which
// read.ts parses back (`printGraph(readGraph(printGraph(g))) === printGraph(g)`). Never throws, even
// on invalid graphs, because printOp also names ops in diagnostics.
import type { Span } from '../diagnostics/span.js';
import type { Dim } from './dim.js';
import type { MaskExpr } from './mask.js';
import { printMask } from './mask.js';
import type { FusedExpr } from './fused.js';
import { printFused } from './fused.js';
import type { AttrKind } from './ops.js';
import { OPS } from './ops.js';
import type { AttrValue, Graph, InitSpec, Op, TensorType, Value } from './types.js';

/** Names printed bare; anything else (dots, spaces, empty) is printed as a JSON string. */
const BARE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Prints a whole graph; the same graph always gives the same text. */
export function printGraph(g: Graph): string {
  const lines = [`graph ${printName(g.name)} [${g.symbols.join(', ')}] {`];
  for (const input of g.inputs) {
    lines.push(`  input ${input.value.id}${printAlias(input.value, input.name)}: ${printType(input.value.type)}${printLoc(input.loc)}`);
  }
  for (const param of g.params) {
    const head = `param ${param.value.id}${printAlias(param.value, param.name)}: ${printType(param.value.type)}`;
    lines.push(`  ${head} = ${printInit(param.init)}${printLoc(param.loc)}`);
  }
  for (const op of g.ops) lines.push(`  ${printOp(op, true)}`);
  for (const output of g.outputs) lines.push(`  output ${printName(output.name)} = ${output.value.id}${printLoc(output.loc)}`);
  lines.push('}');
  return lines.join('\n') + '\n';
}

/** One op as its IR line, e.g. `%3: f32[batch, 768] = add(%1, %2)`; `withLoc` appends `loc(...)`. */
export function printOp(op: Op, withLoc = false): string {
  const result = op.result ? `${op.result.id}: ${printType(op.result.type)}` : '%?';
  const operands = (op.operands ?? []).map((o) => o?.id ?? '%?').join(', ');
  const attrs = printAttrs(op);
  return `${result} = ${op.op}(${operands})${attrs ? ` {${attrs}}` : ''}${withLoc ? printLoc(op.loc) : ''}`;
}

/** `f32[batch, seq, 768]`; a scalar is `f32[]`. */
export function printType(type: TensorType): string {
  return `${type.dtype}[${type.shape.map(printDim).join(', ')}]`;
}

export function printDim(d: Dim): string {
  return String(d);
}

/**
 * A float that reads back bit-exactly: JS number-to-string round-trips doubles; integral values
 * get `.0` so they read as floats; -0, infinities and NaN have their own spellings.
 */
export function printFloat(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (Object.is(x, -0)) return '-0.0';
  const s = String(x);
  return /^-?\d+$/.test(s) ? `${s}.0` : s;
}

function printAttrs(op: Op): string {
  const kinds = OPS.get(op.op)?.attrs ?? {};
  return Object.keys(op.attrs ?? {})
    .sort()
    .map((name) => `${name} = ${printAttr(op.attrs[name]!, kinds[name], op)}`)
    .join(', ');
}

function printAttr(value: AttrValue, kind: AttrKind | undefined, op: Op): string {
  if (typeof value === 'number') return kind === 'float' ? printFloat(value) : String(value);
  if (typeof value === 'boolean' || typeof value === 'string') return String(value);
  if (Array.isArray(value)) return `[${value.map((v) => printAttr(v, undefined, op)).join(', ')}]`;
  if (kind === 'fused') return JSON.stringify(printFused(value as FusedExpr));
  if (value && typeof value === 'object') return printMask(value as MaskExpr, (i) => op.operands?.[i]?.id ?? `%?${i}`);
  return String(value);
}

function printInit(init: InitSpec): string {
  if (init.kind === 'random_features') return `random_features(${init.seed})`;
  return init.kind === 'normal' ? `normal(${printFloat(init.std)})` : init.kind;
}

/** An input or param whose name is not its id without `%` carries the name as a string. */
function printAlias(value: Value, name: string): string {
  return value.id === `%${name}` ? '' : ` ${JSON.stringify(name)}`;
}

function printName(name: string): string {
  return BARE_NAME.test(name) ? name : JSON.stringify(name);
}

function printLoc(loc: Span | undefined): string {
  return loc && loc.line > 0 ? ` loc(${JSON.stringify(loc.file)}:${loc.line}:${loc.col})` : '';
}
