// Tile classification of attention masks (DSL.md, "Attention masks are predicates"): interval
// arithmetic over the predicate with q ∈ [q0, q1], k ∈ [k0, k1] and b, h exact says whether a
// (query tile, key tile) is fully masked, fully visible or partial. One evaluator, two number domains:
// JS numbers (`classifyTile`, unit-tested against brute force) and i32 kernel IR (run once per tile).
// `dim(d)` values are launch parameters: exact and the same for every tile.
import type { Dim } from '../../ir/dim.js';
import type { MaskExpr, MaskVar } from '../../ir/mask.js';
import { maskChildren, t5BucketThresholds } from '../../ir/mask.js';
import type { Expr } from '../kernel-ir/types.js';
import * as k from '../kernel-ir/build.js';

export type TileClass = 'masked' | 'visible' | 'partial';

/** Integer arithmetic with evalMask's semantics; truth values are 0/1 of the same type. */
export interface Domain<V> {
  c(n: number): V;
  add(a: V, b: V): V;
  sub(a: V, b: V): V;
  mul(a: V, b: V): V;
  /** Truncating; x / 0 = 0. */
  div(a: V, b: V): V;
  /** Sign of the dividend; x % 0 = 0. */
  mod(a: V, b: V): V;
  min(a: V, b: V): V;
  max(a: V, b: V): V;
  lt(a: V, b: V): V;
  le(a: V, b: V): V;
  eq(a: V, b: V): V;
  /** cond (0/1) ? a : b */
  select(cond: V, a: V, b: V): V;
  /** The value when it is a known constant (lets the evaluator pick tighter rules). */
  known(a: V): number | undefined;
}

/** [lo, hi]; `lo === hi` (same object) marks an exact value; `truth` marks a 0/1 value. */
export interface Bounds<V> {
  lo: V;
  hi: V;
  truth?: boolean;
}

/** How reads of mask tensors are bounded over a tile. */
export interface TileReads<V> {
  /** The element at exact indices (undefined = unknown). */
  exact(operand: number, indices: V[]): V | undefined;
  /** [min, max] of the elements as the one index marked 'q' or 'k' runs over the tile's range. */
  range(read: RangeRead, indices: (V | 'q' | 'k')[]): Bounds<V> | undefined;
  /** Bounds of an element at indices the tile does not pin down; undefined = any integer. */
  unknown(operand: number): Bounds<V> | undefined;
}

export interface TileEnv<V> {
  b: V;
  h: V;
  q: [V, V];
  k: [V, V];
  reads: TileReads<V>;
  /** The value of a dimension expression (`dim(past)`). */
  dim(d: Dim): V;
}

/** True when `m` does not depend on q or k (so it is exact over a tile). */
export function tileInvariant(m: MaskExpr): boolean {
  switch (m.kind) {
    case 'var': return m.name !== 'q' && m.name !== 'k';
    case 'const': return true;
    case 'read': return m.indices.every(tileInvariant);
    case 'not': return tileInvariant(m.operand);
    case 'binary': return tileInvariant(m.left) && tileInvariant(m.right);
    case 'dim': return true;
    case 't5_bucket': return tileInvariant(m.rel);
  }
}

/** A read bounded by a per-tile min/max: every index tile-invariant except one that is exactly q or k. */
export interface RangeRead {
  operand: number;
  axis: number;
  along: 'q' | 'k';
  indices: MaskExpr[];
  /** Stable identity for deduplication. */
  key: string;
}

export function rangeRead(m: MaskExpr & { kind: 'read' }): RangeRead | undefined {
  const moving = m.indices.flatMap((x, axis) => (tileInvariant(x) ? [] : [axis]));
  if (moving.length !== 1) return undefined;
  const axis = moving[0]!, index = m.indices[axis]!;
  if (index.kind !== 'var' || (index.name !== 'q' && index.name !== 'k')) return undefined;
  return { operand: m.operand, axis, along: index.name, indices: m.indices, key: JSON.stringify(m) };
}

/** Every range read of a mask, deduplicated (the attention kernel precomputes one min/max each per tile). */
export function rangeReads(m: MaskExpr): RangeRead[] {
  const out = new Map<string, RangeRead>();
  const walk = (e: MaskExpr): void => {
    if (e.kind === 'read') {
      const r = rangeRead(e);
      if (r) out.set(r.key, r);
    }
    maskChildren(e).forEach(walk);
  };
  walk(m);
  return [...out.values()];
}

const exactly = <V>(v: V, truth = false): Bounds<V> => ({ lo: v, hi: v, truth });
const isExact = <V>(b: Bounds<V>): boolean => b.lo === b.hi;

/** Bounds of `m` over the tile; undefined = unknown. */
export function maskBounds<V>(m: MaskExpr, D: Domain<V>, env: TileEnv<V>): Bounds<V> | undefined {
  switch (m.kind) {
    case 'const': return exactly(D.c(m.value), m.bool);
    case 'dim': return exactly(env.dim(m.dim));
    case 't5_bucket': return t5Bounds(m, maskBounds(m.rel, D, env), D);
    case 'var': {
      const v: MaskVar = m.name;
      return v === 'q' ? { lo: env.q[0], hi: env.q[1] } : v === 'k' ? { lo: env.k[0], hi: env.k[1] } : exactly(env[v]);
    }
    case 'not': {
      const t = truth(maskBounds(m.operand, D, env), D);
      return join(D.sub(D.c(1), t.hi), isExact(t) ? undefined : D.sub(D.c(1), t.lo), true);
    }
    case 'read': {
      // Tile-invariant indices are exact (lo === hi); a range read has one index that is q or k.
      const r = rangeRead(m);
      const fixed = m.indices.map((x, axis) => (axis === r?.axis ? undefined : maskBounds(x, D, env)));
      const known = fixed.every((x, axis) => axis === r?.axis || (x !== undefined && isExact(x)));
      if (known && !r) {
        const v = env.reads.exact(m.operand, fixed.map((x) => x!.lo));
        if (v !== undefined) return exactly(v);
      } else if (known && r) {
        const v = env.reads.range(r, fixed.map((x, axis) => (axis === r.axis ? r.along : x!.lo)));
        if (v) return v;
      }
      return env.reads.unknown(m.operand);
    }
    case 'binary': {
      const a = maskBounds(m.left, D, env), b = maskBounds(m.right, D, env);
      if (m.op === '&' || m.op === '|') {
        const ta = truth(a, D), tb = truth(b, D);
        const f = m.op === '&' ? D.min.bind(D) : D.max.bind(D);
        return join(f(ta.lo, tb.lo), isExact(ta) && isExact(tb) ? undefined : f(ta.hi, tb.hi), true);
      }
      if (!a || !b) return ['+', '-', '*', '/', '%'].includes(m.op) ? undefined : { lo: D.c(0), hi: D.c(1), truth: true };
      switch (m.op) {
        case '+': return bothExact(a, b) ? exactly(D.add(a.lo, b.lo)) : { lo: D.add(a.lo, b.lo), hi: D.add(a.hi, b.hi) };
        case '-': return bothExact(a, b) ? exactly(D.sub(a.lo, b.lo)) : { lo: D.sub(a.lo, b.hi), hi: D.sub(a.hi, b.lo) };
        case '*': return bothExact(a, b) ? exactly(D.mul(a.lo, b.lo)) : corners(a, b, D.mul.bind(D), D);
        case '/': return divBounds(a, b, D);
        case '%': return modBounds(a, b, D);
        case '<': return compare(a, b, D.lt.bind(D));
        case '<=': return compare(a, b, D.le.bind(D));
        case '>': return compare(b, a, D.lt.bind(D));
        case '>=': return compare(b, a, D.le.bind(D));
        case '==': return equal(a, b, D);
        case '!=': {
          const e = equal(a, b, D);
          return join(D.sub(D.c(1), e.hi), isExact(e) ? undefined : D.sub(D.c(1), e.lo), true);
        }
      }
    }
  }
}

function join<V>(lo: V, hi: V | undefined, truth = false): Bounds<V> {
  return { lo, hi: hi ?? lo, truth };
}
const bothExact = <V>(a: Bounds<V>, b: Bounds<V>): boolean => isExact(a) && isExact(b);

/** Truth value bounds: certainly true when 0 ∉ [lo, hi], certainly false when lo = hi = 0. */
function truth<V>(x: Bounds<V> | undefined, D: Domain<V>): Bounds<V> {
  if (!x) return { lo: D.c(0), hi: D.c(1), truth: true };
  if (x.truth) return x;
  const zero = D.c(0);
  if (isExact(x)) return exactly(D.sub(D.c(1), D.eq(x.lo, zero)), true);
  const lo = D.max(D.lt(zero, x.lo), D.lt(x.hi, zero));
  const hi = D.sub(D.c(1), D.min(D.eq(x.lo, zero), D.eq(x.hi, zero)));
  return { lo, hi, truth: true };
}

/** a < b (or <=, via `op`): certainly when a.hi op b.lo, possibly when a.lo op b.hi. */
function compare<V>(a: Bounds<V>, b: Bounds<V>, op: (x: V, y: V) => V): Bounds<V> {
  return join(op(a.hi, b.lo), bothExact(a, b) ? undefined : op(a.lo, b.hi), true);
}

function equal<V>(a: Bounds<V>, b: Bounds<V>, D: Domain<V>): Bounds<V> {
  if (bothExact(a, b)) return exactly(D.eq(a.lo, b.lo), true);
  const lo = D.min(D.min(D.eq(a.lo, a.hi), D.eq(b.lo, b.hi)), D.eq(a.lo, b.lo));
  const hi = D.min(D.le(b.lo, a.hi), D.le(a.lo, b.hi));
  return { lo, hi, truth: true };
}

/** min and max of f over the four corners (valid for f monotone in each argument over the box). */
function corners<V>(a: Bounds<V>, b: Bounds<V>, f: (x: V, y: V) => V, D: Domain<V>): Bounds<V> {
  const xs = [f(a.lo, b.lo), f(a.lo, b.hi), f(a.hi, b.lo), f(a.hi, b.hi)];
  return { lo: xs.reduce((p, x) => D.min(p, x)), hi: xs.reduce((p, x) => D.max(p, x)) };
}

const absV = <V>(x: V, D: Domain<V>): V => D.max(x, D.sub(D.c(0), x));

/**
 * Truncating division. A divisor range without 0: trunc(x / y) is monotone in x and in y, so the
 * corners bound it. With 0 inside: |x / y| <= |x| (|y| >= 1, and x / 0 = 0), so [-M, M].
 */
function divBounds<V>(a: Bounds<V>, b: Bounds<V>, D: Domain<V>): Bounds<V> {
  if (bothExact(a, b)) return exactly(D.div(a.lo, b.lo));
  const c = isExact(b) ? D.known(b.lo) : undefined;
  if (c === 0) return exactly(D.c(0));
  if (c !== undefined) return c > 0 ? { lo: D.div(a.lo, b.lo), hi: D.div(a.hi, b.lo) } : { lo: D.div(a.hi, b.lo), hi: D.div(a.lo, b.lo) };
  const q = corners(a, b, D.div.bind(D), D);
  const bound = D.max(absV(a.lo, D), absV(a.hi, D));
  const noZero = D.max(D.lt(D.c(0), b.lo), D.lt(b.hi, D.c(0)));
  return { lo: D.select(noZero, q.lo, D.sub(D.c(0), bound)), hi: D.select(noZero, q.hi, bound) };
}

/**
 * x % y has the sign of x, |x % y| <= |x| and |x % y| <= max|y| - 1; 0 is always possible. With a
 * constant y = c > 0 and 0 <= x.lo whose range lies in one period (x.lo / c == x.hi / c), x % c is
 * x - const, so [x.lo % c, x.hi % c]: in kernel IR the range is known only at run time (a point range
 * there is two different expressions), and this keeps a hash of q / block exact over a tile inside
 * one block (random_blocks).
 */
function modBounds<V>(a: Bounds<V>, b: Bounds<V>, D: Domain<V>): Bounds<V> {
  if (bothExact(a, b)) return exactly(D.mod(a.lo, b.lo));
  const zero = D.c(0);
  const limit = D.max(D.sub(D.max(absV(b.lo, D), absV(b.hi, D)), D.c(1)), zero);
  const lo = D.min(zero, D.max(a.lo, D.sub(zero, limit))), hi = D.max(zero, D.min(a.hi, limit));
  const c = isExact(b) ? D.known(b.lo) : undefined;
  if (c === undefined || c <= 0) return { lo, hi };
  const onePeriod = D.min(D.le(zero, a.lo), D.eq(D.div(a.lo, b.lo), D.div(a.hi, b.lo)));
  return { lo: D.select(onePeriod, D.mod(a.lo, b.lo), lo), hi: D.select(onePeriod, D.mod(a.hi, b.lo), hi) };
}

type T5Node = Extract<MaskExpr, { kind: 't5_bucket' }>;

/** T5's bucket of a distance n >= 0 before the direction offset: min(n, maxExact) + #{thresholds <= n}. */
function t5Distance<V>(D: Domain<V>, n: V, t: ReturnType<typeof t5BucketThresholds>): V {
  return t.thresholds.reduce((sum, threshold) => D.add(sum, D.le(D.c(threshold), n)), D.min(n, D.c(t.maxExact)));
}

/**
 * T5's relative-position bucket of `rel` = k - q with integer compares only (t5BucketThresholds):
 * bidirectional, keys after the query take the upper half of the buckets; otherwise only keys
 * before it are told apart (n = max(-rel, 0)).
 */
export function t5BucketOf<V>(D: Domain<V>, rel: V, node: T5Node): V {
  const t = t5BucketThresholds(node.buckets, node.maxDistance, node.bidirectional);
  const zero = D.c(0), minus = D.sub(zero, rel);
  if (!node.bidirectional) return t5Distance(D, D.max(minus, zero), t);
  return D.add(D.select(D.lt(zero, rel), D.c(t.offset), zero), t5Distance(D, D.max(rel, minus), t));
}

/**
 * Bounds of the bucket over rel ∈ [lo, hi]: the distance part is non-decreasing in n; bidirectional,
 * every bucket of rel > 0 (>= offset) lies above every bucket of rel <= 0 (< offset).
 */
function t5Bounds<V>(node: T5Node, rel: Bounds<V> | undefined, D: Domain<V>): Bounds<V> {
  const t = t5BucketThresholds(node.buckets, node.maxDistance, node.bidirectional);
  if (!rel) return { lo: D.c(0), hi: D.c((node.bidirectional ? t.offset : 0) + t.thresholds.length + t.maxExact) };
  if (isExact(rel)) return exactly(t5BucketOf(D, rel.lo, node));
  const zero = D.c(0), f = (n: V) => t5Distance(D, n, t), upper = (n: V) => D.add(D.c(t.offset), f(n));
  const nearest = f(D.max(D.sub(zero, rel.hi), zero)), farthest = f(D.max(D.sub(zero, rel.lo), zero));
  if (!node.bidirectional) return { lo: nearest, hi: farthest };
  return { lo: D.select(D.lt(zero, rel.lo), upper(rel.lo), nearest), hi: D.select(D.lt(zero, rel.hi), upper(rel.hi), farthest) };
}

/** 0 masked, 1 partial, 2 visible, from the truth bounds of the whole predicate. */
export function tileClassValue<V>(mask: MaskExpr, D: Domain<V>, env: TileEnv<V>): V {
  const t = truth(maskBounds(mask, D, env), D);
  return D.add(t.lo, t.hi);
}

// ---- JS numbers ----------------------------------------------------------------------------------

export const numberDomain: Domain<number> = {
  c: (n) => n,
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => (b === 0 ? 0 : Math.trunc(a / b)),
  mod: (a, b) => (b === 0 ? 0 : a % b),
  min: Math.min,
  max: Math.max,
  lt: (a, b) => +(a < b),
  le: (a, b) => +(a <= b),
  eq: (a, b) => +(a === b),
  select: (c, a, b) => (c ? a : b),
  known: (a) => a,
};

export interface TileRanges {
  b: number;
  h: number;
  /** Inclusive index ranges. */
  q: [number, number];
  k: [number, number];
  /** Mask tensor elements (bools as 0/1); without it every read is unknown. */
  read?: (operand: number, indices: number[]) => number;
  /** Operands known to hold 0/1 (bounds [0, 1] where an element is unknown). */
  boolOperands?: ReadonlySet<number>;
  /** Values of the symbolic dimensions a mask's `dim(...)` nodes use. */
  dims?: Readonly<Record<string, number>>;
}

/** The class of one tile: 'masked' and 'visible' are guarantees; 'partial' means "test each element". */
export function classifyTile(mask: MaskExpr, ranges: TileRanges): TileClass {
  const { read, boolOperands } = ranges;
  const reads: TileReads<number> = {
    exact: (operand, indices) => read?.(operand, indices),
    // The kernel takes this min/max with a loop over the tile's keys (or queries); so does this.
    range: ({ operand }, indices) => {
      if (!read) return undefined;
      const axis = indices.findIndex((x) => x === 'q' || x === 'k');
      const [from, to] = ranges[indices[axis] as 'q' | 'k'];
      let lo = Infinity, hi = -Infinity;
      for (let i = from; i <= to; i++) {
        const v = read(operand, indices.map((x) => (x === 'q' || x === 'k' ? i : x)));
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      return { lo, hi };
    },
    unknown: (operand) => (boolOperands?.has(operand) ? { lo: 0, hi: 1 } : undefined),
  };
  const dim = (d: Dim): number => {
    const v = typeof d === 'number' ? d : ranges.dims?.[d];
    if (v === undefined) throw new Error(`classifyTile: no value for dim(${d})`);
    return v;
  };
  const value = tileClassValue(mask, numberDomain, { b: ranges.b, h: ranges.h, q: ranges.q, k: ranges.k, reads, dim });
  return value === 0 ? 'masked' : value === 2 ? 'visible' : 'partial';
}

// ---- i32 kernel IR -------------------------------------------------------------------------------

const constOf = (e: Expr): number | undefined => (e.k === 'const' ? e.value : undefined);
const int01 = (c: Expr): Expr => k.select(c, k.i(1), k.i(0));

/** evalMask's integer semantics in i32 kernel IR, folding constants so simple masks stay small. */
export const i32Domain: Domain<Expr> = {
  c: (n) => k.i(n),
  add: (a, b) => fold(a, b, numberDomain.add) ?? (constOf(b) === 0 ? a : constOf(a) === 0 ? b : k.add(a, b)),
  sub: (a, b) => fold(a, b, numberDomain.sub) ?? (constOf(b) === 0 ? a : k.sub(a, b)),
  mul: (a, b) => fold(a, b, numberDomain.mul) ?? k.mul(a, b),
  div: (a, b) => fold(a, b, numberDomain.div) ?? safeDivision('/', a, b),
  mod: (a, b) => fold(a, b, numberDomain.mod) ?? safeDivision('%', a, b),
  min: (a, b) => fold(a, b, Math.min) ?? k.min(a, b),
  max: (a, b) => fold(a, b, Math.max) ?? k.max(a, b),
  lt: (a, b) => fold(a, b, numberDomain.lt) ?? int01(k.lt(a, b)),
  le: (a, b) => fold(a, b, numberDomain.le) ?? int01(k.le(a, b)),
  eq: (a, b) => fold(a, b, numberDomain.eq) ?? int01(k.eq(a, b)),
  select: (c, a, b) => {
    const v = constOf(c);
    return v === undefined ? k.select(k.ne(c, 0), a, b) : v ? a : b;
  },
  known: constOf,
};

function fold(a: Expr, b: Expr, f: (x: number, y: number) => number): Expr | undefined {
  const x = constOf(a), y = constOf(b);
  return x === undefined || y === undefined ? undefined : k.i(f(x, y));
}

/** a / b or a % b with x / 0 = x % 0 = 0 on every target (WGSL gives x / 0 = x; CUDA leaves it undefined). */
export function safeDivision(op: '/' | '%', a: Expr, b: Expr): Expr {
  const c = constOf(b);
  if (c !== undefined) return c === 0 ? k.i(0) : k.bin(op, a, b);
  const zero = k.eq(b, 0);
  return k.select(zero, k.i(0), k.bin(op, a, k.select(zero, k.i(1), b)));
}

// ---- key range ------------------------------------------------------------------------------------

/** k = coef * k + rest, or undefined when k appears other than linearly. */
function linearInKey(m: MaskExpr): { coef: number; rest: MaskExpr } | undefined {
  const zero: MaskExpr = { kind: 'const', value: 0 };
  if (m.kind === 'var' && m.name === 'k') return { coef: 1, rest: zero };
  if (!usesKey(m)) return { coef: 0, rest: m };
  if (m.kind !== 'binary') return undefined;
  const a = linearInKey(m.left), b = linearInKey(m.right);
  if (!a || !b) return undefined;
  const bin = (op: '+' | '-' | '*', l: MaskExpr, r: MaskExpr): MaskExpr => ({ kind: 'binary', op, left: l, right: r });
  if (m.op === '+') return { coef: a.coef + b.coef, rest: bin('+', a.rest, b.rest) };
  if (m.op === '-') return { coef: a.coef - b.coef, rest: bin('-', a.rest, b.rest) };
  if (m.op === '*' && m.left.kind === 'const' && b.coef !== 0) return { coef: m.left.value * b.coef, rest: bin('*', m.left, b.rest) };
  if (m.op === '*' && m.right.kind === 'const' && a.coef !== 0) return { coef: m.right.value * a.coef, rest: bin('*', a.rest, m.right) };
  return undefined;
}

function usesKey(m: MaskExpr): boolean {
  return (m.kind === 'var' && m.name === 'k') || maskChildren(m).some(usesKey);
}

/** Inclusive bounds on keys; undefined = unbounded on that side. */
export interface KeyInterval<V> {
  lo?: V;
  hi?: V;
}

/** At most this many intervals are kept; more are joined into their hull. */
const MAX_INTERVALS = 3;

/**
 * Key intervals whose union holds every key some query in q ∈ [q0, q1] can see: from the mask's
 * comparisons linear in k with coefficient ±1 (window, causal, k <= q + dim(past), k < n[b]), joined
 * through & (pairwise intersections) and | (the list of both). Anything else (reads along q or k, %,
 * !) is one unbounded interval, so the attention kernel walks every key tile there. Reads with
 * tile-invariant indices (n[b]) are allowed: the same for the whole workgroup, so the loop limits
 * stay uniform.
 */
export function keyIntervals<V>(m: MaskExpr, D: Domain<V>, env: TileEnv<V>): KeyInterval<V>[] {
  if (m.kind !== 'binary') return [{}];
  if (m.op === '&' || m.op === '|') {
    const a = keyIntervals(m.left, D, env), b = keyIntervals(m.right, D, env);
    const both = (x: V | undefined, y: V | undefined, f: (p: V, q: V) => V): V | undefined => (x === undefined ? y : y === undefined ? x : f(x, y));
    const either = (x: V | undefined, y: V | undefined, f: (p: V, q: V) => V): V | undefined => (x === undefined || y === undefined ? undefined : f(x, y));
    const out = m.op === '&'
      ? a.flatMap((x) => b.map((y) => ({ lo: both(x.lo, y.lo, D.max.bind(D)), hi: both(x.hi, y.hi, D.min.bind(D)) })))
      : [...a, ...b];
    if (out.some((x) => x.lo === undefined && x.hi === undefined)) return [{}];
    if (out.length <= MAX_INTERVALS) return out;
    return [out.reduce((x, y) => ({ lo: either(x.lo, y.lo, D.min.bind(D)), hi: either(x.hi, y.hi, D.max.bind(D)) }))];
  }
  // f = L - R (+ 1 for strict); the comparison is f <= 0, or f == 0.
  const forms: Partial<Record<string, [MaskExpr, MaskExpr, number]>> = {
    '<=': [m.left, m.right, 0], '<': [m.left, m.right, 1], '>=': [m.right, m.left, 0], '>': [m.right, m.left, 1], '==': [m.left, m.right, 0],
  };
  const form = forms[m.op];
  if (!form) return [{}];
  const [l, r, strict] = form;
  const f = linearInKey({ kind: 'binary', op: '-', left: l, right: r });
  if (!f || (f.coef !== 1 && f.coef !== -1) || !readsInvariant(f.rest)) return [{}];
  const g = maskBounds(f.rest, D, env);
  if (!g) return [{}];
  const s = D.c(strict);
  // coef 1: k + g + s <= 0, k <= -(g + s); coef -1: -k + g + s <= 0, k >= g + s. `==` bounds both sides.
  if (m.op === '==') return [f.coef === 1 ? { lo: D.sub(D.c(0), g.hi), hi: D.sub(D.c(0), g.lo) } : { lo: g.lo, hi: g.hi }];
  return [f.coef === 1 ? { hi: D.sub(D.c(0), D.add(g.lo, s)) } : { lo: D.add(g.lo, s) }];
}

/** Every read in `m` has tile-invariant indices (exact over a tile: n[b], not valid[b, k]). */
function readsInvariant(m: MaskExpr): boolean {
  if (m.kind === 'read') return m.indices.every(tileInvariant);
  return maskChildren(m).every(readsInvariant);
}
