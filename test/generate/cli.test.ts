// `ptm generate` end to end: in-process through main() (streamed ids, --json, the cache against
// --no-cache, the API's tokens, diagnostics), and once as the built command `node bin/ptm.js`.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { main } from '../../src/cli/main.js';
import { Generator } from '../../src/runtime/generate/index.js';
import { initParams } from '../../src/runtime/index.js';
import { ENC_DEC, TINY_GPT2, tinyGpt2 } from './helpers.js';

async function ptm(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => (out += s.endsWith('\n') ? s : s + '\n'), err: (s) => (err += s.endsWith('\n') ? s : s + '\n') });
  return { code, out, err };
}

const TINY = Object.entries(TINY_GPT2).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
const ids = (out: string) => out.trim().split('\n').map(Number);
const tmp = mkdtempSync(join(tmpdir(), 'ptm-generate-'));
const encDecFile = join(tmp, 'enc-dec.ptm');
writeFileSync(encDecFile, ENC_DEC);

describe('ptm generate', () => {
  test('streams one id per line: the tokens the API generates with the same seeded weights', async () => {
    const r = await ptm('generate', 'models/gpt2.ptm', ...TINY, '--prompt', '1,2,3', '--max-tokens', '16');
    expect(r.code).toBe(0);
    const graph = tinyGpt2();
    const api = await new Generator(graph, initParams(graph, 0)).generate({ prompt: [1, 2, 3], maxNewTokens: 16 });
    expect(ids(r.out)).toEqual(api.tokens);
    expect(r.err).toMatch(/^16 tokens on cpu \(the reference interpreter\) with key\/value cache; stopped at --max-tokens; prepare \d+ ms, prompt [\d.]+ ms, [\d.]+ ms per further token\n$/);
  });

  test('the cache and --no-cache agree, greedy and sampled', async () => {
    for (const sampling of [[], ['--top-k', '5', '--temperature', '2', '--seed', '3']]) {
      const args = ['generate', 'models/gpt2.ptm', ...TINY, '--prompt', '7,8', '--max-tokens', '16', ...sampling];
      const cached = await ptm(...args);
      const recomputed = await ptm(...args, '--no-cache');
      expect(cached.code).toBe(0);
      expect(ids(cached.out)).toHaveLength(16);
      expect(ids(recomputed.out)).toEqual(ids(cached.out));
      expect(recomputed.err).toContain('no cache (whole sequence per token)');
    }
  });

  test('an encoder-decoder with random source inputs: the cache agrees with --no-cache', async () => {
    const args = ['generate', encDecFile, '--prompt', '1', '--max-tokens', '16', '--random', '--dim', 'src_len=5', '--seed', '2', '--json'];
    const cached = JSON.parse((await ptm(...args)).out);
    const recomputed = JSON.parse((await ptm(...args, '--no-cache')).out);
    expect(cached).toMatchObject({ ok: true, cache: true, tokensInput: 'tgt', logits: 'logits', prompt: [1], stop: 'max_tokens' });
    expect(cached.tokens).toHaveLength(16);
    expect(recomputed.tokens).toEqual(cached.tokens);
    expect(cached.ms.prologue).toBeGreaterThan(0);
  });

  test('--eos stops after that id', async () => {
    const free = ids((await ptm('generate', 'models/gpt2.ptm', ...TINY, '--prompt', '1,2,3', '--max-tokens', '16')).out);
    const eos = free[4]!;
    const r = await ptm('generate', 'models/gpt2.ptm', ...TINY, '--prompt', '1,2,3', '--max-tokens', '16', '--eos', String(eos), '--json');
    expect(JSON.parse(r.out)).toMatchObject({ tokens: free.slice(0, free.indexOf(eos) + 1), stop: 'eos' });
  });

  const errors: [string, string[], string, RegExp][] = [
    ['a malformed prompt', ['models/gpt2.ptm', ...TINY, '--prompt', '1,x'], 'invalid_generation', /--prompt 1,x: expected token ids separated by commas/],
    ['zero tokens', ['models/gpt2.ptm', ...TINY, '--prompt', '1', '--max-tokens', '0'], 'invalid_generation', /--max-tokens 0: expected an integer of at least 1/],
    ['a negative temperature', ['models/gpt2.ptm', ...TINY, '--prompt', '1', '--temperature', '-1'], 'invalid_generation', /--temperature -1/],
    ['a prompt id outside the vocabulary', ['models/gpt2.ptm', ...TINY, '--prompt', '1,500'], 'invalid_generation', /prompt token 500 is not an id of the vocabulary \[0, 97\)/],
    ['a bidirectional encoder (BERT)', ['models/bert.ptm', '--set', 'layers=1', '--prompt', '1'], 'invalid_generation', /no integer \[batch, seq\] input feeds a causal self-attention/],
    ['BERT with its ids named', ['models/bert.ptm', '--set', 'layers=1', '--prompt', '1', '--tokens-input', 'ids'], 'not_incremental', /attention has a mask reading %valid bool\[batch, seq\], a tensor over 'seq'/],
    ['an encoder-decoder without its other inputs', [encDecFile, '--prompt', '1'], 'missing_argument', /--inputs <file.json> or --random \(for the inputs 'src', 'src_valid'\)/],
  ];
  for (const [name, args, code, message] of errors) {
    test(`${name}: ${code}`, async () => {
      const r = await ptm('generate', ...args);
      expect(r.code).toBe(1);
      expect(r.err).toContain(`error[${code}]`);
      expect(r.err).toMatch(message);
      expect(r.err).not.toMatch(/\n\s+at .+:\d+:\d+\)/);
      expect(r.out).toBe('');
    });
  }

  test('the refusal points at the attention in the .ptm source', async () => {
    const r = await ptm('generate', 'models/bert.ptm', '--set', 'layers=1', '--prompt', '1', '--tokens-input', 'ids', '--json');
    const [d] = JSON.parse(r.err).diagnostics;
    expect(d).toMatchObject({ code: 'not_incremental', file: 'models/bert.ptm' });
    expect(d.line).toBeGreaterThan(0);
  });

  test('--help lists the options', async () => {
    const r = await ptm('generate', '--help');
    for (const option of ['--prompt', '--max-tokens', '--top-k', '--temperature', '--seed', '--eos', '--backend', '--tokens-input', '--logits', '--no-cache', '--inputs', '--random', '--weights', '--json']) expect(r.out).toContain(option);
  });
});

describe('the built command', () => {
  // `npm ci` builds dist/ (the `prepare` script); rebuild here when the generate sources are newer.
  const pairs = [['src/cli/commands/generate.ts', 'dist/cli/commands/generate.js'], ['src/runtime/generate/generate.ts', 'dist/runtime/generate/generate.js'], ['src/passes/derive-decode-step.ts', 'dist/passes/derive-decode-step.js'], ['src/cli/main.ts', 'dist/cli/main.js']];
  beforeAll(() => {
    if (pairs.some(([src, out]) => !existsSync(out!) || statSync(out!).mtimeMs < statSync(src!).mtimeMs)) {
      try {
        execFileSync('npm', ['run', 'build'], { stdio: 'pipe' });
      } catch (e) {
        // tsc emits even when another part of the tree does not typecheck; the command below is what matters.
        if (!pairs.every(([, out]) => existsSync(out!))) throw e;
      }
    }
  }, 300_000);

  test('node bin/ptm.js generate streams the same ids as in-process', async () => {
    const args = ['generate', 'models/gpt2.ptm', ...TINY, '--prompt', '1,2,3', '--max-tokens', '16', '--top-k', '8', '--seed', '4'];
    const out = execFileSync('node', ['bin/ptm.js', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(ids(out)).toHaveLength(16);
    expect(ids(out)).toEqual(ids((await ptm(...args)).out));
  });
});
