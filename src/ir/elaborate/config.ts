// Evaluates a model's `config` block (REFERENCE.md §3): numbers and arithmetic over other config
// names, in any order, with cycles, non-finite values and bad overrides reported as diagnostics.
import type { ConfigBlock, Expr } from '../../parser/ast.js';
import type { Diagnostic } from '../../diagnostics/diagnostic.js';
import { PtmError } from '../../diagnostics/diagnostic.js';
import { diag } from '../../diagnostics/catalogue.js';
import type { Span } from '../../diagnostics/span.js';
import { nearestName } from '../../diagnostics/suggest.js';

export interface ConfigValue {
  value: number;
  isInteger: boolean;
  span: Span;
}

export type Config = ReadonlyMap<string, ConfigValue>;

/** `--set key=value` from the command line or the API; spans point at the override text. */
export interface ConfigOverride {
  key: string;
  value: number;
  span: Span;
}

const MAX_SAFE = 2 ** 53;

export function evaluateConfig(blocks: readonly ConfigBlock[], overrides: readonly ConfigOverride[], errors: Diagnostic[]): Map<string, ConfigValue> {
  const entries = new Map<string, { expr: Expr; span: Span }>();
  for (const block of blocks) {
    for (const entry of block.entries) {
      const previous = entries.get(entry.name.name);
      if (previous) errors.push(diag.duplicate_definition(entry.name.span, entry.name.name, previous.span));
      else entries.set(entry.name.name, { expr: entry.value, span: entry.name.span });
    }
  }
  const result = new Map<string, ConfigValue>();
  for (const o of overrides) {
    if (!entries.has(o.key)) {
      errors.push(diag.unknown_override(o.span, o.key, nearestName(o.key, entries.keys())));
      continue;
    }
    if (!Number.isFinite(o.value) || Math.abs(o.value) >= MAX_SAFE) {
      errors.push(diag.number_out_of_range(o.span, String(o.value)));
      continue;
    }
    result.set(o.key, { value: o.value, isInteger: Number.isInteger(o.value), span: o.span });
  }

  const visiting: string[] = [];
  const failed = new Set<string>();
  const evalName = (name: string, span: Span): ConfigValue => {
    const done = result.get(name);
    if (done) return done;
    const entry = entries.get(name);
    if (!entry) throw new PtmError(diag.unknown_name(span, name, nearestName(name, entries.keys())));
    if (failed.has(name)) throw new PtmError([]);
    const at = visiting.indexOf(name);
    if (at >= 0) throw new PtmError(diag.config_cycle(entry.span, [...visiting.slice(at), name]));
    visiting.push(name);
    try {
      const v = evalExpr(entry.expr);
      const value = { ...v, span: entry.span };
      result.set(name, value);
      return value;
    } finally {
      visiting.pop();
    }
  };

  const evalExpr = (e: Expr): ConfigValue => {
    switch (e.kind) {
      case 'number':
        return { value: e.value, isInteger: e.isInteger, span: e.span };
      case 'name':
        return { ...evalName(e.name, e.span), span: e.span };
      case 'unary': {
        if (e.op !== '-') break;
        const v = evalExpr(e.operand);
        return { value: -v.value, isInteger: v.isInteger, span: e.span };
      }
      case 'binary': {
        const l = evalExpr(e.left);
        const r = evalExpr(e.right);
        const value = arith(e.op, l, r, e.span);
        if (value === undefined) break;
        return checked(value, e.span);
      }
      default:
        break;
    }
    throw new PtmError(diag.kind_mismatch(e.span, 'a number or arithmetic over config values (+ - * / % **)', describe(e)));
  };

  for (const [name, entry] of entries) {
    try {
      evalName(name, entry.span);
    } catch (err) {
      if (!(err instanceof PtmError)) throw err;
      failed.add(name);
      for (const d of err.diagnostics) if (!errors.some((x) => x.code === d.code && x.span.offset === d.span.offset && x.span.file === d.span.file)) errors.push(d);
    }
  }
  return result;
}

function arith(op: string, l: ConfigValue, r: ConfigValue, span: Span): ConfigValue | undefined {
  const both = l.isInteger && r.isInteger;
  switch (op) {
    case '+': return { value: l.value + r.value, isInteger: both, span };
    case '-': return { value: l.value - r.value, isInteger: both, span };
    case '*': return { value: l.value * r.value, isInteger: both, span };
    case '/': {
      if (r.value === 0) throw new PtmError(diag.division_by_zero(span));
      const value = l.value / r.value;
      return { value, isInteger: both && Number.isInteger(value), span };
    }
    case '%': {
      if (r.value === 0) throw new PtmError(diag.division_by_zero(span));
      return { value: l.value % r.value, isInteger: both, span };
    }
    case '**': {
      const value = l.value ** r.value;
      return { value, isInteger: both && r.value >= 0, span };
    }
    default:
      return undefined;
  }
}

function checked(v: ConfigValue, span: Span): ConfigValue {
  if (!Number.isFinite(v.value) || (v.isInteger && Math.abs(v.value) >= MAX_SAFE)) {
    throw new PtmError(diag.number_out_of_range(span, String(v.value)));
  }
  return v;
}

export function describe(e: Expr): string {
  switch (e.kind) {
    case 'call': return 'a call';
    case 'string': return 'a string';
    case 'bool': return 'a boolean';
    case 'list': return 'a list';
    case 'repeat': return 'a repeat';
    case 'mask_lambda': return 'a mask';
    case 'index': return 'an indexing expression';
    case 'member': return 'a member access';
    case 'transpose': return 'a transpose';
    case 'binary': return `the operator '${e.op}'`;
    case 'unary': return `the operator '${e.op}'`;
    default: return `a ${e.kind}`;
  }
}

/** Parses `--set key=value` texts. */
export function parseOverrides(texts: readonly string[], errors: Diagnostic[]): ConfigOverride[] {
  const out: ConfigOverride[] = [];
  for (const text of texts) {
    const span: Span = { file: '<command line>', line: 0, col: 0, offset: 0, end: 0 };
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(-?[0-9][0-9_]*(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)\s*$/.exec(text);
    if (!m) {
      errors.push(diag.invalid_override(span, text));
      continue;
    }
    out.push({ key: m[1]!, value: Number(m[2]!.replace(/_/g, '')), span });
  }
  return out;
}
