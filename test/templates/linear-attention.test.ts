// Linear attention template (templates/linear-attention.ts) against a float64 reference written from
// Katharopoulos et al. 2020, eq. 4, in its quadratic form: out_t = Σ_{s∈vis(t)} (φq_t·φk_s) v_s /
// Σ_{s∈vis(t)} φq_t·φk_s (the kernel uses the running-sum form, so the two share no code). Runs on the
// kernel IR interpreter and, rendered to WGSL, on WebGPU (which must be available: no skip).
// Tolerance: relative error norm 1e-5: f32 sums over <= 1500 positive features and <= 37 keys against
// f64 (measured ~1e-7); a wrong mask or state moves outputs by 1e-2 or more.
import { describe, expect, it } from 'vitest';
import type { Dim } from '../../src/ir/index.js';
import { evalDim } from '../../src/ir/index.js';
import type { LinearAttentionSpec } from '../../src/codegen/templates/linear-attention.js';
import { linearAttentionColumns, linearAttentionKernel } from '../../src/codegen/templates/linear-attention.js';
import { contiguousStrides } from '../../src/codegen/templates/indexing.js';
import { assertValidKernel } from '../../src/codegen/kernel-ir/validate.js';
import { renderWgsl } from '../../src/codegen/render/wgsl.js';
import { PtmError } from '../../src/diagnostics/diagnostic.js';
import { noSpan } from '../../src/diagnostics/span.js';
import type { InstanceRun, KernelArray } from './helpers.js';
import { randomArray, runInterpreted, runWebGpu, seeded } from './helpers.js';
import { gpu } from '../webgpu/helpers.js';

interface Case {
  name: string;
  batch: number;
  heads: number;
  tq: Dim;
  tk: Dim;
  features: number;
  dv: number;
  causal: boolean;
}

const SEQ = new Map([['seq', 7], ['long', 37]]);
const CASES: Case[] = [
  { name: 'causal, symbolic seq, one column block', batch: 2, heads: 3, tq: 'seq', tk: 'seq', features: 8, dv: 5, causal: true },
  { name: 'causal, 37 rows: three chunks of 16, the last partial', batch: 2, heads: 1, tq: 'long', tk: 'long', features: 8, dv: 20, causal: true },
  { name: 'causal, 37 rows, 600 features: two blocks of 5 value columns', batch: 1, heads: 2, tq: 'long', tk: 'long', features: 600, dv: 10, causal: true },
  { name: 'causal, features past the workgroup (80)', batch: 1, heads: 2, tq: 'seq', tk: 'seq', features: 80, dv: 6, causal: true },
  { name: 'full, queries and keys of other lengths', batch: 2, heads: 2, tq: 5, tk: 9, features: 12, dv: 4, causal: false },
  // 1500 features leave room for one value column per workgroup: three workgroups along x.
  { name: 'full, 1500 features, a workgroup per value column', batch: 1, heads: 1, tq: 4, tk: 6, features: 1500, dv: 3, causal: false },
  { name: 'causal, 1500 features, a workgroup per value column', batch: 1, heads: 2, tq: 'seq', tk: 'seq', features: 1500, dv: 3, causal: true },
];

/** v is stored [B, T, H, Dv] (the head split left as a view), the others contiguous [B, H, T, ·]. */
function specOf(c: Case): LinearAttentionSpec {
  const bhtd = (t: Dim, d: number): Dim[] => [c.batch, c.heads, t, d];
  const vStored = [c.batch, c.tk, c.heads, c.dv];
  const s = contiguousStrides(vStored);
  return {
    batch: c.batch, heads: c.heads, tq: c.tq, tk: c.tk, features: c.features, dv: c.dv, causal: c.causal,
    inputs: [{ storage: 'f32', shape: bhtd(c.tq, c.features) }, { storage: 'f32', shape: bhtd(c.tk, c.features) }, { storage: 'f32', shape: vStored }],
    q: { input: 0, layout: { offset: 0, strides: contiguousStrides(bhtd(c.tq, c.features)) } },
    k: { input: 1, layout: { offset: 0, strides: contiguousStrides(bhtd(c.tk, c.features)) } },
    v: { input: 2, layout: { offset: 0, strides: [s[0]!, s[2]!, s[1]!, s[3]!] } },
    out: { offset: 0, strides: contiguousStrides(bhtd(c.tq, c.dv)) },
    locs: [noSpan()],
  };
}

function inputsOf(c: Case): { run: InstanceRun; tq: number; tk: number } {
  const tq = evalDim(c.tq, SEQ), tk = evalDim(c.tk, SEQ);
  const rand = seeded(c.features * 31 + c.dv);
  const n = (t: number, d: number) => c.batch * c.heads * t * d;
  // Feature maps are positive (elu + 1, FAVOR+'s exp): φ in (0.01, 1].
  const inputs: KernelArray[] = [randomArray('f32', n(tq, c.features), rand, 0.01, 1), randomArray('f32', n(tk, c.features), rand, 0.01, 1), randomArray('f32', n(tk, c.dv), rand)];
  return { run: { inputs, outputs: [n(tq, c.dv)], symbols: SEQ }, tq, tk };
}

/** The paper's eq. 4, term by term in float64. */
function reference(c: Case, [q, k, v]: KernelArray[], tq: number, tk: number): Float64Array {
  const F = c.features, out = new Float64Array(c.batch * c.heads * tq * c.dv);
  for (let b = 0; b < c.batch; b++) for (let h = 0; h < c.heads; h++) for (let t = 0; t < tq; t++) {
    let den = 0;
    const num = new Float64Array(c.dv);
    for (let s = 0; s < tk; s++) {
      if (c.causal && s > t) continue;
      let a = 0;
      for (let f = 0; f < F; f++) a += q![((b * c.heads + h) * tq + t) * F + f]! * k![((b * c.heads + h) * tk + s) * F + f]!;
      den += a;
      for (let j = 0; j < c.dv; j++) num[j] += a * v![((b * tk + s) * c.heads + h) * c.dv + j]!;
    }
    for (let j = 0; j < c.dv; j++) out[((b * c.heads + h) * tq + t) * c.dv + j] = num[j]! / den;
  }
  return out;
}

function relativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let e = 0, n = 0;
  for (let i = 0; i < want.length; i++) {
    e += (got[i]! - want[i]!) ** 2;
    n += want[i]! ** 2;
  }
  return Math.sqrt(e / n);
}

describe('linear attention template', () => {
  for (const c of CASES) {
    it(`${c.name}: the interpreter and WebGPU match the paper's equation`, async () => {
      const instance = linearAttentionKernel(specOf(c));
      assertValidKernel(instance.kernel);
      expect(renderWgsl(instance.kernel)).toMatch(/var<workgroup> state/);
      const { run, tq, tk } = inputsOf(c);
      const want = reference(c, run.inputs as KernelArray[], tq, tk);
      const interpreted = runInterpreted(instance, run)[0]!;
      expect(relativeError(interpreted, want)).toBeLessThanOrEqual(1e-5);
      const onGpu = (await runWebGpu(await gpu(), instance, run))[0]!;
      expect(relativeError(onGpu, want)).toBeLessThanOrEqual(1e-5);
      // The other visibility gives other numbers (the mask is really applied).
      const other = reference({ ...c, causal: !c.causal }, run.inputs as KernelArray[], tq, tk);
      if (tq > 1) expect(relativeError(interpreted, other)).toBeGreaterThan(1e-2);
    });
  }

  it('sizes the state to 16 KiB of workgroup memory and refuses features that do not fit', () => {
    expect(linearAttentionColumns(64, 64)).toBe(32); // 63 fit; 64 columns as two even blocks
    expect(linearAttentionColumns(256, 64)).toBe(13); // 15 fit; five blocks
    expect(linearAttentionColumns(2048, 64)).toBe(1);
    const c: Case = { name: 'too wide', batch: 1, heads: 1, tq: 4, tk: 4, features: 2049, dv: 4, causal: true };
    expect(() => linearAttentionKernel(specOf(c))).toThrow(PtmError);
    expect(() => linearAttentionKernel(specOf(c))).toThrow(/2049 features/);
  });
});
