// Input files (JSON nested arrays) and seeded random inputs: ids in range of the tables they index,
// padding masks with some positions off but no empty row.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { PtmError } from '../../src/diagnostics/index.js';
import type { Graph } from '../../src/ir/index.js';
import { GraphBuilder, maskRead, maskVar } from '../../src/ir/index.js';
import { randomInputs, readInputsJson } from '../../src/runtime/index.js';
import { values } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ptm-inputs-'));

/** ids [batch, seq] gathered from a [50, 4] table; valid [batch, seq] read by attention; x [seq] f32; rank [batch, seq] i32 read by the mask. */
function graph(): Graph {
  const b = new GraphBuilder('inputs');
  b.symbol('batch');
  b.symbol('seq');
  const ids = b.input('ids', { dtype: 'i32', shape: ['batch', 'seq'] });
  const valid = b.input('valid', { dtype: 'bool', shape: ['batch', 'seq'] });
  const x = b.input('x', { dtype: 'f32', shape: ['seq'] });
  const rank = b.input('rank', { dtype: 'i32', shape: ['batch', 'seq'] });
  const table = b.param('wte', { dtype: 'f32', shape: [50, 4] }, { kind: 'normal', std: 1 });
  const h = b.op('reshape', [b.op('gather', [table, ids], { axis: 0 })], { shape: ['batch', 1, 'seq', 4] });
  const mask = { kind: 'binary', op: '&', left: maskRead(3, [maskVar('b'), maskVar('k')]), right: { kind: 'binary', op: '<=', left: maskRead(4, [maskVar('b'), maskVar('k')]), right: maskRead(4, [maskVar('b'), maskVar('q')]) } } as const;
  b.output('y', b.op('attention', [h, h, h, valid, rank], { scale: 1, mask }));
  b.output('x', x);
  return b.finish();
}

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function failure(f: () => unknown): { code: string; message: string } {
  try {
    f();
  } catch (e) {
    if (!(e instanceof PtmError)) throw e;
    const d = e.diagnostics[0]!;
    return { code: d.code, message: [d.message, ...d.notes.map((n) => n.message)].join(' ') };
  }
  throw new Error('expected a PtmError');
}

describe('readInputsJson', () => {
  const ok = { ids: [[1, 2, 3]], valid: [[true, true, false]], x: [0.5, 'NaN', -1], rank: [[0, 1, 2]] };

  test('nested arrays become tensors with inferred shapes', () => {
    const inputs = readInputsJson(write('ok.json', JSON.stringify(ok)), graph());
    expect(inputs.ids!.shape).toEqual([1, 3]);
    expect(inputs.ids!.dtype).toBe('i32');
    expect(values(inputs.valid!)).toEqual([1, 1, 0]);
    expect(values(inputs.x!)).toEqual([0.5, NaN, -1]);
  });

  test('ragged arrays say which input and where', () => {
    const f = failure(() => readInputsJson(write('ragged.json', JSON.stringify({ ...ok, ids: [[1, 2, 3], [4, 5]] })), graph()));
    expect(f.code).toBe('invalid_input_file');
    expect(f.message).toContain("input 'ids' is ragged: ids[1] should be an array of 3 elements, got 2 elements");
  });

  test('wrong element types, unknown and missing inputs, bad JSON', () => {
    expect(failure(() => readInputsJson(write('t1.json', JSON.stringify({ ...ok, valid: [[1, 1, 0]] })), graph())).message).toContain('valid[0][0] must be true or false');
    expect(failure(() => readInputsJson(write('t2.json', JSON.stringify({ ...ok, ids: [[1.5, 2, 3]] })), graph())).message).toContain('ids[0][0] must be an integer');
    const unknown = failure(() => readInputsJson(write('t3.json', JSON.stringify({ ...ok, idz: [1] })), graph()));
    expect(unknown.code).toBe('unknown_input');
    expect(unknown.message).toContain("did you mean 'ids'?");
    const { rank: _rank, ...noRank } = ok;
    expect(failure(() => readInputsJson(write('t4.json', JSON.stringify(noRank)), graph())).code).toBe('missing_input');
    expect(failure(() => readInputsJson(write('t5.json', '{"ids": [1,'), graph())).code).toBe('invalid_input_file');
    expect(failure(() => readInputsJson(join(dir, 'absent.json'), graph())).code).toBe('file_not_found');
  });
});

describe('randomInputs', () => {
  const symbols = new Map([['batch', 3], ['seq', 8]]);

  test('deterministic, and in range of what each input indexes', () => {
    const a = randomInputs(graph(), 1, symbols), b = randomInputs(graph(), 1, symbols);
    expect(values(a.ids!)).toEqual(values(b.ids!));
    expect(values(a.x!)).toEqual(values(b.x!));
    expect(values(randomInputs(graph(), 2, symbols).ids!)).not.toEqual(values(a.ids!));
    expect(a.ids!.shape).toEqual([3, 8]);
    // ids index the 50-row table; rank is read by the mask, so it ranges over the 8 keys.
    expect(Math.max(...values(a.ids!))).toBeLessThan(50);
    expect(Math.min(...values(a.ids!))).toBeGreaterThanOrEqual(0);
    expect(new Set(values(a.ids!)).size).toBeGreaterThan(10);
    expect(Math.max(...values(a.rank!))).toBeLessThan(8);
    expect(a.x!.dtype).toBe('f32');
  });

  test('bool masks: the last quarter of the last batch row is off, every other position on', () => {
    const valid = values(randomInputs(graph(), 1, symbols).valid!);
    expect(valid.slice(0, 16)).toEqual(new Array(16).fill(1));
    expect(valid.slice(16)).toEqual([1, 1, 1, 1, 1, 1, 0, 0]);
    expect(values(randomInputs(graph(), 1, new Map([['batch', 1], ['seq', 3]])).valid!)).toEqual([1, 1, 1]);
  });

  test('a symbol without a size is an error naming the input', () => {
    expect(failure(() => randomInputs(graph(), 1, new Map([['batch', 1]]))).message).toContain("random input 'ids' (give sizes with --dim NAME=N): no size for dimension 'seq'");
  });
});
