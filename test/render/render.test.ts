// Golden WGSL and CUDA for small kernels, side by side in test/render/golden (refresh with
// UPDATE_GOLDEN=1), and the spelling of literals, names and parentheses.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import type { Expr, Kernel, Stmt } from '../../src/codegen/kernel-ir/types.js';
import * as k from '../../src/codegen/kernel-ir/build.js';
import { f32Decimal } from '../../src/codegen/render/c-like.js';
import { renderCuda } from '../../src/codegen/render/cuda.js';
import { packParams, renderWgsl } from '../../src/codegen/render/wgsl.js';
import { intOps, reduceSum, tiledMatmul, vec4Scale, vectorAdd } from '../kernel-ir/kernels.js';

const goldenDir = join(dirname(fileURLToPath(import.meta.url)), 'golden');

function golden(file: string, actual: string): void {
  const path = join(goldenDir, file);
  if (process.env.UPDATE_GOLDEN || !existsSync(path)) writeFileSync(path, actual);
  expect(actual, `${file} differs; rerun with UPDATE_GOLDEN=1 if the change is intended`).toBe(readFileSync(path, 'utf8'));
}

describe('golden sources', () => {
  for (const make of [vectorAdd, reduceSum, tiledMatmul]) {
    test(make().name, () => {
      golden(`${make().name}.wgsl`, renderWgsl(make()));
      golden(`${make().name}.cu`, renderCuda(make()));
      expect(renderWgsl(make())).toBe(renderWgsl(make())); // deterministic
    });
  }
});

/** How `e` is spelled: the initializer of `let result = e` in an otherwise tiny kernel. */
function spell(e: Expr, target: 'wgsl' | 'cuda'): string {
  const out = k.buffer('out', k.f32, 'read_write');
  const kernel: Kernel = { name: 'probe', workgroupSize: [1, 1, 1], buffers: [out], params: [k.uniform('n'), k.uniform('s', k.i32)], shared: [],
    body: [k.let_('x', k.f(0.5)), k.let_('p', k.i(3)), k.let_('q', k.u(5)), k.let_('result', e)], grid: [k.u(1), k.u(1), k.u(1)], locs: [] };
  const text = target === 'wgsl' ? renderWgsl(kernel) : renderCuda(kernel);
  const line = text.split('\n').find((l) => / result(: \w+(<f32>)?)? = /.test(l))!;
  return line.slice(line.indexOf(' = ') + 3, -1);
}

describe('spellings', () => {
  test('f32 literals are the shortest decimal that reads back as the same f32', () => {
    expect([0.1, 1, -2.5, 1e-7, 3.4028234663852886e38, 1.401298464324817e-45, 123456789, 0.3333333432674408, -0].map((x) => f32Decimal(Math.fround(x))))
      .toEqual(['0.1', '1.0', '-2.5', '1e-7', '3.4028235e+38', '1e-45', '123456790.0', '0.33333334', '-0.0']);
    for (let n = 0; n < 2000; n++) {
      const x = new Float32Array(new Uint32Array([Math.imul(n + 1, 2654435761) >>> 1]).buffer)[0]!;
      if (Number.isFinite(x)) expect(Math.fround(Number(f32Decimal(x)))).toBe(x);
    }
    expect(() => f32Decimal(Infinity)).toThrow(/use a bitcast/);
  });

  test('literals per target', () => {
    expect(spell(k.add(k.ref('x', k.f32), 0.1), 'wgsl')).toBe('x + 0.1f');
    expect(spell(k.add(k.ref('x', k.f32), 0.1), 'cuda')).toBe('x + 0.1f');
    expect(spell(k.add(k.ref('x', k.f32), 2), 'wgsl')).toBe('x + 2.0f');
    expect(spell(k.sub(k.ref('p', k.i32), -4), 'wgsl')).toBe('p - -4i');
    expect(spell(k.sub(k.ref('p', k.i32), -4), 'cuda')).toBe('p - -4');
    expect(spell(k.add(k.ref('p', k.i32), -2147483648), 'wgsl')).toBe('p + i32(-2147483648)');
    expect(spell(k.add(k.ref('p', k.i32), -2147483648), 'cuda')).toBe('p + (-2147483647 - 1)');
    expect(spell(k.add(k.ref('q', k.u32), 7), 'cuda')).toBe('q + 7u');
    expect(spell(k.infinity(-1), 'wgsl')).toBe('ptm_f32_bits(4286578688u)');
    expect(spell(k.infinity(-1), 'cuda')).toBe('__uint_as_float(4286578688u)');
  });

  test('parentheses only where precedence or WGSL grammar needs them', () => {
    const [x, p, q] = [k.ref('x', k.f32), k.ref('p', k.i32), k.ref('q', k.u32)];
    const both = (e: Expr) => [spell(e, 'wgsl'), spell(e, 'cuda')];
    expect(both(k.mul(k.add(x, 1), k.sub(x, k.sub(x, 2))))).toEqual(['(x + 1.0f) * (x - (x - 2.0f))', '(x + 1.0f) * (x - (x - 2.0f))']);
    expect(both(k.sub(k.sub(x, 1), k.mul(x, x)))).toEqual(['x - 1.0f - x * x', 'x - 1.0f - x * x']);
    expect(both(k.bin('&', k.bin('&', q, 3), k.add(q, 1)))).toEqual(['q & 3u & (q + 1u)', 'q & 3u & (q + 1u)']);
    expect(both(k.eq(k.bin('&', q, 1), 0))).toEqual(['(q & 1u) == 0u', '(q & 1u) == 0u']);
    expect(both(k.or(k.and(k.lt(x, 1), k.gt(x, 0)), k.eq(k.lt(q, 2), k.T)))).toEqual(['(x < 1.0f && x > 0.0f) || (q < 2u) == true', '(x < 1.0f && x > 0.0f) || (q < 2u) == true']);
    expect(both(k.neg(k.neg(x)))).toEqual(['-(-x)', '-(-x)']);
    expect(both(k.lane(k.add(k.vec4(x, x, x, x), k.splat(x)), 2))).toEqual(['(vec4<f32>(x, x, x, x) + vec4<f32>(x)).z', '(make_float4(x, x, x, x) + ptm_splat4(x)).z']);
  });

  test('shift counts are masked by 31 and u32 in WGSL; % and min/max per type', () => {
    const [x, p, q] = [k.ref('x', k.f32), k.ref('p', k.i32), k.ref('q', k.u32)];
    expect(spell(k.bin('<<', p, k.i(33)), 'wgsl')).toBe('p << 1u');
    expect(spell(k.bin('<<', p, k.i(33)), 'cuda')).toBe('p << 1');
    expect(spell(k.bin('>>', p, k.add(p, 1)), 'wgsl')).toBe('p >> u32(p + 1i)');
    expect(spell(k.bin('>>', q, k.add(q, 1)), 'cuda')).toBe('q >> ((q + 1u) & 31u)');
    expect(spell(k.mod(x, 2), 'cuda')).toBe('fmodf(x, 2.0f)');
    expect(spell(k.mod(x, 2), 'wgsl')).toBe('x % 2.0f');
    expect([spell(k.min(x, 1), 'cuda'), spell(k.min(p, 1), 'cuda'), spell(k.max(q, 1), 'cuda'), spell(k.max(q, 1), 'wgsl')]).toEqual(['fminf(x, 1.0f)', 'min(p, 1)', 'max(q, 1u)', 'max(q, 1u)']);
    expect(spell(k.select(k.lt(x, 0), k.neg(x), x), 'wgsl')).toBe('select(x, -x, x < 0.0f)');
    expect(spell(k.select(k.lt(x, 0), k.neg(x), x), 'cuda')).toBe('x < 0.0f ? -x : x');
    expect(spell(k.toI32(x), 'cuda')).toBe('ptm_f32_to_i32(x)');
    expect(spell(k.toF32(q), 'wgsl')).toBe('f32(q)');
    expect(spell(k.add(k.toF32(k.param(k.uniform('n'))), x), 'wgsl')).toBe('f32(params.n) + x');
    expect(spell(k.add(k.toF32(k.param(k.uniform('n'))), x), 'cuda')).toBe('float(n) + x');
    expect(spell(k.mul(k.globalId(0), 2), 'cuda')).toBe('(blockIdx.x * blockDim.x + threadIdx.x) * 2u');
  });

  test('names: reserved words and shadowed locals get fresh names', () => {
    const out = k.buffer('float', k.f32, 'read_write');
    const body: Stmt[] = [k.let_('var', k.f(1)), k.if_(k.T, [k.let_('var', k.f(2)), k.store(out, k.u(0), k.ref('var', k.f32))]), k.store(out, k.u(1), k.ref('var', k.f32))];
    const kernel: Kernel = { name: 'names', workgroupSize: [1, 1, 1], buffers: [out], params: [], shared: [], body, grid: [k.u(1), k.u(1), k.u(1)], locs: [] };
    const wgsl = renderWgsl(kernel), cuda = renderCuda(kernel);
    expect(wgsl).toContain('let var_1: f32 = 1.0f;');
    expect(wgsl).toContain('let var_2: f32 = 2.0f;');
    expect(wgsl).toContain('float[0u] = var_2;');
    expect(wgsl).toContain('float[1u] = var_1;');
    expect(cuda).toContain('float* __restrict__ float_1');
    expect(cuda).toContain('const float var = 1.0f;');
    expect(cuda).toContain('const float var_1 = 2.0f;');
    expect(cuda).toContain('float_1[1u] = var;');
  });

  test('packParams lays params out as the uniform struct, padded to 16 bytes', () => {
    const kernel = vec4Scale();
    expect(renderWgsl(kernel)).toContain('struct Params {\n  n4: u32,\n  scale: f32,\n  _pad0: u32,\n  _pad1: u32,\n}');
    const bytes = packParams(kernel, { n4: 7, scale: 0.5 });
    expect(bytes.byteLength).toBe(16);
    expect(new Uint32Array(bytes, 0, 1)[0]).toBe(7);
    expect(new Float32Array(bytes, 4, 1)[0]).toBe(0.5);
    expect(packParams(intOps(), { n: 3 }).byteLength).toBe(16);
    expect(packParams({ ...kernel, params: [] }, {}).byteLength).toBe(0);
    expect(() => packParams(kernel, { n4: -1, scale: 0 })).toThrow(/'n4' = -1 is not a u32/);
    expect(() => packParams(kernel, { scale: 0 })).toThrow(/'n4' was not given/);
  });
});
