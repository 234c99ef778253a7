// Reads the textual graph IR written by print.ts: a small tokenizer and a recursive-descent reader.
// Malformed text always raises PtmError(ir_syntax_error) at a line:col, never a raw exception.
// Names are resolved here; types are taken as written, and verify.ts checks them.
import { diag } from '../diagnostics/catalogue.js';
import { PtmError, isPtmError } from '../diagnostics/diagnostic.js';
import type { Span } from '../diagnostics/span.js';
import { noSpan } from '../diagnostics/span.js';
import { nearestName } from '../diagnostics/suggest.js';
import type { Dim } from './dim.js';
import { parseDim } from './dim.js';
import type { MaskBinaryOp, MaskExpr, MaskVar } from './mask.js';
import { MASK_VARS } from './mask.js';
import type { AttrKind } from './ops.js';
import { parseFused } from './fused.js';
import { OPS } from './ops.js';
import type { AttrValue, Attrs, DType, Graph, InitSpec, Op, TensorType, Value } from './types.js';
import { DTYPES } from './types.js';

type TokenKind = 'ident' | 'value' | 'number' | 'string' | 'punct' | 'eof';

interface Token {
  kind: TokenKind;
  text: string;
  line: number;
  col: number;
  offset: number;
}

const PUNCT = ['<=', '>=', '==', '!=', '{', '}', '[', ']', '(', ')', ',', ':', '=', '*', '+', '-', '/', '%', '<', '>', '&', '|', '!'];
const IDENT = /[A-Za-z_][A-Za-z0-9_]*/y;
const VALUE_ID = /%[A-Za-z0-9_.]+/y;
const NUMBER = /\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const STRING = /"(?:[^"\\\n]|\\.)*"/y;
/** Masks nest; deeper than this is surely not printer output, and it keeps the stack safe. */
const MAX_DEPTH = 200;

function tokenize(text: string, file: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let lineStart = 0;
  let i = 0;
  const fail = (message: string): never => {
    throw new PtmError(diag.ir_syntax_error({ file, line, col: i - lineStart + 1, offset: i, end: i + 1 }, message));
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      lineStart = ++i;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (text.startsWith('//', i)) {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    const at = (kind: TokenKind, lexeme: string): void => {
      tokens.push({ kind, text: lexeme, line, col: i - lineStart + 1, offset: i });
      i += lexeme.length;
    };
    const match = (re: RegExp): string | undefined => {
      re.lastIndex = i;
      return re.exec(text)?.[0];
    };
    let lexeme: string | undefined;
    if ((lexeme = match(IDENT))) at('ident', lexeme);
    else if ((lexeme = match(VALUE_ID))) at('value', lexeme);
    else if ((lexeme = match(NUMBER))) at('number', lexeme);
    else if (c === '"') {
      lexeme = match(STRING);
      if (!lexeme) fail('unterminated string');
      at('string', lexeme!);
    } else if ((lexeme = PUNCT.find((p) => text.startsWith(p, i)))) at('punct', lexeme);
    else fail(`unexpected character ${JSON.stringify(c)}`);
  }
  tokens.push({ kind: 'eof', text: '<end of input>', line, col: i - lineStart + 1, offset: i });
  return tokens;
}

/** Parses IR text into a Graph. Throws PtmError with an `ir_syntax_error` on malformed text. */
export function readGraph(text: string, file = '<ir>'): Graph {
  const reader = new Reader(tokenize(text, file), file);
  try {
    return reader.graph();
  } catch (e) {
    if (isPtmError(e)) throw e;
    // A stack overflow or a dimension the polynomial parser refuses: still the text's fault.
    throw new PtmError(diag.ir_syntax_error(reader.span(), e instanceof Error ? e.message : String(e)));
  }
}

class Reader {
  private pos = 0;
  private readonly values = new Map<string, Value>();
  private depth = 0;

  constructor(private readonly tokens: Token[], private readonly file: string) {}

  /** graph NAME [sym, ...] { item* } */
  graph(): Graph {
    this.expect('graph');
    const g: Graph = { name: this.name(), symbols: [], inputs: [], params: [], ops: [], outputs: [] };
    this.expect('[');
    g.symbols = this.list(']', () => this.ident('a symbol'));
    this.expect('{');
    while (!this.accept('}')) this.item(g);
    if (this.peek.kind !== 'eof') this.fail(`expected the end of the input after the graph, found ${this.describe()}`);
    return g;
  }

  private item(g: Graph): void {
    const tok = this.peek;
    if (this.accept('input')) {
      const [value, name] = this.declaration();
      g.inputs.push({ value, name, loc: this.loc() });
    } else if (this.accept('param')) {
      const [value, name] = this.declaration();
      this.expect('=');
      const init = this.init();
      g.params.push({ value, name, init, loc: this.loc() });
    } else if (this.accept('output')) {
      const name = this.name();
      this.expect('=');
      g.outputs.push({ name, value: this.use(), loc: this.loc() });
    } else if (tok.kind === 'value') g.ops.push(this.op());
    else this.fail(`expected 'input', 'param', an op line, 'output' or '}', found ${this.describe()}`);
  }

  /** %id ["name"]: type — the value is defined once parsed. */
  private declaration(): [Value, string] {
    const idTok = this.next('value', 'a value id like %x');
    const name = this.peek.kind === 'string' ? this.string() : idTok.text.slice(1);
    this.expect(':');
    return [this.define(idTok, this.type()), name];
  }

  /** %id: type = op(%a, %b) {attrs} loc(...) */
  private op(): Op {
    const idTok = this.next('value', 'a value id');
    this.expect(':');
    const type = this.type();
    this.expect('=');
    const nameTok = this.next('ident', 'an op name');
    const spec = OPS.get(nameTok.text);
    if (!spec) {
      const near = nearestName(nameTok.text, OPS.keys());
      this.fail(`unknown op '${nameTok.text}'${near ? ` (did you mean '${near}'?)` : ''}`, nameTok);
    }
    this.expect('(');
    const operands = this.list(')', () => this.use());
    const attrs: Attrs = {};
    if (this.accept('{')) {
      this.list('}', () => {
        const attrTok = this.next('ident', 'an attribute name');
        const kind = spec!.attrs[attrTok.text];
        if (!kind) this.fail(`op '${spec!.name}' has no attribute '${attrTok.text}' (it has: ${Object.keys(spec!.attrs).join(', ') || 'none'})`, attrTok);
        if (attrTok.text in attrs) this.fail(`attribute '${attrTok.text}' is given twice`, attrTok);
        this.expect('=');
        attrs[attrTok.text] = this.attr(kind!, attrTok.text, operands);
      });
    }
    const loc = this.loc();
    return { op: spec!.name, result: this.define(idTok, type), operands, attrs, loc };
  }

  private attr(kind: AttrKind, name: string, operands: Value[]): AttrValue {
    const what = `attribute '${name}'`;
    switch (kind) {
      case 'int': return this.int(what);
      case 'float': return this.float(what);
      case 'bool': {
        const tok = this.next('ident', `true or false for ${what}`);
        if (tok.text !== 'true' && tok.text !== 'false') this.fail(`${what} must be true or false, found '${tok.text}'`, tok);
        return tok.text === 'true';
      }
      case 'dtype': return this.dtype();
      case 'ints': this.expect('['); return this.list(']', () => this.int(what));
      case 'dim': return this.dim();
      case 'dims': this.expect('['); return this.list(']', () => this.dim());
      case 'mask': return this.mask(operands);
      case 'name': return this.ident(`a name for ${what}`);
      case 'fused': {
        const tok = this.peek;
        const text = this.string();
        try {
          return parseFused(text);
        } catch (e) {
          return this.fail(`${what}: ${(e as Error).message}`, tok);
        }
      }
    }
  }

  private init(): InitSpec {
    const tok = this.next('ident', 'an initializer (normal(std), zeros or ones)');
    if (tok.text === 'zeros' || tok.text === 'ones') return { kind: tok.text };
    if (tok.text === 'random_features') {
      this.expect('(');
      const seed = this.float('the seed');
      this.expect(')');
      return { kind: 'random_features', seed };
    }
    if (tok.text !== 'normal') this.fail(`unknown initializer '${tok.text}': expected normal(std), zeros, ones or random_features(seed)`, tok);
    this.expect('(');
    const std = this.float('the standard deviation');
    this.expect(')');
    return { kind: 'normal', std };
  }

  /** f32[batch, seq, 768] */
  private type(): TensorType {
    const dtype = this.dtype();
    this.expect('[');
    return { dtype, shape: this.list(']', () => this.dim()) };
  }

  private dtype(): DType {
    const tok = this.next('ident', 'a dtype');
    if (!(DTYPES as readonly string[]).includes(tok.text)) this.fail(`unknown dtype '${tok.text}' (expected one of ${DTYPES.join(', ')})`, tok);
    return tok.text as DType;
  }

  /** A dimension: `768`, `seq`, `batch*seq`, `seq+512`, `-2*n+1`, canonicalized by parseDim. */
  private dim(): Dim {
    const start = this.peek;
    let text = this.accept('-') ? '-' : '';
    for (;;) {
      text += this.factor();
      while (this.accept('*')) text += '*' + this.factor();
      const sign = this.peek.text;
      if ((sign !== '+' && sign !== '-') || this.peek.kind !== 'punct') break;
      this.pos++;
      text += sign;
    }
    try {
      return parseDim(text);
    } catch {
      return this.fail(`malformed dimension '${text}'`, start);
    }
  }

  private factor(): string {
    const tok = this.peek;
    if (tok.kind === 'ident' || (tok.kind === 'number' && /^\d+$/.test(tok.text))) {
      this.pos++;
      return tok.text;
    }
    return this.fail(`expected a dimension (an integer or a symbol), found ${this.describe()}`);
  }

  // ---- masks (printMask's grammar: | < & < comparisons < + - < * / % < ! and atoms) -------------

  private mask(operands: Value[]): MaskExpr {
    if (++this.depth > MAX_DEPTH) this.fail(`mask expression nested more than ${MAX_DEPTH} deep`);
    const out = this.maskLevel(1, operands);
    this.depth--;
    return out;
  }

  private static readonly LEVELS: readonly (readonly MaskBinaryOp[])[] = [
    [], ['|'], ['&'], ['<', '<=', '>', '>=', '==', '!='], ['+', '-'], ['*', '/', '%'],
  ];

  private maskLevel(level: number, operands: Value[]): MaskExpr {
    if (level >= Reader.LEVELS.length) return this.maskUnary(operands);
    const ops = Reader.LEVELS[level]!;
    let left = this.maskLevel(level + 1, operands);
    while (this.peek.kind === 'punct' && (ops as readonly string[]).includes(this.peek.text)) {
      const opTok = this.tokens[this.pos++]!;
      const right = this.maskLevel(level + 1, operands);
      left = { kind: 'binary', op: opTok.text as MaskBinaryOp, left, right };
      // Comparisons do not chain: `a < b < c` must be written with parentheses.
      if (level === 3 && this.peek.kind === 'punct' && (ops as readonly string[]).includes(this.peek.text)) {
        this.fail('comparisons do not chain; add parentheses');
      }
    }
    return left;
  }

  private maskUnary(operands: Value[]): MaskExpr {
    if (this.accept('!')) {
      if (++this.depth > MAX_DEPTH) this.fail(`mask expression nested more than ${MAX_DEPTH} deep`);
      const operand = this.maskUnary(operands);
      this.depth--;
      return { kind: 'not', operand };
    }
    if (this.accept('(')) {
      const inner = this.mask(operands);
      this.expect(')');
      return inner;
    }
    const tok = this.peek;
    if (tok.kind === 'punct' && tok.text === '-' && this.tokens[this.pos + 1]?.kind === 'number') {
      this.pos++;
      return { kind: 'const', value: -Number(this.tokens[this.pos++]!.text) };
    }
    if (tok.kind === 'number') {
      this.pos++;
      return { kind: 'const', value: Number(tok.text) };
    }
    if (tok.kind === 'ident' && (tok.text === 'true' || tok.text === 'false')) {
      this.pos++;
      return { kind: 'const', value: tok.text === 'true' ? 1 : 0, bool: true };
    }
    if (tok.kind === 'ident' && tok.text === 'dim' && this.tokens[this.pos + 1]?.text === '(') {
      this.pos += 2;
      const start = this.pos;
      while (this.peek.kind !== 'eof' && this.peek.text !== ')') this.pos++;
      const text = this.tokens.slice(start, this.pos).map((x) => x.text).join(' ');
      this.expect(')');
      try {
        return { kind: 'dim', dim: parseDim(text) };
      } catch (e) {
        return this.fail(`dim(${text}): ${(e as Error).message}`, tok);
      }
    }
    if (tok.kind === 'ident' && tok.text === 't5_bucket' && this.tokens[this.pos + 1]?.text === '(') {
      this.pos += 2;
      const rel = this.mask(operands);
      this.expect(',');
      const buckets = this.int('t5_bucket buckets');
      this.expect(',');
      const maxDistance = this.int('t5_bucket max_distance');
      this.expect(',');
      const flag = this.next('ident', 'true or false for t5_bucket bidirectional');
      if (flag.text !== 'true' && flag.text !== 'false') this.fail(`t5_bucket's bidirectional must be true or false, found '${flag.text}'`, flag);
      this.expect(')');
      return { kind: 't5_bucket', rel, buckets, maxDistance, bidirectional: flag.text === 'true' };
    }
    if (tok.kind === 'ident' && (MASK_VARS as readonly string[]).includes(tok.text)) {
      this.pos++;
      return { kind: 'var', name: tok.text as MaskVar };
    }
    if (tok.kind === 'value') return this.maskRead(operands);
    return this.fail(`expected a mask term (b, h, q, k, an integer, true, false, %tensor[...] or '('), found ${this.describe()}`);
  }

  /** `%valid[b, k]`: the id names an operand of the attention op; the first mask operand (index >= 3) wins. */
  private maskRead(operands: Value[]): MaskExpr {
    const tok = this.tokens[this.pos++]!;
    let operand = operands.findIndex((o, i) => i >= 3 && o.id === tok.text);
    if (operand < 0) operand = operands.findIndex((o) => o.id === tok.text);
    if (operand < 0) this.fail(`the mask reads ${tok.text}, which is not an operand of this op`, tok);
    this.expect('[');
    const indices = this.list(']', () => this.mask(operands));
    return { kind: 'read', operand, indices };
  }

  // ---- small pieces --------------------------------------------------------------------------

  private int(what: string): number {
    const negative = this.accept('-');
    const tok = this.next('number', `an integer for ${what}`);
    if (!/^\d+$/.test(tok.text)) this.fail(`${what} must be an integer, found '${tok.text}'`, tok);
    const n = Number(tok.text);
    if (!Number.isSafeInteger(n)) this.fail(`integer ${tok.text} is out of range`, tok);
    return negative ? (n === 0 ? 0 : -n) : n;
  }

  private float(what: string): number {
    const negative = this.accept('-');
    const tok = this.peek;
    let x: number;
    if (tok.kind === 'number') x = Number(tok.text);
    else if (tok.kind === 'ident' && tok.text === 'inf') x = Infinity;
    else if (tok.kind === 'ident' && tok.text === 'nan') x = NaN;
    else return this.fail(`expected a number for ${what}, found ${this.describe()}`);
    this.pos++;
    return negative ? -x : x;
  }

  private loc(): Span {
    if (!this.accept('loc')) return noSpan();
    this.expect('(');
    const file = this.string();
    this.expect(':');
    const line = this.int('a line number');
    this.expect(':');
    const col = this.int('a column number');
    this.expect(')');
    return { file, line, col, offset: 0, end: 0 };
  }

  private name(): string {
    return this.peek.kind === 'string' ? this.string() : this.ident('a name');
  }

  private ident(what: string): string {
    return this.next('ident', what).text;
  }

  private string(): string {
    const tok = this.next('string', 'a string');
    try {
      return JSON.parse(tok.text) as string;
    } catch {
      return this.fail(`malformed string ${tok.text}`, tok);
    }
  }

  /** Uses a value: it must have been defined on an earlier line. */
  private use(): Value {
    const tok = this.next('value', 'a value id like %x');
    const value = this.values.get(tok.text);
    if (!value) this.fail(`unknown value ${tok.text} (not defined on an earlier line)`, tok);
    return value!;
  }

  private define(tok: Token, type: TensorType): Value {
    if (this.values.has(tok.text)) this.fail(`value ${tok.text} is defined twice`, tok);
    const value: Value = { id: tok.text, type };
    this.values.set(tok.text, value);
    return value;
  }

  /** Items up to `close`, separated by commas; the opening bracket is already consumed. */
  private list<T>(close: string, item: () => T): T[] {
    const out: T[] = [];
    if (this.accept(close)) return out;
    do out.push(item());
    while (this.accept(','));
    this.expect(close);
    return out;
  }

  private get peek(): Token {
    return this.tokens[this.pos]!;
  }

  private accept(text: string): boolean {
    const tok = this.peek;
    if ((tok.kind === 'punct' || tok.kind === 'ident') && tok.text === text) {
      this.pos++;
      return true;
    }
    return false;
  }

  private expect(text: string): void {
    if (!this.accept(text)) this.fail(`expected '${text}', found ${this.describe()}`);
  }

  private next(kind: TokenKind, what: string): Token {
    const tok = this.peek;
    if (tok.kind !== kind) this.fail(`expected ${what}, found ${this.describe()}`);
    this.pos++;
    return tok;
  }

  private describe(tok = this.peek): string {
    return tok.kind === 'eof' ? 'the end of the input' : `'${tok.text}'`;
  }

  span(tok = this.peek): Span {
    return { file: this.file, line: tok.line, col: tok.col, offset: tok.offset, end: tok.offset + tok.text.length };
  }

  private fail(message: string, tok = this.peek): never {
    throw new PtmError(diag.ir_syntax_error(this.span(tok), message));
  }
}
