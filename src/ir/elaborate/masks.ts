// Attention masks (REFERENCE.md §7.2–§7.3): the named masks, combinators and custom `mask (b, h, q, k)`
// lambdas, each elaborated to a predicate over (b, h, q, k) plus the tensors it reads. A mask's own
// arguments are checked here; that its tensors cover the attention's batch, queries and keys is
// checked by the attention (layers.ts), which knows those lengths.
import { PtmError } from '../../diagnostics/diagnostic.js';
import { diag } from '../../diagnostics/catalogue.js';
import type { Span } from '../../diagnostics/span.js';
import type { Expr, MaskLambdaExpr } from '../../parser/ast.js';
import { shapeToString } from '../dim.js';
import type { MaskBinaryOp, MaskExpr, MaskVar } from '../mask.js';
import type { Dim } from '../dim.js';
import { mapMask, maskAnd, maskBin, maskConst, maskDim, maskNot, maskOr, maskRead, maskTrue, maskVar, MASK_VARS } from '../mask.js';
import { isInt } from '../types.js';
import type { Value } from '../types.js';
import type { Args, BoundArg } from './args.js';
import type { Elaborator } from './elaborate.js';
import type { EValue, MaskValue } from './values.js';
import { asDim, kindName } from './values.js';

type MaskFn = (el: Elaborator, args: Args) => MaskValue;

function maskValue(expr: MaskExpr, tensors: Value[], span: Span): MaskValue {
  return { kind: 'mask', expr, tensors, span };
}

/** A read used as a condition: bool tensors as they are, numbers compared with 0. */
function truthy(read: MaskExpr, t: Value): MaskExpr {
  return t.type.dtype === 'bool' ? read : maskBin('!=', read, maskConst(0));
}

const [b, q, k] = [maskVar('b'), maskVar('q'), maskVar('k')];

/** A positive integer argument of a mask (`window(256)`, `strided(64)`), else `invalid_mask` at it. */
function positiveArg(a: BoundArg, call: string): number {
  const n = asDim(a.value);
  if (typeof n !== 'number' || n < 1) {
    const got = typeof n === 'number' ? String(n) : kindName(a.value);
    throw new PtmError(diag.invalid_mask(a.span, `${call} needs a positive integer, got ${got}`));
  }
  return n;
}

/** A per-token bool or integer tensor `[batch, seq]` (`global(is_global)`, `same_segment(seg)`). */
function perTokenArg(a: BoundArg, call: string): Value {
  if (a.value.kind !== 'tensor') throw new PtmError(diag.invalid_mask(a.span, `${call} needs a [batch, seq] tensor, got ${kindName(a.value)}`));
  const t = a.value.value;
  if (t.type.shape.length !== 2) throw new PtmError(diag.invalid_mask(a.span, `${call} needs a [batch, seq] tensor, got ${t.type.dtype}${shapeToString(t.type.shape)}`));
  if (!isInt(t.type.dtype) && t.type.dtype !== 'bool') {
    throw new PtmError(diag.invalid_mask(a.span, `${call} needs a bool or integer tensor, got ${t.type.dtype}${shapeToString(t.type.shape)}`));
  }
  return t;
}

/** A non-negative integer argument (`seed`), else `invalid_mask` at it. */
function nonNegativeArg(a: BoundArg, call: string): number {
  const n = asDim(a.value);
  if (typeof n !== 'number' || n < 0) {
    const got = typeof n === 'number' ? String(n) : kindName(a.value);
    throw new PtmError(diag.invalid_mask(a.span, `${call} needs a non-negative integer, got ${got}`));
  }
  return n;
}

/**
 * Placeholder for the attention's key length in a mask (`random_blocks` picks among its key blocks);
 * not a symbol name, so it never clashes with one. `Attention` replaces it by the key length
 * (bindKeyLength) before the mask reaches the graph.
 */
const KEY_LENGTH = '#keys';

/** `mask` with the key-length placeholder replaced by the attention's key length `tk`. */
export function bindKeyLength(mask: MaskExpr, tk: Dim): MaskExpr {
  return mapMask(mask, (x) => (x.kind === 'dim' && x.dim === KEY_LENGTH ? maskDim(tk) : x));
}

/** The modulus of random_blocks' hash: a prime below 2^15, so every product of two residues stays below 2^31. */
export const RANDOM_BLOCKS_PRIME = 32749;

/**
 * Key block picked by random_blocks' pick `j` for query block `qb` (REFERENCE.md §7.2), with the
 * integer arithmetic the mask predicate uses; every intermediate value is below 2^31, so i32
 * kernels, ONNX and JS numbers agree. `keyBlocks` = ceil(keys / block).
 */
export function randomBlockPick(qb: number, j: number, seed: number, keyBlocks: number): number {
  const P = RANDOM_BLOCKS_PRIME, [c1, c2] = randomBlockConstants(j, seed);
  let x = ((qb % P) * 9973 + c1) % P;
  x = (x * x + 7 * x + 1) % P;
  x = (x * 16807 + c2) % P;
  return x % keyBlocks;
}

/** The per-pick constants of the hash, from (j, seed); both below P. */
function randomBlockConstants(j: number, seed: number): [number, number] {
  const P = RANDOM_BLOCKS_PRIME, s = seed % P, jj = j % P;
  return [(jj * 7919 + s * 4099 + 12345) % P, (jj * 3571 + s * 28411 + 977) % P];
}

/** randomBlockPick as a mask expression over `qb` (an integer expression). */
function randomBlockPickExpr(qb: MaskExpr, j: number, seed: number, keyBlocks: MaskExpr): MaskExpr {
  const P = maskConst(RANDOM_BLOCKS_PRIME), [c1, c2] = randomBlockConstants(j, seed);
  const mod = (x: MaskExpr) => maskBin('%', x, P);
  const x1 = mod(maskBin('+', maskBin('*', mod(qb), maskConst(9973)), maskConst(c1)));
  const x2 = mod(maskBin('+', maskBin('+', maskBin('*', x1, x1), maskBin('*', maskConst(7), x1)), maskConst(1)));
  const x3 = mod(maskBin('+', maskBin('*', x2, maskConst(16807)), maskConst(c2)));
  return maskBin('%', x3, keyBlocks);
}

/** Masks that take arguments (§7.2); `full` and `causal` are NAMED_MASKS. */
export const MASK_FUNCTIONS: Record<string, MaskFn> = {
  /** padding(valid): key k of batch b is visible when valid[b, k]. */
  padding: (_el, args) => {
    const valid = args.tensor(0, 'valid');
    const at = args.require(0, 'valid').span;
    args.done(['valid']);
    if (valid.value.type.shape.length !== 2) throw new PtmError(diag.invalid_mask(at, `padding(valid) needs valid as [batch, seq], got ${shapeToString(valid.value.type.shape)}`));
    return maskValue(truthy(maskRead(0, [b, k]), valid.value), [valid.value], args.span);
  },
  /** prefix(n): keys before n[b] are visible to all; the rest causally. */
  prefix: (_el, args) => {
    const n = args.require(0, 'n');
    args.done(['n']);
    const causal = maskBin('<=', k, q);
    if (n.value.kind === 'tensor') {
      const t = n.value.value;
      if (t.type.shape.length !== 1 || !isInt(t.type.dtype)) {
        throw new PtmError(diag.invalid_mask(n.span, `prefix(n) needs n as an integer [batch] tensor or an integer, got ${t.type.dtype}${shapeToString(t.type.shape)}`));
      }
      return maskValue(maskOr(maskBin('<', k, maskRead(0, [b])), causal), [t], args.span);
    }
    const len = asDim(n.value);
    if (typeof len !== 'number') throw new PtmError(diag.invalid_mask(n.span, `prefix(n) needs an integer or an integer tensor, got ${kindName(n.value)}`));
    return maskValue(maskOr(maskBin('<', k, maskConst(len)), causal), [], args.span);
  },
  /** window(w): |q - k| <= w, written as two comparisons (masks have no abs). */
  window: (_el, args) => {
    const w = maskConst(positiveArg(args.require(0, 'w'), 'window(w)'));
    args.done(['w']);
    return maskValue(maskAnd(maskBin('<=', maskBin('-', q, k), w), maskBin('<=', maskBin('-', k, q), w)), [], args.span);
  },
  /** global(is_global): a global token sees every key and is seen by every query. */
  global: (_el, args) => {
    const t = perTokenArg(args.require(0, 'is_global'), 'global(is_global)');
    args.done(['is_global']);
    return maskValue(maskOr(truthy(maskRead(0, [b, q]), t), truthy(maskRead(0, [b, k]), t)), [t], args.span);
  },
  /** strided(s): (q - k) % s == 0 (remainders of either sign are 0 exactly when s divides q - k). */
  strided: (_el, args) => {
    const s = maskConst(positiveArg(args.require(0, 's'), 'strided(s)'));
    args.done(['s']);
    return maskValue(maskBin('==', maskBin('%', maskBin('-', q, k), s), maskConst(0)), [], args.span);
  },
  /**
   * random_blocks(r, block, seed): BigBird's random attention (Zaheer et al. 2020, §2): query block
   * q / block sees the r key blocks randomBlockPick(q / block, j, seed, ceil(keys / block)), j < r.
   * Picks are with replacement: when two coincide the query block sees fewer than r distinct blocks.
   * Within one (query block, key block) pair the predicate is constant, so block-aligned tiles are
   * never partial.
   */
  random_blocks: (_el, args) => {
    const r = positiveArg(args.require(0, 'r'), 'random_blocks(r, block, seed)');
    const block = positiveArg(args.require(1, 'block'), 'random_blocks(r, block, seed)');
    const seed = nonNegativeArg(args.require(2, 'seed'), 'random_blocks(r, block, seed)');
    args.done(['r', 'block', 'seed']);
    const c = maskConst(block);
    const qb = maskBin('/', q, c), kb = maskBin('/', k, c);
    const keyBlocks = maskBin('/', maskBin('+', maskDim(KEY_LENGTH), maskConst(block - 1)), c);
    let expr: MaskExpr | undefined;
    for (let j = 0; j < r; j++) {
      const hit = maskBin('==', kb, randomBlockPickExpr(qb, j, seed, keyBlocks));
      expr = expr ? maskOr(expr, hit) : hit;
    }
    return maskValue(expr!, [], args.span);
  },
  /** same_segment(seg): tokens of packed sequences see only their own segment. */
  same_segment: (_el, args) => {
    const t = perTokenArg(args.require(0, 'seg'), 'same_segment(seg)');
    args.done(['seg']);
    return maskValue(maskBin('==', maskRead(0, [b, q]), maskRead(0, [b, k])), [t], args.span);
  },
};

/** Masks that take no arguments. */
export const NAMED_MASKS: Record<string, (span: Span) => MaskValue> = {
  full: (span) => maskValue(maskTrue, [], span),
  causal: (span) => maskValue(maskBin('<=', k, q), [], span),
};

/** `mask` with every tensor read's operand index moved up by `by`. */
export function shiftReads(e: MaskExpr, by: number): MaskExpr {
  return mapMask(e, (x) => (x.kind === 'read' ? { ...x, operand: x.operand + by } : x));
}

/** `a & b`, `a | b`: tensor lists are concatenated and b's reads shifted past a's. */
export function combineMasks(op: '&' | '|', a: MaskValue, b: MaskValue, span: Span): MaskValue {
  const shifted = shiftReads(b.expr, a.tensors.length);
  return maskValue(op === '&' ? maskAnd(a.expr, shifted) : maskOr(a.expr, shifted), [...a.tensors, ...b.tensors], span);
}

export function notMask(a: MaskValue, span: Span): MaskValue {
  return maskValue(maskNot(a.expr), a.tensors, span);
}

const MASK_OPS = new Set(['+', '-', '*', '/', '%', '<', '<=', '>', '>=', '==', '!=', '&', '|']);
const COMPARISONS = new Set(['<', '<=', '>', '>=', '==', '!=']);

/**
 * `mask (b, h, q, k) => body` (§7.3): the four parameters name the batch, head, query and key
 * indices; the body is integer arithmetic, comparisons, & | ! and reads of integer/bool tensors.
 */
export function evalMaskLambda(el: Elaborator, e: MaskLambdaExpr, evalOuter: (x: Expr) => EValue): MaskValue {
  if (e.params.length !== 4) {
    throw new PtmError(diag.invalid_mask(e.span, `a mask takes the four indices (b, h, q, k), got ${e.params.length} parameter(s)`));
  }
  const vars = new Map<string, MaskVar>(e.params.map((p, i) => [p.name, MASK_VARS[i]!]));
  const tensors: Value[] = [];
  type Typed = { expr: MaskExpr; bool: boolean };
  const walk = (x: Expr): Typed => {
    switch (x.kind) {
      case 'name': {
        const v = vars.get(x.name);
        if (v) return { expr: maskVar(v), bool: false };
        return scalar(evalOuter(x), x.span);
      }
      case 'number':
      case 'bool':
        return scalar(evalOuter(x), x.span);
      case 'unary': {
        const o = walk(x.operand);
        if (x.op === '!') return { expr: maskNot(needBool(o, x.operand.span)), bool: true };
        return { expr: maskBin('-', maskConst(0), needInt(o, x.operand.span)), bool: false };
      }
      case 'binary': {
        if (!MASK_OPS.has(x.op)) throw new PtmError(diag.invalid_mask(x.span, `'${x.op}' cannot be used in a mask`));
        const l = walk(x.left), r = walk(x.right);
        const op = x.op as MaskBinaryOp;
        if (op === '&' || op === '|') return { expr: maskBin(op, needBool(l, x.left.span), needBool(r, x.right.span)), bool: true };
        if (COMPARISONS.has(op)) return { expr: maskBin(op, needInt(l, x.left.span), needInt(r, x.right.span)), bool: true };
        return { expr: maskBin(op, needInt(l, x.left.span), needInt(r, x.right.span)), bool: false };
      }
      case 'index': {
        const t = evalOuter(x.object);
        if (t.kind !== 'tensor') throw new PtmError(diag.invalid_mask(x.object.span, `a mask can index input tensors only, not ${kindName(t)}`));
        const dtype = t.value.type.dtype;
        if (dtype !== 'bool' && !isInt(dtype)) throw new PtmError(diag.invalid_mask(x.object.span, `a mask can read integer or bool tensors, not ${dtype}`));
        if (x.items.length !== t.value.type.shape.length) throw new PtmError(diag.invalid_mask(x.span, `${x.items.length} indices for a tensor of shape ${shapeToString(t.value.type.shape)}`));
        const indices = x.items.map((item) => {
          if (item.kind !== 'at') throw new PtmError(diag.invalid_mask(item.span, 'a mask reads single elements; slices are not allowed here'));
          return needInt(walk(item.index), item.span);
        });
        let operand = tensors.findIndex((v) => v.id === t.value.id);
        if (operand < 0) operand = tensors.push(t.value) - 1;
        return { expr: maskRead(operand, indices), bool: dtype === 'bool' };
      }
      default:
        throw new PtmError(diag.invalid_mask(x.span, `a mask body is made of the indices, integers, comparisons, & | ! and tensor reads; found ${x.kind === 'call' ? 'a call' : 'a ' + x.kind}`));
    }
  };
  const scalar = (v: EValue, span: Span): Typed => {
    if (v.kind === 'bool') return { expr: { kind: 'const', value: v.value ? 1 : 0, bool: true }, bool: true };
    const d = asDim(v);
    if (typeof d === 'number') return { expr: maskConst(d), bool: false };
    throw new PtmError(diag.invalid_mask(span, `a mask can use integers, not ${kindName(v)}`));
  };
  const needBool = (t: Typed, span: Span): MaskExpr => {
    if (!t.bool) throw new PtmError(diag.invalid_mask(span, 'expected a condition (true or false) here, found an integer'));
    return t.expr;
  };
  const needInt = (t: Typed, span: Span): MaskExpr => {
    if (t.bool) throw new PtmError(diag.invalid_mask(span, 'expected an integer here, found a condition'));
    return t.expr;
  };
  const body = walk(e.body);
  void el;
  return maskValue(needBool(body, e.body.span), tensors, e.span);
}
