// Each validation error on a minimal kernel that has exactly that fault; the shared test kernels pass.
import { describe, expect, test } from 'vitest';
import type { Expr, Kernel, Stmt } from '../../src/codegen/kernel-ir/types.js';
import * as k from '../../src/codegen/kernel-ir/build.js';
import { assertValidKernel, validateKernel } from '../../src/codegen/kernel-ir/validate.js';
import { intOps, mathOps, reduceSum, tiledMatmul, vec4Scale, vectorAdd } from './kernels.js';

const a = k.buffer('a', k.f32), out = k.buffer('out', k.f32, 'read_write'), n = k.uniform('n');
const one = k.u(1);

/** A kernel with `body`, reading `a`, writing `out`, one param `n`. */
function kernel(body: Stmt[], extra: Partial<Kernel> = {}): Kernel {
  return { name: 'probe', workgroupSize: [64, 1, 1], buffers: [a, out], params: [n], shared: [], body, grid: [one, one, one], locs: [], ...extra };
}

const only = (kern: Kernel) => {
  const messages = validateKernel(kern);
  expect(messages, messages.join('\n')).toHaveLength(1);
  return messages[0]!;
};

describe('validateKernel', () => {
  test('the shared test kernels are valid', () => {
    for (const make of [vectorAdd, reduceSum, tiledMatmul, vec4Scale, intOps, mathOps]) expect(validateKernel(make()), make.name).toEqual([]);
  });

  test('names must be declared before use', () => {
    expect(only(kernel([k.store(out, k.u(0), k.ref('x', k.f32))]))).toBe("kernel probe: 'x' is used before it is declared (at body[0])");
    expect(only(kernel([k.store(k.buffer('b', k.f32, 'read_write'), k.u(0), k.f(1))]))).toMatch(/store to undeclared buffer 'b'/);
    expect(only(kernel([k.store(out, k.u(0), k.load(k.buffer('c', k.f32), k.u(0)))]))).toMatch(/load from undeclared buffer 'c'/);
    expect(only(kernel([k.store(out, k.u(0), k.toF32(k.param(k.uniform('m'))))]))).toMatch(/undeclared param 'm'/);
    expect(only(kernel([k.sharedStore(k.shared('s', k.f32, 4), k.u(0), k.f(1))]))).toMatch(/undeclared shared array 's'/);
    // a let is visible only after it and only in its block
    expect(only(kernel([k.if_(k.T, [k.let_('x', k.f(1))]), k.store(out, k.u(0), k.ref('x', k.f32))]))).toMatch(/'x' is used before it is declared \(at body\[1\]\)/);
  });

  test('no redeclaration in one scope; shadowing in an inner scope is fine', () => {
    expect(only(kernel([k.let_('x', k.f(1)), k.let_('x', k.f(2))]))).toMatch(/'x' is declared twice in one scope \(at body\[1\]\)/);
    expect(validateKernel(kernel([k.let_('x', k.f(1)), k.if_(k.T, [k.let_('x', k.f(2))])]))).toEqual([]);
    expect(only(kernel([k.for_('i', k.u(0), 4, [k.let_('i', k.u(1))])]))).toMatch(/'i' is declared twice in one scope/);
    expect(only(kernel([], { buffers: [a, out], params: [n, k.uniform('a')] }))).toMatch(/'a' is declared twice among buffers, params and shared arrays/);
  });

  test('only vars are assigned; loop variables are read-only', () => {
    expect(only(kernel([k.let_('x', k.f(1)), k.assign('x', k.f(2))]))).toMatch(/assignment to 'x', which is a let, not a var/);
    expect(only(kernel([k.for_('i', k.u(0), 4, [k.assign('i', k.u(3))])]))).toMatch(/assignment to loop variable 'i'/);
    expect(only(kernel([k.assign('y', k.f(2))]))).toMatch(/assignment to undeclared 'y'/);
  });

  test('stores only to read_write buffers, with the buffer type', () => {
    expect(only(kernel([{ k: 'store', buffer: 'a', index: k.u(0), value: k.f(1) }]))).toBe("kernel probe: store to read-only buffer 'a' (at body[0])");
    expect(only(kernel([{ k: 'store', buffer: 'out', index: k.u(0), value: k.i(1) }]))).toMatch(/storing i32 into 'out: f32'/);
    expect(only(kernel([k.var_('x', k.f(0)), k.assign('x', k.i(1))]))).toMatch(/assigning i32 to 'x: f32'/);
  });

  test('types must be consistent', () => {
    const bad = (e: Expr) => only(kernel([k.store(out, k.u(0), e)]));
    expect(bad({ k: 'binary', type: k.f32, op: '+', a: k.f(1), b: k.i(1) })).toBe("kernel probe: '+' operands differ: f32 and i32 (at body[0])");
    expect(bad({ k: 'binary', type: k.f32, op: '<', a: k.f(1), b: k.f(2) })).toMatch(/'<' of f32 is bool, not f32/);
    expect(bad({ k: 'math', type: k.f32, fn: 'pow', args: [k.f(1)] })).toMatch(/pow takes 2 arguments, got 1/);
    expect(bad({ k: 'select', type: k.f32, cond: k.f(1), a: k.f(1), b: k.f(2) })).toMatch(/a select condition is bool, got f32/);
    expect(bad({ k: 'load', type: k.f32, buffer: 'a', index: k.f(0) })).toMatch(/an index is i32 or u32, got f32/);
    expect(bad({ k: 'const', type: k.f32, value: Infinity })).toMatch(/constant Infinity is not a f32 literal \(infinities and NaN are bitcasts\)/);
    expect(bad({ k: 'lane', type: k.f32, a: k.f(1), lane: 0 })).toMatch(/lane 0 of f32/);
    expect(only(kernel([{ k: 'if', cond: k.u(1), then: [], else: [] }]))).toMatch(/an if condition is bool, got u32/);
    expect(only(kernel([{ k: 'for', name: 'i', type: k.u32, start: k.i(0), end: k.u(4), step: k.u(1), body: [] }]))).toMatch(/loop 'i: u32' has a bound or step of type i32/);
    expect(only(kernel([{ k: 'let', name: 'x', type: k.i32, init: k.f(0), mutable: false }]))).toMatch(/'x: i32' initialized with f32/);
    expect(only(kernel([k.brk()]))).toMatch(/break outside a loop/);
    expect(bad(k.toF32(k.div(k.toI32(k.load(a, k.u(0))), k.i(0))))).toMatch(/integer '\/' by the constant 0 \(WGSL rejects the shader\)/);
  });

  test('the grid uses only params and constants', () => {
    expect(only(kernel([], { grid: [k.globalId(0), one, one] }))).toBe('kernel probe: the grid may use only params and constants, not a builtin (at grid[0])');
    expect(only(kernel([], { grid: [k.ceilDiv(k.param(n), 64), one, k.toU32(k.load(a, k.u(0)))] }))).toMatch(/not a load \(at grid\[2\]\)/);
  });

  test('target limits: workgroup size, shared memory, buffers, param and buffer types', () => {
    expect(only(kernel([], { workgroupSize: [64, 32, 1] }))).toMatch(/2048 invocations per workgroup exceed 1024/);
    expect(only(kernel([], { workgroupSize: [1, 1, 128] }))).toMatch(/workgroup size 128 on axis 2 is not in 1..64/);
    expect(only(kernel([], { shared: [k.shared('s', k.f32, 4096), k.shared('t', k.vec4f, 1025)] }))).toMatch(/32784 bytes of shared memory exceed 32768/);
    expect(only(kernel([], { buffers: Array.from({ length: 17 }, (_, j) => k.buffer(`b${j}`, k.f32)) }))).toMatch(/17 buffers exceed 16/);
    expect(only(kernel([], { params: [k.uniform('flag', k.bool)] }))).toMatch(/params are f32, i32 or u32 scalars/);
    expect(only(kernel([], { buffers: [k.buffer('mask', k.bool)] }))).toMatch(/buffers hold f32, i32, u32 or vec4<f32>/);
  });

  test('barriers under invocation-dependent control flow are a warning', () => {
    const lid = k.localId(0);
    const warned = kernel([k.let_('x', k.add(lid, 1)), k.if_(k.lt(k.ref('x', k.u32), 32), [k.barrier()])]);
    expect(only(warned)).toBe('warning: kernel probe: barrier in control flow that may differ between invocations of a workgroup (at body[1].then[0])');
    expect(() => assertValidKernel(warned)).not.toThrow();
    // uniform: workgroup ids and params
    expect(validateKernel(kernel([k.if_(k.lt(k.workgroupId(0), k.param(n)), [k.barrier()])]))).toEqual([]);
    // a var assigned from a local id later in a loop taints its earlier use
    const loop = kernel([k.var_('v', k.u(0)), k.for_('t', k.u(0), 4, [k.if_(k.eq(k.ref('v', k.u32), 0), [k.barrier()]), k.assign('v', lid)])]);
    expect(only(loop)).toMatch(/^warning: .*at body\[1\]\.body\[0\]\.then\[0\]/);
    // a break under a varying condition makes the rest of the loop varying
    const early = kernel([k.for_('t', k.u(0), 4, [k.if_(k.gt(lid, k.ref('t', k.u32)), [k.brk()]), k.barrier()])]);
    expect(only(early)).toMatch(/^warning: .*at body\[0\]\.body\[1\]/);
  });

  test('assertValidKernel throws with every error', () => {
    expect(() => assertValidKernel(kernel([k.assign('y', k.f(2)), { k: 'store', buffer: 'a', index: k.u(0), value: k.f(1) }]))).toThrow(
      "invalid kernel probe:\n  kernel probe: assignment to undeclared 'y' (at body[0])\n  kernel probe: store to read-only buffer 'a' (at body[1])");
  });
});
