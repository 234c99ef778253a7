// One test per construct of dsl/REFERENCE.md: the AST's shape (kinds, operators, names) and spans.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Span } from '../../src/diagnostics/index.js';
import { parse, type AssignStmt, type BlockDecl, type ConfigBlock, type InputDecl, type ModelItem } from '../../src/parser/index.js';
import { exprOf, modelOf, parseOk, show } from './helpers.js';

function itemsOf(body: string): ModelItem[] {
  return modelOf(`model M {\n${body}\n}`).items;
}

function only<K extends ModelItem['kind']>(items: ModelItem[], kind: K): Extract<ModelItem, { kind: K }>[] {
  return items.filter((i): i is Extract<ModelItem, { kind: K }> => i.kind === kind);
}

describe('§1 lexical structure', () => {
  it('skips line and block comments anywhere, and ignores optional semicolons', () => {
    const items = itemsOf(`
      // a line comment
      x = 1; /* a block comment
                over lines */ y = /* inline */ 2;;
      z = x // trailing
    `);
    expect(items.map((i) => (i as AssignStmt).target.name)).toEqual(['x', 'y', 'z']);
  });

  it('is insensitive to line breaks: statements need no separators and may span lines', () => {
    const items = itemsOf('x = 1 y = 2\n  z = x +\n    y');
    expect(items.map((i) => show((i as AssignStmt).value))).toEqual(['1', '2', '(x + y)']);
  });

  it('lexes names that start with a keyword as names (longer_alt)', () => {
    const items = itemsOf('models = 1  inputs = 2  asx = 3  configs = 4  returned = 5  masked = 6  shared_x = 7');
    expect(items.map((i) => (i as AssignStmt).target.name)).toEqual(['models', 'inputs', 'asx', 'configs', 'returned', 'masked', 'shared_x']);
  });

  it('reads integer and float literals, exponents and digit separators', () => {
    const numbers = ['768', '0.02', '1e-5', '2.5E+3', '50_257'].map((text) => exprOf(text));
    expect(numbers.map((n) => (n.kind === 'number' ? [n.value, n.isInteger, n.text] : null))).toEqual([
      [768, true, '768'],
      [0.02, false, '0.02'],
      [1e-5, false, '1e-5'],
      [2500, false, '2.5E+3'],
      [50257, true, '50_257'],
    ]);
  });

  it('reads strings with escapes', () => {
    const e = exprOf('"a \\"quoted\\" word\\n\\ttab \\\\"');
    expect(e).toMatchObject({ kind: 'string', value: 'a "quoted" word\n\ttab \\' });
  });

  it('lexes ^T as one postfix token and ... as one token', () => {
    expect(show(exprOf('w^T'))).toBe('w^T');
    expect(show(exprOf('x[...]'))).toBe('x[...]');
  });

  it('counts lines and columns from 1, and offsets from 0, with \\r\\n line endings too', () => {
    const model = modelOf('model M {\r\n  config { d = 4 }\r\n  output y = d\r\n}\r\n');
    const out = model.items[1]!;
    expect(out.span).toMatchObject({ file: 'test.ptm', line: 3, col: 3 });
    expect(out.kind === 'output' && out.name.span).toMatchObject({ line: 3, col: 10, offset: 40, end: 41 });
  });
});

describe('§2 files and models', () => {
  it('parses a model with its name and span', () => {
    const ast = parseOk('\n\nmodel GPT2 {\n  output y = 1\n}\n', 'gpt2.ptm');
    expect(ast.file).toBe('gpt2.ptm');
    const model = ast.models[0]!;
    expect(model.name).toMatchObject({ name: 'GPT2', span: { line: 3, col: 7 } });
    expect(model.span).toMatchObject({ file: 'gpt2.ptm', line: 3, col: 1 });
    expect(model.span.end).toBe(ast.span.end - 1);
  });

  it('keeps items in source order and allows several models and plans per file', () => {
    const ast = parseOk('model A { x = 1 } plan P for A { } model B { y = 2 }');
    expect(ast.models.map((m) => m.name.name)).toEqual(['A', 'B']);
    expect(ast.plans.map((p) => p.name.name)).toEqual(['P']);
  });

  it('parses the GPT-2 example of the reference', () => {
    const model = modelOf(GPT2);
    expect(model.items.map((i) => i.kind)).toEqual(['config', 'input', 'assign', 'assign', 'block', 'assign', 'assign', 'output']);
    const [, , , , , , h2, logits] = model.items;
    expect(show((h2 as AssignStmt).value)).toBe('repeat(layers) Layer(h)');
    expect(logits!.kind === 'output' && show(logits.value)).toBe('(LayerNorm(h) @ tok.weight^T)');
  });
});

describe('§3 config', () => {
  it('holds integers, floats and expressions over other entries, in any order', () => {
    const [config] = itemsOf('config {\n  ff = 4 * d\n  d = 768\n  eps = 1e-5\n  head_dim = d / heads\n  heads = 12\n}') as [ConfigBlock];
    expect(config.kind).toBe('config');
    expect(config.entries.map((e) => `${e.name.name} = ${show(e.value)}`)).toEqual([
      'ff = (4 * d)',
      'd = 768',
      'eps = 1e-5',
      'head_dim = (d / heads)',
      'heads = 12',
    ]);
    expect(config.entries[1]!.span).toMatchObject({ line: 4, col: 3 });
  });

  it('accepts an empty config block', () => {
    expect(itemsOf('config { }')).toMatchObject([{ kind: 'config', entries: [] }]);
  });
});

describe('§4 inputs', () => {
  it('declares dtypes and symbolic or config dimensions', () => {
    const inputs = only(itemsOf(`
      input ids: i32[batch, seq]
      input x: f32[batch, seq, d]
      input h: f16[2 * d]
      input b: bf16[n]
      input w: f64[n, n]
      input pos: i64[seq]
      input valid: bool[batch, seq]
      input scale: f32[]
    `), 'input');
    expect(inputs.map((i: InputDecl) => `${i.name.name}: ${i.type.dtype.name}[${i.type.dims.map(show).join(', ')}]`)).toEqual([
      'ids: i32[batch, seq]',
      'x: f32[batch, seq, d]',
      'h: f16[(2 * d)]',
      'b: bf16[n]',
      'w: f64[n, n]',
      'pos: i64[seq]',
      'valid: bool[batch, seq]',
      'scale: f32[]',
    ]);
    expect(inputs[0]!.type.span).toMatchObject({ line: 3, col: 18 });
  });
});

describe('§5 statements', () => {
  it('§5.1 assigns and rebinds names, in order', () => {
    const items = itemsOf('h = x\nh = h + 1\nh = f(h)');
    expect(items.map((i) => `${(i as AssignStmt).target.name} = ${show((i as AssignStmt).value)}`)).toEqual(['h = x', 'h = (h + 1)', 'h = f(h)']);
  });

  it('§5.2 declares blocks with parameters, defaults, statements and a return', () => {
    const [block] = itemsOf(`
      block Layer(x, heads = 12, ff = 4 * d) {
        x = x + Attention(LayerNorm(x), heads: heads, mask: causal)
        x = x + FFN(LayerNorm(x), hidden: ff, act: gelu)
        return x
      }
    `) as [BlockDecl];
    expect(block.kind).toBe('block');
    expect(block.name.name).toBe('Layer');
    expect(block.params.map((p) => [p.name.name, p.default && show(p.default)])).toEqual([
      ['x', undefined],
      ['heads', '12'],
      ['ff', '(4 * d)'],
    ]);
    expect(block.body.map((s) => s.kind)).toEqual(['assign', 'assign', 'return']);
    expect(show(block.body[2]!.value)).toBe('x');
    expect(block.span).toMatchObject({ line: 3, col: 7 });
  });

  it('§5.2 allows a block without parameters', () => {
    expect(itemsOf('block Zero() { return 0 }')).toMatchObject([{ kind: 'block', params: [], body: [{ kind: 'return' }] }]);
  });

  it('§5.3 repeat(n) Block(args)', () => {
    const e = exprOf('repeat(layers) Layer(h)');
    expect(e).toMatchObject({ kind: 'repeat', shared: false, block: { name: 'Layer' }, count: { kind: 'name', name: 'layers' } });
    expect(e.kind === 'repeat' && e.indexName).toBeUndefined();
  });

  it('§5.3 repeat(n) shared Block(args)', () => {
    expect(exprOf('repeat(layers) shared Layer(h)')).toMatchObject({ kind: 'repeat', shared: true, block: { name: 'Layer' } });
  });

  it('§5.3 repeat(n) as i Block(args) binds the index', () => {
    const e = exprOf('repeat(layers / 2) as i Layer(h, i, memory: mem[i])');
    expect(show(e)).toBe('repeat((layers / 2)) as i Layer(h, i, memory: mem[i])');
    expect(e).toMatchObject({ kind: 'repeat', indexName: { name: 'i' }, span: { line: 2, col: 7 } });
  });

  it('§5.4 declares outputs', () => {
    const outputs = only(itemsOf('output logits = h @ w\noutput loss = mean(h, axis: 0)'), 'output');
    expect(outputs.map((o) => `${o.name.name} = ${show(o.value)}`)).toEqual(['logits = (h @ w)', 'loss = mean(h, axis: 0)']);
  });
});

describe('§6 expressions', () => {
  it('§6.1 literals: numbers, strings, booleans, names', () => {
    expect(['12', '"x"', 'true', 'false', 'seq'].map((s) => exprOf(s).kind)).toEqual(['number', 'string', 'bool', 'bool', 'name']);
  });

  it('§6.2 arithmetic is left-associative with * / % @ above + -', () => {
    expect(show(exprOf('a - b - c'))).toBe('((a - b) - c)');
    expect(show(exprOf('a + b * c - d / e % f'))).toBe('((a + (b * c)) - ((d / e) % f))');
    expect(show(exprOf('x @ w + b'))).toBe('((x @ w) + b)');
  });

  it('§6.2 ** is right-associative and binds tighter than a prefix minus', () => {
    expect(show(exprOf('a ** b ** c'))).toBe('(a ** (b ** c))');
    expect(show(exprOf('-2 ** 2'))).toBe('(-(2 ** 2))');
    expect(show(exprOf('2 ** -1'))).toBe('(2 ** (-1))');
    expect(show(exprOf('-a * b'))).toBe('((-a) * b)');
  });

  it('§6.2 comparisons sit between arithmetic and &, |', () => {
    expect(show(exprOf('k <= q + 1 & q - k < w | k == 0'))).toBe('(((k <= (q + 1)) & ((q - k) < w)) | (k == 0))');
    expect(show(exprOf('a != b'))).toBe('(a != b)');
    expect(show(exprOf('a >= b'))).toBe('(a >= b)');
    expect(show(exprOf('a > b'))).toBe('(a > b)');
  });

  it('§6.2 spans cover the whole expression', () => {
    const e = exprOf('a + b * c');
    expect(e.span).toMatchObject({ line: 2, col: 7 });
    expect(e.span.end - e.span.offset).toBe('a + b * c'.length);
    const paren = exprOf('(a + b)');
    expect(paren.span.end - paren.span.offset).toBe('(a + b)'.length);
  });

  it('§6.3 calls take positional then named arguments', () => {
    const e = exprOf('Linear(x, 4 * d, bias: false)');
    expect(e.kind).toBe('call');
    if (e.kind !== 'call') return;
    expect(show(e.callee)).toBe('Linear');
    expect(e.args.map((a) => a.name?.name)).toEqual([undefined, undefined, 'bias']);
    expect(e.args[2]!.span).toMatchObject({ line: 2, col: 24 });
    expect(show(exprOf('f()'))).toBe('f()');
  });

  it('§6.3 keywords may name arguments', () => {
    expect(show(exprOf('Attention(x, mask: causal, memory: mem[i])'))).toBe('Attention(x, mask: causal, memory: mem[i])');
  });

  it('§6.4 member access', () => {
    expect(exprOf('tok.weight')).toMatchObject({ kind: 'member', object: { kind: 'name', name: 'tok' }, member: { name: 'weight' } });
  });

  it('§6.5 transpose is postfix and binds tighter than @', () => {
    expect(exprOf('w^T')).toMatchObject({ kind: 'transpose', operand: { kind: 'name', name: 'w' } });
    expect(show(exprOf('LayerNorm(h) @ tok.weight^T'))).toBe('(LayerNorm(h) @ tok.weight^T)');
    expect(show(exprOf('-w^T'))).toBe('(-w^T)');
  });

  it('§6.6 indexing and slicing', () => {
    expect(show(exprOf('x[:, 0]'))).toBe('x[:, 0]');
    expect(show(exprOf('x[..., :d]'))).toBe('x[..., :d]');
    expect(show(exprOf('x[1:3:2]'))).toBe('x[1:3:2]');
    expect(show(exprOf('x[::2, -1, a:]'))).toBe('x[::2, (-1), a:]');
    const e = exprOf('x[:, 0]');
    expect(e.kind === 'index' && e.items.map((i) => i.kind)).toEqual(['slice', 'at']);
    expect(e.kind === 'index' && e.items[1]!.span).toMatchObject({ line: 2, col: 12 });
    const slice = exprOf('x[1:3:2]');
    expect(slice).toMatchObject({ kind: 'index', items: [{ kind: 'slice', start: { value: 1 }, end: { value: 3 }, step: { value: 2 } }] });
  });

  it('§6.6 postfix operations chain left to right', () => {
    expect(show(exprOf('f(x)(y).z[0]^T'))).toBe('f(x)(y).z[0]^T');
  });

  it('§6.7 lists', () => {
    expect(exprOf('[1, 2, 3]')).toMatchObject({ kind: 'list', items: [{ value: 1 }, { value: 2 }, { value: 3 }] });
    expect(exprOf('[]')).toMatchObject({ kind: 'list', items: [] });
    expect(show(exprOf('reshape(x, [batch, seq, heads, -1])'))).toBe('reshape(x, [batch, seq, heads, (-1)])');
    expect(show(exprOf('concat([a, b], axis: -1)'))).toBe('concat([a, b], axis: (-1))');
  });
});

describe('§7 attention and masks', () => {
  it('§7.1 self- and cross-attention calls with named arguments', () => {
    expect(show(exprOf('Attention(x, heads: h, mask: causal)'))).toBe('Attention(x, heads: h, mask: causal)');
    expect(show(exprOf('Attention(y, kv: enc, heads: h, mask: padding(src_valid), bias: true)'))).toBe(
      'Attention(y, kv: enc, heads: h, mask: padding(src_valid), bias: true)',
    );
  });

  it('§7.2 named masks are names and calls', () => {
    expect(exprOf('full')).toMatchObject({ kind: 'name', name: 'full' });
    expect(exprOf('causal')).toMatchObject({ kind: 'name', name: 'causal' });
    expect(exprOf('padding(valid)')).toMatchObject({ kind: 'call', callee: { name: 'padding' }, args: [{ value: { name: 'valid' } }] });
    expect(exprOf('prefix(n)')).toMatchObject({ kind: 'call', callee: { name: 'prefix' }, args: [{ value: { name: 'n' } }] });
  });

  it('§7.3 combinators: ! binds tightest, then &, then |', () => {
    expect(show(exprOf('causal & padding(valid)'))).toBe('(causal & padding(valid))');
    expect(show(exprOf('a | b & c'))).toBe('(a | (b & c))');
    expect(show(exprOf('!a & b'))).toBe('((!a) & b)');
    expect(show(exprOf('!(a | b)'))).toBe('(!(a | b))');
    const e = exprOf('window(256) | global(cls) & padding(valid)');
    expect(e).toMatchObject({ kind: 'binary', op: '|', left: { kind: 'call' }, right: { kind: 'binary', op: '&' } });
  });

  it('§7.3 custom mask predicates over (b, h, q, k)', () => {
    const e = exprOf('mask (b, h, q, k) => rank[b, k] <= rank[b, q]');
    expect(e.kind).toBe('mask_lambda');
    if (e.kind !== 'mask_lambda') return;
    expect(e.params.map((p) => p.name)).toEqual(['b', 'h', 'q', 'k']);
    expect(show(e.body)).toBe('(rank[b, k] <= rank[b, q])');
    expect(e.span).toMatchObject({ line: 2, col: 7 });
    expect(e.span.end - e.span.offset).toBe('mask (b, h, q, k) => rank[b, k] <= rank[b, q]'.length);
  });

  it('§7.3 a lambda body extends as far right as possible', () => {
    expect(show(exprOf('mask (b, h, q, k) => (q - k) % 2 == 0 | k < n[b]'))).toBe('mask (b, h, q, k) => ((((q - k) % 2) == 0) | (k < n[b]))');
    expect(show(exprOf('causal & mask (b, h, q, k) => k != q'))).toBe('(causal & mask (b, h, q, k) => (k != q))');
  });
});

describe('§8 built-in layers and functions', () => {
  it('parses layer calls and modules bound by assignment', () => {
    const items = itemsOf(`
      tok = Embedding(vocab, d)
      proj = Linear(128, d)
      h = tok(ids) + pos(arange(seq))
      h = Linear(h, 4 * d, bias: false)
      h = LayerNorm(h, eps: 1e-5) + RMSNorm(h, eps: 1e-6)
      h = FFN(h, hidden: ff, act: gelu_tanh)
      h = softmax(h @ w^T / sqrt(dh))
      h = cast(transpose(h, 1, 2), f32)
    `) as AssignStmt[];
    expect(items.map((i) => show(i.value))).toEqual([
      'Embedding(vocab, d)',
      'Linear(128, d)',
      '(tok(ids) + pos(arange(seq)))',
      'Linear(h, (4 * d), bias: false)',
      '(LayerNorm(h, eps: 1e-5) + RMSNorm(h, eps: 1e-6))',
      'FFN(h, hidden: ff, act: gelu_tanh)',
      'softmax(((h @ w^T) / sqrt(dh)))',
      'cast(transpose(h, 1, 2), f32)',
    ]);
  });

  it('parses activations as names', () => {
    for (const act of ['gelu', 'gelu_tanh', 'relu', 'silu', 'tanh', 'sigmoid']) {
      expect(exprOf(`FFN(x, hidden: ff, act: ${act})`)).toMatchObject({ kind: 'call', args: [{}, {}, { name: { name: 'act' }, value: { kind: 'name', name: act } }] });
    }
  });
});

describe('§9 not yet supported constructs still parse', () => {
  it('memory declarations, with and without a count', () => {
    const memories = only(itemsOf('memory mem[layers]: f32[batch, 512, d]\nmemory state: f32[batch, d]'), 'memory');
    expect(memories.map((m) => [m.name.name, m.count && show(m.count), m.type.dtype.name, m.type.dims.map(show)])).toEqual([
      ['mem', 'layers', 'f32', ['batch', '512', 'd']],
      ['state', undefined, 'f32', ['batch', 'd']],
    ]);
  });

  it('positions, MoE and linear-attention arguments are ordinary calls', () => {
    expect(show(exprOf('Attention(x, heads: h, position: rotary(base: 10000), kernel: favor(features: 256))'))).toBe(
      'Attention(x, heads: h, position: rotary(base: 10000), kernel: favor(features: 256))',
    );
    expect(show(exprOf('MoE(x, experts: 8, top_k: 2, expert: FFN(hidden: ff, act: gelu))'))).toBe(
      'MoE(x, experts: 8, top_k: 2, expert: FFN(hidden: ff, act: gelu))',
    );
  });
});

describe('§10 plans', () => {
  it('skips a plan body with balanced braces and keeps its name, model and span', () => {
    const ast = parseOk(`model GPT2 { output y = 1 }
plan GPT2_train for GPT2 {
  target: cuda
  precision: mixed(bf16, keep_f32: [softmax, layernorm, loss]), loss_scale: dynamic
  mesh: { data: 2, tensor: { inner: 4 } }
  remat: budget(24 GiB)
}
plan Default { target: cpu }`);
    expect(ast.plans).toHaveLength(2);
    expect(ast.plans[0]).toMatchObject({ kind: 'plan', name: { name: 'GPT2_train' }, model: { name: 'GPT2' }, span: { line: 2, col: 1 } });
    expect(ast.plans[1]!.model).toBeUndefined();
  });
});

describe('error recovery keeps the rest of the file', () => {
  it('drops only the broken items', () => {
    const { ast, diagnostics } = parse('model M {\n  config { d = 4 }\n  x = 3 +\n  output y = d\n}\n');
    expect(diagnostics.map((d) => d.code)).toEqual(['syntax_error']);
    expect(ast.models[0]!.items.map((i) => i.kind)).toEqual(['config', 'output']);
  });
});

describe('spans', () => {
  it('agree with their offsets, and every child lies within its parent', () => {
    const source = GPT2 + '\nmodel Extra {\n  y = mask (b, h, q, k) => !(k > q) & x[..., 1:2, -1]^T\n  z = repeat(2) shared as i L(x, n: -i ** 2)\n}\n';
    const ast = parseOk(source);
    const lineStarts = [0, ...[...source.matchAll(/\n/g)].map((m) => m.index! + 1)];
    let checked = 0;
    const visit = (node: unknown, parent: Span | undefined): void => {
      if (Array.isArray(node)) return node.forEach((n) => visit(n, parent));
      if (typeof node !== 'object' || node === null) return;
      const span = (node as { span?: Span }).span;
      if (span) {
        checked++;
        expect(span.file).toBe('test.ptm');
        expect(lineStarts[span.line - 1]! + span.col - 1).toBe(span.offset);
        expect(span.end).toBeGreaterThan(span.offset);
        if (parent) {
          expect(span.offset).toBeGreaterThanOrEqual(parent.offset);
          expect(span.end).toBeLessThanOrEqual(parent.end);
        }
      }
      for (const [key, value] of Object.entries(node)) if (key !== 'span') visit(value, span ?? parent);
    };
    visit(ast, undefined);
    expect(checked).toBeGreaterThan(100);
  });
});

describe('the shipped models', () => {
  const dir = join(import.meta.dirname, '../../models');
  const files = readdirSync(dir).filter((f) => f.endsWith('.ptm'));
  it.each(files)('models/%s parses cleanly', (name) => {
    expect(parseOk(readFileSync(join(dir, name), 'utf8'), name).models).toHaveLength(1);
  });
});

const GPT2 = `// decoder-only, causal mask, learned absolute positions, tied LM head.
model GPT2 {
  config {
    vocab = 50257
    d = 768
    heads = 12
    layers = 12
    ctx = 1024
    ff = 4 * d
  }

  input ids: i32[batch, seq]

  tok = Embedding(vocab, d)
  pos = Embedding(ctx, d)

  block Layer(x) {
    x = x + Attention(LayerNorm(x), heads: heads, mask: causal)
    x = x + FFN(LayerNorm(x), hidden: ff, act: gelu)
    return x
  }

  h = tok(ids) + pos(arange(seq))
  h = repeat(layers) Layer(h)
  output logits = LayerNorm(h) @ tok.weight^T
}
`;
