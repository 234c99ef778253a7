// dsl/REFERENCE.md stays honest: every ```ptm block in it is a complete file that parses cleanly,
// every diagnostic code of the catalogue is listed in its §11, and §12's keywords are the lexer's.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { diag } from '../../src/diagnostics/index.js';
import { parse } from '../../src/parser/index.js';

const REFERENCE = readFileSync(join(import.meta.dirname, '../../dsl/REFERENCE.md'), 'utf8');

/** The ```ptm blocks, each with the line it starts on. */
function ptmBlocks(): { line: number; source: string }[] {
  const blocks: { line: number; source: string }[] = [];
  const lines = REFERENCE.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```ptm') continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end] !== '```') end++;
    blocks.push({ line: start + 1, source: lines.slice(start, end).join('\n') });
    i = end;
  }
  return blocks;
}

describe('dsl/REFERENCE.md', () => {
  const blocks = ptmBlocks();

  it('has examples', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(10);
  });

  it.each(blocks.map((b) => [b.line, b.source] as const))('the example at line %i parses', (_line, source) => {
    const { ast, diagnostics } = parse(source, 'REFERENCE.md');
    expect(diagnostics.map((d) => `${d.span.line}:${d.span.col} ${d.code}: ${d.message}`)).toEqual([]);
    expect(ast.models.length).toBeGreaterThanOrEqual(1);
  });

  it('lists every diagnostic code in §11', () => {
    const section = REFERENCE.slice(REFERENCE.indexOf('## 11 Diagnostics'), REFERENCE.indexOf('## 12 Grammar'));
    const missing = Object.keys(diag).filter((code) => !section.includes(`| \`${code}\` |`));
    expect(missing).toEqual([]);
  });

  it('reserves exactly the keywords the lexer reserves', () => {
    const listed = /```text\n(model config input[^\n]*)\n```/.exec(REFERENCE)?.[1]?.split(' ') ?? [];
    expect(listed.length).toBe(15);
    for (const word of listed) {
      // A keyword cannot be assigned to; a name that starts with one can.
      expect(parse(`model M { ${word} = 1 }`).diagnostics.map((d) => d.code)).toContain('syntax_error');
      expect(parse(`model M { ${word}s = 1 }`).diagnostics).toEqual([]);
    }
  });
});
