// The MoE routing kernels (src/codegen/templates/moe.ts) on the kernel IR interpreter against the CPU
// reference kernels (src/runtime/cpu/moe.ts, checked against the papers in test/models/moe.test.ts):
// more experts than one workgroup has invocations (two route workgroups; aux's strided expert loop),
// a symbolic token count, exact ties and arbitrary (negative) scores, which must choose exactly as the
// reference does. Tolerances: routing decisions exact (a weight is either its gate or 0); gates and the
// loss within 1e-6 (f32 division and sums of <= 80 terms in another order). moe_choices exactly;
// expert_matmul within 1e-5 relative (f32 fma chains of <= 24 terms against float64 sums); its
// decomposition in float64 within 1e-12 (the same sums, another order, plus exact zeros).
import { describe, expect, test } from 'vitest';
import { expertMatmulKernel, moeAuxLossKernel, moeChoicesKernel, moeRouteKernel } from '../../src/codegen/templates/moe.js';
import { renderWgsl } from '../../src/codegen/render/wgsl.js';
import { dimMul } from '../../src/ir/dim.js';
import { readGraph } from '../../src/ir/read.js';
import { decomposeHighLevel } from '../../src/passes/decompose-high-level.js';
import { RandomStream, runGraph, tensor } from '../../src/runtime/index.js';
import { runInterpreted } from './helpers.js';

const loc = { file: 'moe.ptm', line: 1, col: 1, offset: 0, end: 0 };

function scores(seed: number, tokens: number, experts: number, ties: boolean): Float32Array {
  const z = new RandomStream(seed, 'scores').normals(tokens * experts);
  const data = Float32Array.from(z);
  // Ties: every third token repeats one value across all its experts, or across a leading pair.
  if (ties) for (let n = 0; n < tokens; n += 3) for (let e = 0; e < (n % 2 ? 2 : experts); e++) data[n * experts + e] = data[n * experts]!;
  return data;
}

function reference(data: Float32Array, tokens: number, experts: number, topK: number, capacity: number) {
  const g = readGraph(`graph r [n] {
  input %p: f32[n, ${experts}]
  %w: f32[n, ${experts}] = moe_route(%p) {capacity = ${capacity}, top_k = ${topK}}
  %aux: f32[] = moe_aux_loss(%p)
  output w = %w
  output aux = %aux
}`);
  return runGraph(g, { inputs: { p: tensor('f32', [tokens, experts], data) }, params: new Map(), precision: 'f64', symbols: new Map([['n', tokens]]) }).outputs;
}

describe('moe kernels on the interpreter match the CPU reference', () => {
  for (const [experts, topK, capacity, ties] of [[80, 1, 0.5, false], [80, 2, 1.0, true], [5, 2, 0.5, true], [3, 1, 0.75, true]] as const) {
    test(`${experts} experts, top-${topK}, capacity ${capacity}${ties ? ', with ties' : ''}`, () => {
      const tokens = 37;
      const data = scores(experts + topK, tokens, experts, ties);
      const ref = reference(data, tokens, experts, topK, capacity);
      const symbols = new Map([['n', tokens]]);
      const route = moeRouteKernel({ experts, tokens: 'n', topK, capacity, locs: [loc] });
      expect(renderWgsl(route.kernel)).toMatch(/@compute/);
      const [w] = runInterpreted(route, { inputs: [data], outputs: [tokens * experts], symbols });
      const want = ref.get('w')!.data;
      let kept = 0;
      for (let i = 0; i < want.length; i++) {
        expect(w![i] === 0, `element ${i}: routed on one side only`).toBe(want[i] === 0);
        expect(Math.abs(w![i]! - want[i]!), `element ${i}`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(want[i]!)));
        if (want[i] !== 0) kept++;
      }
      // the capacity binds: fewer assignments kept than made
      expect(kept).toBeLessThan(tokens * topK);
      const aux = moeAuxLossKernel({ experts, tokens: 'n', locs: [loc] });
      const [a] = runInterpreted(aux, { inputs: [data], outputs: [1], symbols });
      expect(Math.abs(a![0]! - ref.get('aux')!.data[0]!)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(ref.get('aux')!.data[0]!)));
    });
  }
});

describe('moe_choices and expert_matmul on the interpreter match the CPU reference', () => {
  for (const [topK, xRows, bias] of [[1, 1, true], [2, 1, false], [2, 2, true]] as const) {
    test(`top-${topK}, x rows ${xRows === 1 ? 'shared by the choices' : 'per choice'}${bias ? ', bias' : ''}`, () => {
      const [tokens, experts, din, dout] = [9, 5, 24, 7];
      const combine = scores(7, tokens, experts, false).map((v, i) => (Math.floor(i / experts) % 4 === 0 || i % 3 === 0 || v < 0 ? 0 : v)); // tokens 0, 4, 8 route nowhere
      const z = (n: number, name: string) => Float32Array.from(new RandomStream(3, name).normals(n));
      const x = z(tokens * xRows * din, 'x'), w = z(experts * din * dout, 'w'), b = z(experts * dout, 'b');
      const g = readGraph(`graph e [n] {
  input %c: f32[n, ${experts}]
  input %x: f32[n, ${xRows}, ${din}]
  input %w: f32[${experts}, ${din}, ${dout}]
  input %b: f32[${experts}, ${dout}]
  %idx: i32[n, ${topK}] = moe_choices(%c) {top_k = ${topK}}
  %y: f32[n, ${topK}, ${dout}] = expert_matmul(%x, %w, %idx${bias ? ', %b' : ''})
  output idx = %idx
  output y = %y
}`);
      const inputs = { c: tensor('f32', [tokens, experts], combine), x: tensor('f32', [tokens, xRows, din], x), w: tensor('f32', [experts, din, dout], w), b: tensor('f32', [experts, dout], b) };
      const ref = runGraph(g, { inputs, params: new Map(), precision: 'f64', symbols: new Map([['n', tokens]]) }).outputs;
      const symbols = new Map([['n', tokens]]);
      const [idx] = runInterpreted(moeChoicesKernel({ experts, tokens: 'n', topK, locs: [loc] }), { inputs: [combine], outputs: [tokens * topK], symbols });
      expect(Array.from(idx!)).toEqual(Array.from(ref.get('idx')!.data));
      expect(Array.from(idx!)).toContain(-1);
      const mm = expertMatmulKernel({ rows: dimMul('n', topK), k: topK, xRows, din, dout, bias, locs: [loc] });
      expect(renderWgsl(mm.kernel)).toMatch(/@compute/);
      const [y] = runInterpreted(mm, { inputs: [x, w, idx, ...(bias ? [b] : [])], outputs: [tokens * topK * dout], symbols });
      const want = ref.get('y')!.data;
      for (let i = 0; i < want.length; i++) expect(Math.abs(y![i]! - want[i]!), `element ${i}`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want[i]!)));
      // the primitive decomposition (ONNX export) computes the same rows
      const decomposed = runGraph(decomposeHighLevel.run(g, {}, {}), { inputs, params: new Map(), precision: 'f64', symbols }).outputs;
      expect(Array.from(decomposed.get('idx')!.data)).toEqual(Array.from(ref.get('idx')!.data));
      for (let i = 0; i < want.length; i++) expect(Math.abs(decomposed.get('y')!.data[i]! - want[i]!), `decomposed element ${i}`).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(want[i]!)));
    });
  }
});
