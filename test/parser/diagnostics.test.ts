// Diagnostics of the parser. Each file in bad/ states what it must produce, MLIR-style, in
// `// expect: <code> <line>:<col>` comments: exactly those diagnostics, in that order.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPtmError, renderDiagnostic, type Diagnostic } from '../../src/diagnostics/index.js';
import { loadSource, MAX_NESTING, parse } from '../../src/parser/index.js';

const BAD = join(import.meta.dirname, 'bad');

/** Diagnostics of a file on disk, whether loadSource or parse reports them. */
function diagnosticsOf(path: string, name: string): Diagnostic[] {
  try {
    const { text } = loadSource(path);
    return parse(text, name).diagnostics;
  } catch (e) {
    if (isPtmError(e)) return e.diagnostics;
    throw e;
  }
}

const where = (ds: Diagnostic[]): string[] => ds.map((d) => `${d.code} ${d.span.line}:${d.span.col}`);

describe('bad inputs (test/parser/bad/*.ptm)', () => {
  const files = readdirSync(BAD).filter((f) => f.endsWith('.ptm')).sort();

  it('has at least 25 cases', () => {
    expect(files.length).toBeGreaterThanOrEqual(25);
  });

  it.each(files)('%s', (name) => {
    const path = join(BAD, name);
    // latin1 reads every byte, so the expectations of binary files can be read too.
    const expected = [...readFileSync(path, 'latin1').matchAll(/\/\/ expect: (\w+) (\d+:\d+)/g)].map((m) => `${m[1]} ${m[2]}`);
    expect(expected.length, 'the file states no expectation').toBeGreaterThan(0);
    const diagnostics = diagnosticsOf(path, name);
    expect(where(diagnostics)).toEqual(expected);
    for (const d of diagnostics) {
      expect(d.severity).toBe('error');
      expect(d.message).not.toMatch(/-->|<--|\[object|undefined|NaN|Token|Mismatch|NoViableAlt/);
    }
  });
});

describe('inputs that cannot be written as a file with an expectation', () => {
  it('an empty source is empty_source at 1:1', () => {
    expect(where(parse('', 'e.ptm').diagnostics)).toEqual(['empty_source 1:1']);
    expect(where(parse('  \n\t\r\n  ', 'e.ptm').diagnostics)).toEqual(['empty_source 1:1']);
  });

  it(`${10_000} nested parentheses are nesting_too_deep at the first level past ${MAX_NESTING}`, { timeout: 2_000 }, () => {
    const source = `model M {\n  x = ${'('.repeat(10_000)}1${')'.repeat(10_000)}\n}\n`;
    expect(where(parse(source).diagnostics)).toEqual([`nesting_too_deep 2:${7 + MAX_NESTING}`]);
  });

  it('accepts exactly the nesting limit', () => {
    parseAndExpectClean(`model M { x = ${'('.repeat(MAX_NESTING)}1${')'.repeat(MAX_NESTING)} }`);
    parseAndExpectClean(`model M { x = ${'-'.repeat(MAX_NESTING)}1 }`);
  });

  it('counts brackets, prefix operators, ** chains and mask lambdas as nesting', { timeout: 20_000 }, () => {
    const deep = 100_000;
    for (const expression of [
      '['.repeat(deep) + ']'.repeat(deep),
      '-'.repeat(deep) + '1',
      '!'.repeat(deep) + 'a',
      '2 ** '.repeat(deep) + '1',
      'mask (b) => '.repeat(deep) + 'true',
      'f('.repeat(deep) + ')'.repeat(deep),
    ]) {
      const { diagnostics } = parse(`model M { x = ${expression} }`);
      expect(diagnostics.map((d) => d.code)).toEqual(['nesting_too_deep']);
    }
    expect(parse(`plan P { ${'{'.repeat(deep)} }`).diagnostics.map((d) => d.code)).toEqual(['nesting_too_deep']);
  });

  it('does not count operators that do not nest', () => {
    // 200 statements with prefix minus and **, 200 terms: flat, however long.
    parseAndExpectClean(`model M {\n${'  x = -a ** -b * -c\n'.repeat(200)}  y = ${Array(200).fill('-a').join(' + ')}\n}`);
  });

  it('reports several lexical errors in one run, each at its first character', () => {
    const { diagnostics } = parse('model M {\n  x = $$$ + 1\n  y = 2 # comment\n  z = "open\n}\n');
    expect(where(diagnostics)).toEqual(['unexpected_character 2:7', 'unexpected_character 3:9', 'unterminated_string 4:7']);
    expect(diagnostics[0]!.span.end - diagnostics[0]!.span.offset).toBe(1);
  });

  it('reports one diagnostic per token at most (no echoes of the same error)', () => {
    const { diagnostics } = parse('model M {\n  x = f(a, b\n  y = g(\n  output z = \n');
    const positions = diagnostics.map((d) => d.span.offset);
    expect(new Set(positions).size).toBe(positions.length);
    expect(diagnostics.length).toBeGreaterThanOrEqual(1);
  });
});

describe('hostile inputs finish quickly and never throw', () => {
  it('1 MiB of "("', { timeout: 5_000 }, () => {
    expect(parse('('.repeat(1 << 20)).diagnostics.map((d) => d.code)).toEqual(['nesting_too_deep']);
  });

  it('1 MiB of random bytes decoded as text', { timeout: 5_000 }, () => {
    const bytes = new Uint8Array(1 << 20);
    let seed = 12345;
    for (let i = 0; i < bytes.length; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      bytes[i] = seed >>> 24;
    }
    const { diagnostics } = parse(new TextDecoder().decode(bytes));
    expect(diagnostics.length).toBeGreaterThan(0);
    expect(diagnostics.length).toBeLessThanOrEqual(20);
  });

  it('10^5 tokens of well-formed code', { timeout: 10_000 }, () => {
    const { ast, diagnostics } = parse(`model M {\n  x = ${Array(50_000).fill('a').join(' + ')}\n}`);
    expect(diagnostics).toEqual([]);
    expect(ast.models[0]!.items).toHaveLength(1);
  });

  it('10^5 tokens of garbage stop after a bounded number of errors', { timeout: 10_000 }, () => {
    const { diagnostics } = parse(') ] , = : model { config }'.repeat(10_000));
    expect(diagnostics.length).toBeGreaterThan(1);
    expect(diagnostics.length).toBeLessThanOrEqual(20);
  });

  it('random token soup', { timeout: 60_000 }, () => {
    const words = ['model', 'M', '{', '}', '(', ')', '[', ']', '=', 'x', '1', '2.5', '+', '-', '!', '**', '@', ',', ':', ';',
      'config', 'input', 'output', 'block', 'return', 'repeat', 'shared', 'as', 'mask', 'memory', 'plan', 'for', '=>', '.',
      '^T', '...', '"s"', 'f32', '&', '|', '<=', '==', '/*', '*/', '//', '\n', '#', '1e999'];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...words), { maxLength: 60 }), (tokens) => {
        const source = tokens.join(' ');
        const { diagnostics } = parse(source, 'soup.ptm');
        for (const d of diagnostics) {
          expect(d.span.line).toBeGreaterThanOrEqual(1);
          expect(d.span.offset).toBeGreaterThanOrEqual(0);
          expect(d.span.offset).toBeLessThanOrEqual(source.length);
          expect(d.code).not.toBe('internal_error');
        }
      }),
      { numRuns: 1_000 },
    );
  });

  it('valid statements in any order never yield diagnostics', { timeout: 60_000 }, () => {
    const statements = ['x = 1', 'y = x + 2 * 3', 'input ids: i32[batch, seq]', 'config { d = 4 ff = 4 * d }',
      'block L(h, n = 2) { h = h + 1 return h }', 'output o = x @ w^T', 'z = repeat(n) shared L(x)', 'm = mask (b, h, q, k) => k <= q',
      'memory mem[layers]: f32[b, 4]', 'w = x[..., :d, 1:2:3]', 'v = [1, 2]', 'u = -2 ** -2'];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...statements), { maxLength: 20 }), (items) => {
        expect(parse(`model M {\n${items.join('\n')}\n}`).diagnostics).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});

describe('loadSource', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ptm-parser-'));

  it('reads UTF-8 text and keeps the path as the file name', () => {
    const path = join(dir, 'ok.ptm');
    writeFileSync(path, '\ufeffmodel M { output y = "é" }\n');
    const { text, file } = loadSource(path);
    expect(file).toBe(path);
    expect(text.startsWith('model')).toBe(true);
  });

  it('file_not_found for a missing path, with no position', () => {
    const error = catchPtm(() => loadSource(join(dir, 'missing.ptm')));
    expect(error.map((d) => [d.code, d.span.line])).toEqual([['file_not_found', 0]]);
  });

  it('file_unreadable for a directory', () => {
    const sub = join(dir, 'a-directory.ptm');
    mkdirSync(sub);
    expect(catchPtm(() => loadSource(sub)).map((d) => d.code)).toEqual(['file_unreadable']);
  });

  it('file_too_large above 1 MiB', () => {
    const path = join(dir, 'big.ptm');
    writeFileSync(path, `// ${'x'.repeat(1024 * 1024)}\n`);
    expect(where(catchPtm(() => loadSource(path)))).toEqual(['file_too_large 1:1']);
  });
});

describe('rendering', () => {
  it('shows file:line:col, the source line and a caret under the column', () => {
    const source = 'model M {\n  config {\n    d 768\n  }\n}\n';
    const [d] = parse(source, 'models/m.ptm').diagnostics;
    const text = renderDiagnostic(d!, new Map([['models/m.ptm', source]]));
    const lines = text.split('\n');
    expect(lines[0]).toBe("models/m.ptm:3:7: error[syntax_error]: expected '=' after 'd', found '768'");
    expect(lines[2]).toBe('3 |     d 768');
    expect(lines[3]).toBe('  |       ^^^');
    expect(lines[2]!.indexOf('768')).toBe(lines[3]!.indexOf('^'));
  });

  it('words the common mistakes for people, not in parser terms', () => {
    const message = (source: string) => parse(source).diagnostics[0]?.message;
    expect(message('model GPT2 {\n  block L(x) {\n    return x\n  output y = 1\n}')).toBe(
      "expected a statement or '}' to close the block 'L' started at 2:3, found 'output'",
    );
    expect(message('model M {\n  x = f(1, )\n}')).toBe("expected an argument, found ')'");
    expect(message('model M {\n  x = (1 + 2\n}')).toBe("expected ')' to close the '(' at 2:7, found '}'");
    expect(message('model M {\n  output y = 1\n')).toBe("expected a model item or '}' to close the model 'M' started at 1:1, found the end of the file");
    expect(message('model M {\n  config {\n    d = 1\n  output y = d\n}')).toBe(
      "expected 'name = value' or '}' to close the config block started at 2:3, found 'output'",
    );
    expect(message('model M {\n  config = 3\n}')).toBe("'config' is a reserved word and cannot be used as a name");
  });
});

function parseAndExpectClean(source: string): void {
  expect(parse(source).diagnostics.map((d) => `${d.code} ${d.span.line}:${d.span.col} ${d.message}`)).toEqual([]);
}

function catchPtm(f: () => unknown): Diagnostic[] {
  try {
    f();
  } catch (e) {
    if (isPtmError(e)) return e.diagnostics;
    throw e;
  }
  throw new Error('expected a PtmError');
}
