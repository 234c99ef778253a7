// Symbolic dimensions: a dimension is a number or a polynomial over symbols (`seq`, `batch*seq`,
// `seq+512`) kept as canonical text, so two equal dimensions always compare equal with `===`.

export type Dim = number | string;

/** A polynomial: monomial key (sorted symbols joined by `*`, '' for the constant) -> coefficient. */
type Poly = Map<string, number>;

const SYMBOL = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function isSymbolName(text: string): boolean {
  return SYMBOL.test(text);
}

function toPoly(d: Dim): Poly {
  if (typeof d === 'number') return new Map(d === 0 ? [] : [['', d]]);
  return parsePoly(d);
}

function parsePoly(text: string): Poly {
  const poly: Poly = new Map();
  const compact = text.replace(/\s+/g, '');
  const terms = compact.replace(/-/g, '+-').split('+').filter((t) => t.length > 0);
  for (const term of terms) {
    let coef = 1;
    let body = term;
    if (body.startsWith('-')) {
      coef = -1;
      body = body.slice(1);
    }
    const symbols: string[] = [];
    for (const factor of body.split('*')) {
      if (/^\d+$/.test(factor)) coef *= Number(factor);
      else if (isSymbolName(factor)) symbols.push(factor);
      else throw new Error(`malformed dimension '${text}'`);
    }
    addTerm(poly, symbols.sort().join('*'), coef);
  }
  return poly;
}

function addTerm(poly: Poly, key: string, coef: number): void {
  const next = (poly.get(key) ?? 0) + coef;
  if (next === 0) poly.delete(key);
  else poly.set(key, next);
}

function fromPoly(poly: Poly): Dim {
  const keys = [...poly.keys()].filter((k) => k !== '').sort();
  const constant = poly.get('') ?? 0;
  if (keys.length === 0) return constant;
  let out = '';
  for (const key of keys) {
    const coef = poly.get(key)!;
    const sign = coef < 0 ? '-' : out ? '+' : '';
    const mag = Math.abs(coef);
    out += sign + (mag === 1 ? key : `${mag}*${key}`);
  }
  if (constant !== 0) out += (constant < 0 ? '-' : '+') + Math.abs(constant);
  return out;
}

/** Canonical form of a dimension written by hand (`seq + 512` -> `seq+512`, `3` -> 3). */
export function parseDim(text: string): Dim {
  return /^-?\d+$/.test(text.trim()) ? Number(text.trim()) : fromPoly(parsePoly(text));
}

export function dimAdd(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  const poly = toPoly(a);
  for (const [k, c] of toPoly(b)) addTerm(poly, k, c);
  return fromPoly(poly);
}

export function dimSub(a: Dim, b: Dim): Dim {
  return dimAdd(a, dimMul(b, -1));
}

export function dimMul(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a * b;
  const out: Poly = new Map();
  for (const [ka, ca] of toPoly(a)) {
    for (const [kb, cb] of toPoly(b)) {
      const key = [...(ka ? ka.split('*') : []), ...(kb ? kb.split('*') : [])].sort().join('*');
      addTerm(out, key, ca * cb);
    }
  }
  return fromPoly(out);
}

/** `a / b` when it divides exactly (every coefficient of a divisible by the integer b), else undefined. */
export function dimDivExact(a: Dim, b: Dim): Dim | undefined {
  if (typeof b !== 'number' || b === 0) {
    return dimEq(a, b) ? 1 : undefined;
  }
  if (typeof a === 'number') return a % b === 0 ? a / b : undefined;
  const out: Poly = new Map();
  for (const [k, c] of toPoly(a)) {
    if (c % b !== 0) return undefined;
    out.set(k, c / b);
  }
  return fromPoly(out);
}

export function dimEq(a: Dim, b: Dim): boolean {
  return a === b;
}

export function dimToString(d: Dim): string {
  return String(d);
}

export function shapeToString(shape: readonly Dim[]): string {
  return `[${shape.map(dimToString).join(', ')}]`;
}

/** Symbols a dimension mentions. */
export function dimSymbols(d: Dim): string[] {
  if (typeof d === 'number') return [];
  return [...new Set([...toPoly(d).keys()].flatMap((k) => (k ? k.split('*') : [])))].sort();
}

/** The value of a dimension once its symbols are bound; throws if a symbol is unbound. */
export function evalDim(d: Dim, env: ReadonlyMap<string, number>): number {
  if (typeof d === 'number') return d;
  let total = 0;
  for (const [key, coef] of toPoly(d)) {
    let term = coef;
    if (key) {
      for (const s of key.split('*')) {
        const v = env.get(s);
        if (v === undefined) throw new Error(`unbound dimension symbol '${s}'`);
        term *= v;
      }
    }
    total += term;
  }
  return total;
}

/** The product of the dimensions (the element count), symbolic if any dimension is. */
export function dimProduct(dims: readonly Dim[]): Dim {
  return dims.reduce<Dim>((acc, d) => dimMul(acc, d), 1);
}
