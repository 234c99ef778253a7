// The manifest round-trips: its Dim strings and grid trees, evaluated in TS and by scripts/gpu-check.py,
// give what evalDim / evalGrid give on the Program, and the Python memory plan is planMemory's.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { emitCuda } from '../../src/codegen/cuda/emit.js';
import { bindManifestSymbols, evalDimString, evalGridExpr } from '../../src/codegen/cuda/manifest.js';
import type { GridExpr, Manifest } from '../../src/codegen/cuda/manifest.js';
import { evalGrid } from '../../src/codegen/kernel-ir/interpret.js';
import { planMemory } from '../../src/codegen/lower/memory-plan.js';
import type { Program } from '../../src/codegen/lower/program.js';
import { evalDim } from '../../src/ir/dim.js';
import { addProgram, gpuCheckPy, modelProgram } from './programs.js';

const dir = mkdtempSync(join(tmpdir(), 'ptm-cuda-manifest-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const programs: [string, Program, Record<string, number>[]][] = [
  ['adds', addProgram(), [{ seq: 1 }, { seq: 200 }, { seq: 100_003 }]],
  ['gpt2', modelProgram('gpt2', { layers: 1 }).program, [{ batch: 1, seq: 128 }, { batch: 3, seq: 7 }, { batch: 2, seq: 1000 }]],
  ['bert', modelProgram('bert', { layers: 2 }).program, [{ batch: 1, seq: 128 }, { batch: 4, seq: 33 }]],
];

/** What the Program itself says for `symbols`: each launch's params and grid, and the memory plan. */
function expected(program: Program, symbols: Record<string, number>) {
  const env = new Map(Object.entries(symbols));
  const launches = program.launches.map((l) => {
    const params = Object.fromEntries(Object.entries(l.instance.params).map(([name, d]) => [name, evalDim(d, env)]));
    return { params: l.instance.kernel.params.map((p) => params[p.name]!), grid: evalGrid(l.instance.kernel, params) };
  });
  const plan = planMemory(program, env, 256);
  return { launches, offsets: Object.fromEntries(plan.offsets), arenaBytes: plan.arenaBytes, dims: Object.fromEntries(program.buffers.map((b) => [b.id, evalDim(b.elements, env)])) };
}

describe.each(programs)('the %s manifest', (name, program, bindings) => {
  const { manifest, files } = emitCuda(program);
  const path = join(dir, `${name}.json`);
  writeFileSync(path, files['manifest.json'] as string);

  it.each(bindings)('evaluates in TS as the Program does (%o)', (symbols) => {
    const want = expected(program, symbols);
    const launches = manifest.launches.map((l) => {
      const params = l.params.map((d) => evalDimString(d, symbols));
      const byName = Object.fromEntries(manifest.kernels[l.kernel]!.params.map((p, i) => [p, params[i]!]));
      return { params, grid: manifest.kernels[l.kernel]!.grid.map((g) => evalGridExpr(g, byName)) };
    });
    expect(launches).toEqual(want.launches);
    expect(Object.fromEntries(manifest.buffers.map((b) => [b.id, evalDimString(b.elements, symbols)]))).toEqual(want.dims);
  });

  it.each(bindings)('evaluates in scripts/gpu-check.py as the Program does, memory plan included (%o)', (symbols) => {
    expect(JSON.parse(gpuCheckPy('eval', path, JSON.stringify(symbols)))).toEqual(expected(program, symbols));
  });

  it('binds symbols from input shapes as ProgramSession does', () => {
    const shapes = Object.fromEntries(manifest.inputs.map((i) => [i.name, i.shape.map((d) => evalDimString(d, bindings[0]!))]));
    expect(bindManifestSymbols(manifest as Manifest, shapes)).toEqual(bindings[0]);
  });
});

describe('grid expressions', () => {
  it('follow u32 semantics: wrapping, x / 0 = x, x % 0 = 0', () => {
    const cases: [GridExpr, number][] = [
      [['-', 3, 5], 2 ** 32 - 2], [['*', 'big', 'big'], 0], [['+', 'big', 'big'], 0], [['/', 7, 0], 7], [['%', 7, 0], 0],
      [['min', ['/', ['+', 'n', 255], 256], 65535], 4], [['max', 'n', 2000], 2000], [['%', 1000, 7], 6],
    ];
    for (const [e, want] of cases) expect(evalGridExpr(e, { n: 1000, big: 2 ** 31 }), JSON.stringify(e)).toBe(want);
    // The same trees in gpu-check.py: one kernel per case, each launched once with n = 1000, big = 2^31.
    const synthetic = {
      alignment: 256, symbols: [], inputs: [], outputs: [], buffers: [],
      kernels: cases.map(([e], id) => ({ id, symbol: `k${id}`, params: ['n', 'big'], grid: [e, 1, 1], workgroupSize: [1, 1, 1], sharedBytes: 0 })),
      launches: cases.map((_, kernel) => ({ kernel, buffers: [], params: ['1000', String(2 ** 31)], loc: 'x' })),
    };
    const path = join(dir, 'grids.json');
    writeFileSync(path, JSON.stringify(synthetic));
    const py = JSON.parse(gpuCheckPy('eval', path, '{}')) as { launches: { grid: number[] }[] };
    expect(py.launches.map((l) => l.grid[0])).toEqual(cases.map(([, want]) => want));
  });

  it('Dim strings take signs and coefficients', () => {
    expect(evalDimString('2*batch*seq-seq+3', { batch: 2, seq: 5 })).toBe(18);
    expect(evalDimString('-seq+512', { seq: 12 })).toBe(500);
    expect(() => evalDimString('seq+x', { seq: 1 })).toThrow(/unbound symbol 'x'/);
  });
});
