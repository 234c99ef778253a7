// CUDA C++ spellings of kernel IR: one `extern "C" __global__` function per kernel, buffers then params
// as its arguments in kernel order. Differences from the IR's (WGSL's) semantics: integer x / 0, x % 0
// and INT_MIN / -1 are undefined in CUDA (WGSL: x, 0, INT_MIN); fmaf is always fused (WGSL may not fuse).
import type { KType, MathFn, ScalarType } from '../kernel-ir/types.js';
import type { Kernel } from '../kernel-ir/types.js';
import type { KernelNames, Printed, Spellings } from './c-like.js';
import { atom, call, f32Decimal, PREC, printKernel, wrap } from './c-like.js';

const CUDA_RESERVED = new Set([
  // C++ keywords
  'alignas', 'alignof', 'and', 'and_eq', 'asm', 'auto', 'bitand', 'bitor', 'bool', 'break', 'case', 'catch', 'char', 'class', 'compl', 'const', 'constexpr',
  'const_cast', 'continue', 'decltype', 'default', 'delete', 'do', 'double', 'dynamic_cast', 'else', 'enum', 'explicit', 'export', 'extern', 'false', 'float',
  'for', 'friend', 'goto', 'if', 'inline', 'int', 'long', 'mutable', 'namespace', 'new', 'noexcept', 'not', 'not_eq', 'nullptr', 'operator', 'or', 'or_eq',
  'private', 'protected', 'public', 'register', 'reinterpret_cast', 'return', 'short', 'signed', 'sizeof', 'static', 'static_assert', 'static_cast', 'struct',
  'switch', 'template', 'this', 'thread_local', 'throw', 'true', 'try', 'typedef', 'typeid', 'typename', 'union', 'unsigned', 'using', 'virtual', 'void',
  'volatile', 'wchar_t', 'while', 'xor', 'xor_eq',
  // CUDA names a kernel body may see
  'threadIdx', 'blockIdx', 'blockDim', 'gridDim', 'warpSize', 'int32_t', 'uint32_t', 'float4', 'make_float4', 'min', 'max', 'abs', 'expf', 'logf', 'sqrtf',
  'rsqrtf', 'tanhf', 'fabsf', 'floorf', 'ceilf', 'powf', 'fmaf', 'fminf', 'fmaxf', 'fmodf', 'std', 'main', 'ptm_splat4',
]);

const TYPES: Record<ScalarType, string> = { f32: 'float', i32: 'int32_t', u32: 'uint32_t', bool: 'bool' };
const cudaType = (t: KType): string => (t.lanes === 4 ? 'float4' : TYPES[t.scalar]);
const MATH: Record<MathFn, string> = {
  exp: 'expf', log: 'logf', sin: 'sinf', cos: 'cosf', sqrt: 'sqrtf', inverse_sqrt: 'rsqrtf', tanh: 'tanhf', abs: 'fabsf', floor: 'floorf', ceil: 'ceilf', pow: 'powf', fma: 'fmaf',
};
const BUILTINS = { local_id: 'threadIdx', workgroup_id: 'blockIdx', num_workgroups: 'gridDim' } as const;
const BITCASTS: Record<string, string> = {
  'i32->f32': '__int_as_float', 'u32->f32': '__uint_as_float', 'f32->i32': '__float_as_int', 'f32->u32': '__float_as_uint', 'u32->i32': 'int32_t', 'i32->u32': 'uint32_t',
};

/** float4 arithmetic and math for vec4 kernels; guarded so several kernels can share one file. */
const PRELUDE = `#ifndef PTM_CUDA_PRELUDE
#define PTM_CUDA_PRELUDE
#include <cstdint>
#define PTM_LANES(f, a) make_float4(f((a).x), f((a).y), f((a).z), f((a).w))
#define PTM_LANES2(f, a, b) make_float4(f((a).x, (b).x), f((a).y, (b).y), f((a).z, (b).z), f((a).w, (b).w))
__device__ __forceinline__ float4 operator+(float4 a, float4 b) { return make_float4(a.x + b.x, a.y + b.y, a.z + b.z, a.w + b.w); }
__device__ __forceinline__ float4 operator-(float4 a, float4 b) { return make_float4(a.x - b.x, a.y - b.y, a.z - b.z, a.w - b.w); }
__device__ __forceinline__ float4 operator*(float4 a, float4 b) { return make_float4(a.x * b.x, a.y * b.y, a.z * b.z, a.w * b.w); }
__device__ __forceinline__ float4 operator/(float4 a, float4 b) { return make_float4(a.x / b.x, a.y / b.y, a.z / b.z, a.w / b.w); }
__device__ __forceinline__ float4 operator-(float4 a) { return make_float4(-a.x, -a.y, -a.z, -a.w); }
__device__ __forceinline__ float4 ptm_splat4(float x) { return make_float4(x, x, x, x); }
__device__ __forceinline__ float4 ptm_expf4(float4 a) { return PTM_LANES(expf, a); }
__device__ __forceinline__ float4 ptm_logf4(float4 a) { return PTM_LANES(logf, a); }
__device__ __forceinline__ float4 ptm_sqrtf4(float4 a) { return PTM_LANES(sqrtf, a); }
__device__ __forceinline__ float4 ptm_rsqrtf4(float4 a) { return PTM_LANES(rsqrtf, a); }
__device__ __forceinline__ float4 ptm_tanhf4(float4 a) { return PTM_LANES(tanhf, a); }
__device__ __forceinline__ float4 ptm_fabsf4(float4 a) { return PTM_LANES(fabsf, a); }
__device__ __forceinline__ float4 ptm_floorf4(float4 a) { return PTM_LANES(floorf, a); }
__device__ __forceinline__ float4 ptm_ceilf4(float4 a) { return PTM_LANES(ceilf, a); }
__device__ __forceinline__ float4 ptm_powf4(float4 a, float4 b) { return PTM_LANES2(powf, a, b); }
__device__ __forceinline__ float4 ptm_fminf4(float4 a, float4 b) { return PTM_LANES2(fminf, a, b); }
__device__ __forceinline__ float4 ptm_fmaxf4(float4 a, float4 b) { return PTM_LANES2(fmaxf, a, b); }
__device__ __forceinline__ float4 ptm_fmodf4(float4 a, float4 b) { return PTM_LANES2(fmodf, a, b); }
__device__ __forceinline__ float4 ptm_fmaf4(float4 a, float4 b, float4 c) {
  return make_float4(fmaf(a.x, b.x, c.x), fmaf(a.y, b.y, c.y), fmaf(a.z, b.z, c.z), fmaf(a.w, b.w, c.w));
}
// WGSL's float-to-integer conversion: truncate, clamp to the integers f32 holds; NaN -> 0 (the intrinsics' choice).
__device__ __forceinline__ int32_t ptm_f32_to_i32(float x) { return __float2int_rz(x > 2147483520.0f ? 2147483520.0f : x); }
__device__ __forceinline__ uint32_t ptm_f32_to_u32(float x) { return __float2uint_rz(x > 4294967040.0f ? 4294967040.0f : x); }
#endif`;

function literal(value: number, scalar: ScalarType): Printed {
  if (scalar === 'i32' && value === -0x80000000) return { text: '-2147483647 - 1', prec: PREC.add };
  const text = scalar === 'f32' ? `${f32Decimal(value)}f` : scalar === 'bool' ? (value ? 'true' : 'false') : scalar === 'u32' ? `${value}u` : `${value}`;
  return { text, prec: text.startsWith('-') ? PREC.unary : PREC.postfix };
}

/** f32 (and vec4) ops that C spells as functions; integer min/max are CUDA's overloads. */
function binaryFunction(op: string, t: KType): string | undefined {
  const fn = op === 'min' ? (t.scalar === 'f32' ? 'fminf' : 'min') : op === 'max' ? (t.scalar === 'f32' ? 'fmaxf' : 'max') : op === '%' && t.scalar === 'f32' ? 'fmodf' : undefined;
  return fn && t.lanes === 4 ? `ptm_${fn}4` : fn;
}

function cast(to: KType, from: KType, a: Printed): Printed {
  if (from.scalar === 'f32' && to.scalar === 'i32') return call('ptm_f32_to_i32', [a]);
  if (from.scalar === 'f32' && to.scalar === 'u32') return call('ptm_f32_to_u32', [a]);
  return call(cudaType(to), [a]);
}

const spellings: Spellings = {
  reserved: CUDA_RESERVED,
  type: cudaType,
  literal,
  builtin: (name, axis) => {
    const c = 'xyz'[axis];
    if (name === 'global_id') return { text: `blockIdx.${c} * blockDim.${c} + threadIdx.${c}`, prec: PREC.add };
    return atom(`${BUILTINS[name]}.${c}`);
  },
  param: atom,
  binaryFunction,
  masksShiftCount: false,
  math: (fn, t) => (t.scalar === 'i32' ? 'abs' : t.lanes === 4 ? `ptm_${MATH[fn]}4` : MATH[fn]),
  cast,
  bitcast: (to, from, a) => call(BITCASTS[`${from.scalar}->${to.scalar}`]!, [a]),
  vec: (lanes) => atom(lanes.length === 1 ? `ptm_splat4(${lanes[0]})` : `make_float4(${lanes.join(', ')})`),
  select: (cond, a, b) => ({ text: `${wrap(cond, PREC.ternary + 1)} ? ${wrap(a, PREC.ternary + 1)} : ${wrap(b, PREC.ternary + 1)}`, prec: PREC.ternary }),
  declare: (name, t, init, mutable) => `${mutable ? '' : 'const '}${cudaType(t)} ${name} = ${init};`,
  forHeader: (name, t, start, condition, step) => `for (${cudaType(t)} ${name} = ${start}; ${condition}; ${name} += ${step}) {`,
  barrier: '__syncthreads();',
  kernel: header,
};

function header(kernel: Kernel, names: KernelNames, body: string[]): string {
  const args = [
    ...kernel.buffers.map((b, n) => `${b.access === 'read' ? 'const ' : ''}${cudaType(b.type)}* __restrict__ ${names.buffers[n]}`),
    ...kernel.params.map((p, n) => `${cudaType(p.type)} ${names.params[n]}`),
  ];
  const threads = kernel.workgroupSize[0] * kernel.workgroupSize[1] * kernel.workgroupSize[2];
  return [
    `// ${kernel.name}: generated by ptm from kernel IR; launch with blockDim = (${kernel.workgroupSize.join(', ')})`,
    PRELUDE,
    '',
    `extern "C" __global__ void __launch_bounds__(${threads}) ${kernel.name}(${args.join(', ')}) {`,
    ...kernel.shared.map((s, n) => `  __shared__ ${cudaType(s.type)} ${names.shared[n]}[${s.size}];`),
    ...body.map((l) => `  ${l}`),
    '}',
    '',
  ].join('\n');
}

/** The kernel as a CUDA C++ translation unit (prelude + one kernel named `kernel.name`). Deterministic. */
export function renderCuda(kernel: Kernel): string {
  if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(kernel.name)) throw new Error(`renderCuda: kernel name '${kernel.name}' is not a C identifier`);
  return printKernel(kernel, spellings);
}
