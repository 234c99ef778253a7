// Attention masks as predicates over the index variables (b, h, q, k) and operand tensors of the
// attention op, never a materialized seq x seq tensor (REFERENCE.md §7). `true` = the key is visible.
// The same expressions, numeric-valued, are the attention op's score bias (T5's relative bias).
import type { Dim } from './dim.js';

export type MaskVar = 'b' | 'h' | 'q' | 'k';
export const MASK_VARS: readonly MaskVar[] = ['b', 'h', 'q', 'k'];

export type MaskBinaryOp = '+' | '-' | '*' | '/' | '%' | '<' | '<=' | '>' | '>=' | '==' | '!=' | '&' | '|';

export type MaskExpr =
  | { kind: 'var'; name: MaskVar }
  /** An integer, or a boolean as 1/0 (`true`/`false` print as such when `bool` is set). */
  | { kind: 'const'; value: number; bool?: boolean }
  /** An element of the attention op's operand `operand` (index into op.operands), indexed by integer expressions. */
  | { kind: 'read'; operand: number; indices: MaskExpr[] }
  | { kind: 'binary'; op: MaskBinaryOp; left: MaskExpr; right: MaskExpr }
  | { kind: 'not'; operand: MaskExpr }
  /** The value of a dimension expression, e.g. `past` (the keys already cached when decoding). */
  | { kind: 'dim'; dim: Dim }
  /**
   * T5's relative-position bucket of `rel` = k - q (Raffel et al. 2020, HF `_relative_position_bucket`):
   * exact buckets for small distances, logarithmic ones up to `maxDistance`, split by sign when
   * `bidirectional`. Computed exactly from integer thresholds (t5BucketThresholds), never in float32.
   */
  | { kind: 't5_bucket'; rel: MaskExpr; buckets: number; maxDistance: number; bidirectional: boolean };

export const maskTrue: MaskExpr = { kind: 'const', value: 1, bool: true };
export const maskVar = (name: MaskVar): MaskExpr => ({ kind: 'var', name });
export const maskConst = (value: number): MaskExpr => ({ kind: 'const', value });
export const maskBin = (op: MaskBinaryOp, left: MaskExpr, right: MaskExpr): MaskExpr => ({ kind: 'binary', op, left, right });
export const maskAnd = (a: MaskExpr, b: MaskExpr): MaskExpr => (isTrue(a) ? b : isTrue(b) ? a : maskBin('&', a, b));
export const maskOr = (a: MaskExpr, b: MaskExpr): MaskExpr => (isTrue(a) || isTrue(b) ? maskTrue : maskBin('|', a, b));
export const maskNot = (a: MaskExpr): MaskExpr => ({ kind: 'not', operand: a });
export const maskRead = (operand: number, indices: MaskExpr[]): MaskExpr => ({ kind: 'read', operand, indices });
export const maskDim = (dim: Dim): MaskExpr => ({ kind: 'dim', dim });

/** The direct children of a node, for walks. */
export function maskChildren(m: MaskExpr): MaskExpr[] {
  switch (m.kind) {
    case 'read': return m.indices;
    case 'binary': return [m.left, m.right];
    case 'not': return [m.operand];
    case 't5_bucket': return [m.rel];
    default: return [];
  }
}

/** Rebuilds `m` with `f` applied to every node bottom-up (f sees the node with mapped children). */
export function mapMask(m: MaskExpr, f: (e: MaskExpr) => MaskExpr): MaskExpr {
  switch (m.kind) {
    case 'read': return f({ ...m, indices: m.indices.map((i) => mapMask(i, f)) });
    case 'binary': return f({ ...m, left: mapMask(m.left, f), right: mapMask(m.right, f) });
    case 'not': return f({ ...m, operand: mapMask(m.operand, f) });
    case 't5_bucket': return f({ ...m, rel: mapMask(m.rel, f) });
    default: return f(m);
  }
}

/** `m` with index variable `name` replaced by `by` (e.g. q by q + past when decoding with a cache). */
export function substituteVar(m: MaskExpr, name: MaskVar, by: MaskExpr): MaskExpr {
  return mapMask(m, (e) => (e.kind === 'var' && e.name === name ? by : e));
}

/** Symbolic dimensions a mask's `dim` nodes use. */
export function maskDims(m: MaskExpr): Dim[] {
  const out: Dim[] = [];
  const walk = (e: MaskExpr): void => {
    if (e.kind === 'dim') out.push(e.dim);
    maskChildren(e).forEach(walk);
  };
  walk(m);
  return out;
}

/**
 * Integer thresholds of T5's logarithmic buckets: for a distance n >= maxExact, the bucket is
 * maxExact + (number of thresholds t with n >= t), capped at the last bucket. Threshold j (1-based) is
 * the least integer n with floor(log(n / maxExact) / log(maxDistance / maxExact) * (half - maxExact)) >= j,
 * found in float64 from the formula, so every backend reproduces the formula with integer compares.
 */
export function t5BucketThresholds(buckets: number, maxDistance: number, bidirectional: boolean): { maxExact: number; offset: number; thresholds: number[] } {
  const half = bidirectional ? Math.floor(buckets / 2) : buckets;
  const maxExact = Math.floor(half / 2);
  if (!(maxExact >= 1 && maxDistance > maxExact)) throw new Error(`t5_bucket: max_distance ${maxDistance} must exceed the ${maxExact} exact buckets (buckets ${buckets}${bidirectional ? ', bidirectional' : ''})`);
  const large = (n: number): number => Math.floor((Math.log(n / maxExact) / Math.log(maxDistance / maxExact)) * (half - maxExact));
  const thresholds: number[] = [];
  let n = maxExact;
  for (let j = 1; j < half - maxExact; j++) {
    while (large(n) < j) n++;
    thresholds.push(n);
  }
  return { maxExact, offset: half, thresholds };
}

const THRESHOLDS = new Map<string, ReturnType<typeof t5BucketThresholds>>();

/** The bucket of relative position `rel` (= k - q), with the integer thresholds above. */
export function t5Bucket(rel: number, buckets: number, maxDistance: number, bidirectional: boolean): number {
  const key = `${buckets}/${maxDistance}/${bidirectional}`;
  let table = THRESHOLDS.get(key);
  if (!table) THRESHOLDS.set(key, (table = t5BucketThresholds(buckets, maxDistance, bidirectional)));
  const { maxExact, offset, thresholds } = table;
  let base = 0, n: number;
  if (bidirectional) {
    if (rel > 0) base = offset;
    n = Math.abs(rel);
  } else n = Math.max(-rel, 0);
  if (n < maxExact) return base + n;
  return base + maxExact + thresholds.filter((t) => n >= t).length;
}

export function isTrue(m: MaskExpr): boolean {
  return m.kind === 'const' && m.bool === true && m.value !== 0;
}

const BOOL_OPS = new Set<MaskBinaryOp>(['<', '<=', '>', '>=', '==', '!=', '&', '|']);
export const isBoolOp = (op: MaskBinaryOp): boolean => BOOL_OPS.has(op);

/** Operand indices a mask reads, in ascending order. */
export function maskOperands(m: MaskExpr): number[] {
  const out = new Set<number>();
  const walk = (e: MaskExpr): void => {
    if (e.kind === 'read') out.add(e.operand);
    maskChildren(e).forEach(walk);
  };
  walk(m);
  return [...out].sort((a, b) => a - b);
}

/** Structural equality. */
export function maskEquals(a: MaskExpr, b: MaskExpr): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Evaluates a mask at one (b, h, q, k). `read(operand, indices)` returns the element (bools as 0/1);
 * `dim(d)` the value of a dimension expression (needed only when the mask has `dim` nodes).
 * Integer division truncates toward zero; `%` has the sign of the dividend (as in C, WGSL and CUDA).
 */
export function evalMask(
  m: MaskExpr,
  vars: Readonly<Record<MaskVar, number>>,
  read: (operand: number, indices: number[]) => number,
  dim: (d: Dim) => number = (d) => {
    if (typeof d === 'number') return d;
    throw new Error(`the mask uses the symbolic dimension ${d}, but no dimension values were given`);
  },
): number {
  switch (m.kind) {
    case 'var':
      return vars[m.name];
    case 'const':
      return m.value;
    case 'dim':
      return dim(m.dim);
    case 't5_bucket':
      return t5Bucket(evalMask(m.rel, vars, read, dim), m.buckets, m.maxDistance, m.bidirectional);
    case 'read':
      return read(m.operand, m.indices.map((i) => evalMask(i, vars, read, dim)));
    case 'not':
      return evalMask(m.operand, vars, read, dim) ? 0 : 1;
    case 'binary': {
      const l = evalMask(m.left, vars, read, dim);
      if (m.op === '&' && !l) return 0;
      if (m.op === '|' && l) return 1;
      const r = evalMask(m.right, vars, read, dim);
      switch (m.op) {
        case '+': return l + r;
        case '-': return l - r;
        case '*': return l * r;
        case '/': return r === 0 ? 0 : Math.trunc(l / r);
        case '%': return r === 0 ? 0 : l % r;
        case '<': return +(l < r);
        case '<=': return +(l <= r);
        case '>': return +(l > r);
        case '>=': return +(l >= r);
        case '==': return +(l === r);
        case '!=': return +(l !== r);
        case '&': return +(l !== 0 && r !== 0);
        case '|': return +(l !== 0 || r !== 0);
      }
    }
  }
}

/** Operator precedence for printing, lowest first (matches the .ptm grammar, REFERENCE.md §6.2). */
const PRECEDENCE: Record<MaskBinaryOp, number> = {
  '|': 1, '&': 2, '<': 3, '<=': 3, '>': 3, '>=': 3, '==': 3, '!=': 3, '+': 4, '-': 4, '*': 5, '/': 5, '%': 5,
};

/** Prints a mask with minimal parentheses; `operandName(i)` names operand i (e.g. `%valid`). */
export function printMask(m: MaskExpr, operandName: (i: number) => string, parent = 0): string {
  switch (m.kind) {
    case 'var':
      return m.name;
    case 'const':
      return m.bool && (m.value === 0 || m.value === 1) ? (m.value ? 'true' : 'false') : String(m.value);
    case 'dim':
      return `dim(${m.dim})`;
    case 't5_bucket':
      return `t5_bucket(${printMask(m.rel, operandName)}, ${m.buckets}, ${m.maxDistance}, ${m.bidirectional})`;
    case 'read':
      return `${operandName(m.operand)}[${m.indices.map((i) => printMask(i, operandName)).join(', ')}]`;
    case 'not':
      return `!${printMask(m.operand, operandName, 10)}`;
    case 'binary': {
      const p = PRECEDENCE[m.op];
      // Comparisons are non-associative and left-assoc ops need parens on the right at equal precedence.
      const text = `${printMask(m.left, operandName, p === 3 ? p + 1 : p)} ${m.op} ${printMask(m.right, operandName, p + 1)}`;
      return p < parent ? `(${text})` : text;
    }
  }
}
