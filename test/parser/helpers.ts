// Shared helpers for the parser tests: parse-or-fail, and a compact printer that makes the shape
// of an expression tree (precedence, associativity) visible in one string.
import { expect } from 'vitest';
import { parse, type Expr, type IndexItem, type Arg, type ModelDecl, type SourceFile } from '../../src/parser/index.js';

/** Parses `source` and fails the test on any diagnostic. */
export function parseOk(source: string, file = 'test.ptm'): SourceFile {
  const { ast, diagnostics } = parse(source, file);
  expect(diagnostics.map((d) => `${d.span.line}:${d.span.col} ${d.code}: ${d.message}`)).toEqual([]);
  return ast;
}

/** The only model of a source that must parse cleanly. */
export function modelOf(source: string): ModelDecl {
  const ast = parseOk(source);
  expect(ast.models).toHaveLength(1);
  return ast.models[0]!;
}

/** Parses `x = <expression>` inside a model and returns the expression. */
export function exprOf(expression: string): Expr {
  const item = modelOf(`model M {\n  x = ${expression}\n}`).items[0]!;
  if (item.kind !== 'assign') throw new Error(`expected an assignment, got ${item.kind}`);
  return item.value;
}

/** Fully parenthesized rendering: `-2**2` shows as `(-(2 ** 2))`. */
export function show(e: Expr): string {
  switch (e.kind) {
    case 'number':
      return e.text;
    case 'string':
      return JSON.stringify(e.value);
    case 'bool':
      return String(e.value);
    case 'name':
      return e.name;
    case 'binary':
      return `(${show(e.left)} ${e.op} ${show(e.right)})`;
    case 'unary':
      return `(${e.op}${show(e.operand)})`;
    case 'call':
      return `${show(e.callee)}(${showArgs(e.args)})`;
    case 'member':
      return `${show(e.object)}.${e.member.name}`;
    case 'index':
      return `${show(e.object)}[${e.items.map(showItem).join(', ')}]`;
    case 'transpose':
      return `${show(e.operand)}^T`;
    case 'list':
      return `[${e.items.map(show).join(', ')}]`;
    case 'repeat':
      return `repeat(${show(e.count)})${e.shared ? ' shared' : ''}${e.indexName ? ` as ${e.indexName.name}` : ''} ${e.block.name}(${showArgs(e.args)})`;
    case 'mask_lambda':
      return `mask (${e.params.map((p) => p.name).join(', ')}) => ${show(e.body)}`;
  }
}

function showArgs(args: Arg[]): string {
  return args.map((a) => (a.name ? `${a.name.name}: ` : '') + show(a.value)).join(', ');
}

function showItem(item: IndexItem): string {
  if (item.kind === 'ellipsis') return '...';
  if (item.kind === 'at') return show(item.index);
  const part = (e: Expr | undefined) => (e ? show(e) : '');
  return `${part(item.start)}:${part(item.end)}${item.step ? `:${show(item.step)}` : ''}`;
}
