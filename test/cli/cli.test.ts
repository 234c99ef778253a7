// The `ptm` command end to end, in-process through main() (no build needed): exit codes, output,
// determinism, and hostile inputs that must end in diagnostics, never a stack trace or a hang.
import { mkdtempSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { main } from '../../src/cli/main.js';

async function ptm(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => (out += s.endsWith('\n') ? s : s + '\n'), err: (s) => (err += s.endsWith('\n') ? s : s + '\n') });
  return { code, out, err };
}

const tmp = mkdtempSync(join(tmpdir(), 'ptm-cli-'));
const file = (name: string, content: string | Uint8Array): string => {
  const p = join(tmp, name);
  writeFileSync(p, content);
  return p;
};

describe('ptm check', () => {
  test('reports the published parameter counts', async () => {
    const gpt2 = await ptm('check', 'models/gpt2.ptm');
    expect(gpt2.code).toBe(0);
    expect(gpt2.out).toContain('parameters: 124,439,808');
    const bert = await ptm('check', 'models/bert.ptm');
    expect(bert.code).toBe(0);
    expect(bert.out).toContain('parameters: 109,482,240');
    expect(bert.out).toMatch(/417\.6 MiB/); // 109,482,240 x 4 bytes
  });

  test('--json gives machine-readable results and diagnostics', async () => {
    const ok = await ptm('check', 'models/gpt2.ptm', '--set', 'layers=2', '--json');
    expect(JSON.parse(ok.out)).toMatchObject({ ok: true, model: 'GPT2' });
    const bad = await ptm('check', file('bad.ptm', 'model M {\n  input x: f32[4]\n  output y = x + nope\n}\n'), '--json');
    expect(bad.code).toBe(1);
    const parsed = JSON.parse(bad.err);
    expect(parsed.diagnostics[0]).toMatchObject({ code: 'unknown_name', line: 3, col: 18 });
  });

  test('diagnostics show file:line:col, the line and a caret', async () => {
    const r = await ptm('check', file('typo.ptm', 'model M {\n  input x: f32[batch, 8]\n  output y = LayerNrom(x)\n}\n'));
    expect(r.code).toBe(1);
    expect(r.err).toContain('typo.ptm:3:14: error[unknown_name]');
    expect(r.err).toContain("did you mean 'LayerNorm'?");
    expect(r.err).toContain('3 |   output y = LayerNrom(x)');
    expect(r.err).toMatch(/\|\s{14}\^{9}/);
  });

  test('--set overrides config and rejects unknown keys with a suggestion', async () => {
    expect((await ptm('check', 'models/gpt2.ptm', '--set', 'layers=1')).out).toContain('parameters: 46,473,216');
    const r = await ptm('check', 'models/gpt2.ptm', '--set', 'layer=2');
    expect(r.code).toBe(1);
    expect(r.err).toContain('unknown_override');
    expect(r.err).toContain("did you mean 'layers'?");
    expect((await ptm('check', 'models/gpt2.ptm', '--set', 'layers')).err).toContain('invalid_override');
  });
});

describe('hostile inputs end in diagnostics, quickly', () => {
  const cases: [string, string | Uint8Array, string][] = [
    ['empty.ptm', '', 'empty_source'],
    ['binary.ptm', new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 0xff, 0xfe]), 'binary_input'],
    ['unterminated.ptm', 'model M {\n  /* never closed\n', 'unterminated_comment'],
    ['absurd.ptm', 'model M {\n  config { d = 99999999999999999999 }\n  input x: f32[d]\n  output y = x\n}\n', 'invalid_number'],
    ['deep.ptm', `model M {\n  input x: f32[4]\n  output y = ${'('.repeat(50_000)}x${')'.repeat(50_000)}\n}\n`, 'nesting_too_deep'],
    ['cycle.ptm', 'model M {\n  config { a = b  b = a }\n  input x: f32[a]\n  output y = x\n}\n', 'config_cycle'],
    ['unknown.ptm', 'model M {\n  input x: f32[4]\n  output y = foo(x)\n}\n', 'unknown_name'],
    ['huge.ptm', 'model M {\n  config { n = 2147483647 }\n  input x: f32[n, n]\n  t = Embedding(n, n)\n  output y = x\n}\n', 'size_limit'],
  ];
  for (const [name, content, code] of cases) {
    test(`${name} -> ${code}`, async () => {
      const started = Date.now();
      const r = await ptm('check', file(name, content));
      expect(r.code).toBe(1);
      expect(r.err).toContain(`error[${code}]`);
      expect(r.err).not.toMatch(/\n\s+at .+:\d+:\d+\)/); // no stack trace
      expect(Date.now() - started).toBeLessThan(10_000);
    });
  }

  test('a missing file and a directory', async () => {
    expect((await ptm('check', join(tmp, 'nope.ptm'))).err).toContain('error[file_not_found]');
    expect((await ptm('check', tmp)).err).toContain('error[file_unreadable]');
  });
});

describe('ptm run', () => {
  test('prints the same thing on every run', async () => {
    const a = await ptm('run', 'models/gpt2.ptm', '--set', 'layers=2', '--random', '--seed', '1');
    const b = await ptm('run', 'models/gpt2.ptm', '--set', 'layers=2', '--random', '--seed', '1');
    expect(a.code).toBe(0);
    expect(a.out).toMatch(/^logits: f32\[1, 16, 50257\] .* checksum [0-9a-f]{8}\n$/);
    expect(b.out).toBe(a.out);
    const c = await ptm('run', 'models/gpt2.ptm', '--set', 'layers=2', '--random', '--seed', '2');
    expect(c.out).not.toBe(a.out);
  });

  test('inputs from JSON, outputs saved as .npy and .safetensors, never overwritten without --force', async () => {
    const inputs = file('in.json', JSON.stringify({ ids: [[1, 2, 3]], token_types: [[0, 0, 1]], valid: [[true, true, false]] }));
    const dir = join(tmp, 'out');
    const r = await ptm('run', 'models/bert.ptm', '--set', 'layers=1', '--inputs', inputs, '--save', dir);
    expect(r.code).toBe(0);
    expect(existsSync(join(dir, 'hidden.npy')) && existsSync(join(dir, 'pooled.npy'))).toBe(true);
    const st = join(tmp, 'out.safetensors');
    expect((await ptm('run', 'models/bert.ptm', '--set', 'layers=1', '--inputs', inputs, '--save', st)).code).toBe(0);
    const before = readFileSync(st);
    const again = await ptm('run', 'models/bert.ptm', '--set', 'layers=1', '--inputs', inputs, '--save', st);
    expect(again.code).toBe(1);
    expect(again.err).toContain('error[output_exists]');
    expect(readFileSync(st).equals(before)).toBe(true);
    expect((await ptm('run', 'models/bert.ptm', '--set', 'layers=1', '--inputs', inputs, '--save', st, '--force')).code).toBe(0);
  });

  test('bad inputs are diagnostics', async () => {
    const wrong = file('wrong.json', JSON.stringify({ ids: [[1, 2], [3]] }));
    const r = await ptm('run', 'models/gpt2.ptm', '--set', 'layers=1', '--inputs', wrong);
    expect(r.code).toBe(1);
    expect(r.err).toContain('error[invalid_input_file]');
    const none = await ptm('run', 'models/gpt2.ptm');
    expect(none.code).toBe(1);
    expect(none.err).toContain('--random');
  });

  test('weights from safetensors: a missing tensor names the tensor and the file', async () => {
    const w = join(tmp, 'g1.safetensors');
    expect((await ptm('weights', 'models/gpt2.ptm', '--set', 'layers=1', '-o', w)).code).toBe(0);
    const ok = await ptm('run', 'models/gpt2.ptm', '--set', 'layers=1', '--random', '--weights', w);
    const seeded = await ptm('run', 'models/gpt2.ptm', '--set', 'layers=1', '--random');
    expect(ok.out).toBe(seeded.out); // the same seed-0 weights, through a file
    const r = await ptm('run', 'models/gpt2.ptm', '--set', 'layers=2', '--random', '--weights', w);
    expect(r.code).toBe(1);
    expect(r.err).toContain('layers.1.');
    expect(r.err).toContain('g1.safetensors');
  });
});

describe('ptm compile and graph', () => {
  test('compile --emit ir prints the graph IR; compiling twice gives identical bytes', async () => {
    const a = await ptm('compile', 'models/bert.ptm', '--set', 'layers=1', '--emit', 'ir');
    const b = await ptm('compile', 'models/bert.ptm', '--set', 'layers=1', '--emit', 'ir');
    expect(a.code).toBe(0);
    expect(a.out).toContain('graph BERT');
    expect(a.out).toContain('attention(');
    expect(a.out).toBe(b.out);
  });

  test('graph --format dot and onnx', async () => {
    const dot = await ptm('graph', 'models/gpt2.ptm', '--set', 'layers=1', '--format', 'dot');
    expect(dot.out).toMatch(/^digraph "GPT2" \{/);
    const onnx = join(tmp, 'g.onnx');
    expect((await ptm('graph', 'models/gpt2.ptm', '--set', 'layers=1', '--format', 'onnx', '-o', onnx)).code).toBe(0);
    expect(readFileSync(onnx).length).toBeGreaterThan(4 * 46_000_000);
    expect((await ptm('graph', 'models/gpt2.ptm', '--format', 'onnx')).code).toBe(1);
  });

  test('--help for every command', async () => {
    for (const cmd of ['check', 'compile', 'run', 'graph', 'weights']) {
      const r = await ptm(cmd, '--help');
      expect(r.code).toBe(0);
      expect(r.out).toContain(`Usage: ptm ${cmd}`);
    }
  });
});
