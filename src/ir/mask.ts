// Attention masks as predicates over the index variables (b, h, q, k) and operand tensors of the
// attention op, never a materialized seq x seq tensor (REFERENCE.md §7). `true` = the key is visible.

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
  | { kind: 'not'; operand: MaskExpr };

export const maskTrue: MaskExpr = { kind: 'const', value: 1, bool: true };
export const maskVar = (name: MaskVar): MaskExpr => ({ kind: 'var', name });
export const maskConst = (value: number): MaskExpr => ({ kind: 'const', value });
export const maskBin = (op: MaskBinaryOp, left: MaskExpr, right: MaskExpr): MaskExpr => ({ kind: 'binary', op, left, right });
export const maskAnd = (a: MaskExpr, b: MaskExpr): MaskExpr => (isTrue(a) ? b : isTrue(b) ? a : maskBin('&', a, b));
export const maskOr = (a: MaskExpr, b: MaskExpr): MaskExpr => (isTrue(a) || isTrue(b) ? maskTrue : maskBin('|', a, b));
export const maskNot = (a: MaskExpr): MaskExpr => ({ kind: 'not', operand: a });
export const maskRead = (operand: number, indices: MaskExpr[]): MaskExpr => ({ kind: 'read', operand, indices });

export function isTrue(m: MaskExpr): boolean {
  return m.kind === 'const' && m.bool === true && m.value !== 0;
}

const BOOL_OPS = new Set<MaskBinaryOp>(['<', '<=', '>', '>=', '==', '!=', '&', '|']);
export const isBoolOp = (op: MaskBinaryOp): boolean => BOOL_OPS.has(op);

/** Operand indices a mask reads, in ascending order. */
export function maskOperands(m: MaskExpr): number[] {
  const out = new Set<number>();
  const walk = (e: MaskExpr): void => {
    if (e.kind === 'read') {
      out.add(e.operand);
      e.indices.forEach(walk);
    } else if (e.kind === 'binary') {
      walk(e.left);
      walk(e.right);
    } else if (e.kind === 'not') walk(e.operand);
  };
  walk(m);
  return [...out].sort((a, b) => a - b);
}

/** Structural equality. */
export function maskEquals(a: MaskExpr, b: MaskExpr): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Evaluates a mask at one (b, h, q, k). `read(operand, indices)` returns the element (bools as 0/1).
 * Integer division truncates toward zero; `%` has the sign of the dividend (as in C, WGSL and CUDA).
 */
export function evalMask(
  m: MaskExpr,
  vars: Readonly<Record<MaskVar, number>>,
  read: (operand: number, indices: number[]) => number,
): number {
  switch (m.kind) {
    case 'var':
      return vars[m.name];
    case 'const':
      return m.value;
    case 'read':
      return read(m.operand, m.indices.map((i) => evalMask(i, vars, read)));
    case 'not':
      return evalMask(m.operand, vars, read) ? 0 : 1;
    case 'binary': {
      const l = evalMask(m.left, vars, read);
      if (m.op === '&' && !l) return 0;
      if (m.op === '|' && l) return 1;
      const r = evalMask(m.right, vars, read);
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
