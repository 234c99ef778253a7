// src/parser/cst-types.ts is generated from the grammar; this test fails when it is stale.
// Refresh it with: UPDATE_CST_TYPES=1 npx vitest run test/parser/cst-types.test.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateCstDts } from 'chevrotain';
import { expect, it } from 'vitest';
import { ptmParser } from '../../src/parser/parser.js';

const PATH = join(import.meta.dirname, '../../src/parser/cst-types.ts');
const HEADER = [
  "// Generated from the grammar in parser.ts by chevrotain's generateCstDts; do not edit by hand.",
  '// Regenerate with UPDATE_CST_TYPES=1 npx vitest run test/parser/cst-types.test.ts (the test fails when stale).',
].join('\n');

it('cst-types.ts matches the grammar', () => {
  const expected = `${HEADER}\n${generateCstDts(ptmParser.getGAstProductions(), { includeVisitorInterface: false })}\n`;
  if (process.env.UPDATE_CST_TYPES) writeFileSync(PATH, expected);
  expect(readFileSync(PATH, 'utf8')).toBe(expected);
});
