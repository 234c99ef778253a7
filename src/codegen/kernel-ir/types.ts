// Kernel IR: one small typed imperative AST for compute kernels, target-neutral. Templates build
// it (never strings); the interpreter runs it in JS; the WGSL and CUDA renderers only print it.
// Every expression carries its type, so a renderer never has to infer anything.
import type { Span } from '../../diagnostics/span.js';

export type ScalarType = 'f32' | 'i32' | 'u32' | 'bool';

/** A scalar, or a 4-lane vector of f32 (vec4<f32> / float4) for coalesced loads and stores. */
export type KType = { scalar: ScalarType; lanes: 1 | 4 };

export const f32: KType = { scalar: 'f32', lanes: 1 };
export const i32: KType = { scalar: 'i32', lanes: 1 };
export const u32: KType = { scalar: 'u32', lanes: 1 };
export const bool: KType = { scalar: 'bool', lanes: 1 };
export const vec4f: KType = { scalar: 'f32', lanes: 4 };

export type Builtin =
  /** Index of the invocation in the whole dispatch: workgroup_id * workgroup_size + local_id. */
  | 'global_id'
  | 'local_id'
  | 'workgroup_id'
  | 'num_workgroups';

export type BinaryOp =
  | '+' | '-' | '*' | '/' | '%'
  | '<' | '<=' | '>' | '>=' | '==' | '!='
  | '&&' | '||'
  | '&' | '|' | '^' | '<<' | '>>'
  | 'min' | 'max';

/** Math functions both targets have (WGSL builtins, CUDA's f32 intrinsics); erf is built from exp. */
export type MathFn = 'exp' | 'log' | 'sin' | 'cos' | 'sqrt' | 'inverse_sqrt' | 'tanh' | 'abs' | 'floor' | 'ceil' | 'pow' | 'fma';

export type Expr =
  | { k: 'const'; type: KType; value: number }
  | { k: 'var'; type: KType; name: string }
  /** A uniform (launch parameter) declared in Kernel.params. */
  | { k: 'param'; type: KType; name: string }
  | { k: 'builtin'; type: KType; name: Builtin; axis: 0 | 1 | 2 }
  /** buffer[index]; the index is i32 or u32, in units of the buffer's element type. */
  | { k: 'load'; type: KType; buffer: string; index: Expr }
  | { k: 'shared_load'; type: KType; name: string; index: Expr }
  | { k: 'binary'; type: KType; op: BinaryOp; a: Expr; b: Expr }
  | { k: 'unary'; type: KType; op: '-' | '!'; a: Expr }
  | { k: 'math'; type: KType; fn: MathFn; args: Expr[] }
  /** cond ? a : b (both evaluated; no side effects in expressions). */
  | { k: 'select'; type: KType; cond: Expr; a: Expr; b: Expr }
  /** Numeric conversion: f32 -> i32/u32 truncates toward zero and clamps to [-2^31, 2147483520] / [0, 4294967040] (WGSL), NaN -> 0; bool -> 0/1. */
  | { k: 'cast'; type: KType; a: Expr }
  /** Reinterprets bits (u32 <-> f32 <-> i32). */
  | { k: 'bitcast'; type: KType; a: Expr }
  /** vec4 from 4 scalars, or a scalar splatted to all lanes. */
  | { k: 'vec'; type: KType; lanes: Expr[] }
  /** One lane of a vec4. */
  | { k: 'lane'; type: KType; a: Expr; lane: 0 | 1 | 2 | 3 };

export type Stmt =
  /** `let` (immutable) or `var` (mutable) local. */
  | { k: 'let'; name: string; type: KType; init: Expr; mutable: boolean }
  | { k: 'assign'; name: string; value: Expr }
  | { k: 'store'; buffer: string; index: Expr; value: Expr }
  | { k: 'shared_store'; name: string; index: Expr; value: Expr }
  | { k: 'if'; cond: Expr; then: Stmt[]; else: Stmt[] }
  /** for (var name = start; name < end; name += step) — start/end/step of the loop variable's type (i32 or u32). */
  | { k: 'for'; name: string; type: KType; start: Expr; end: Expr; step: Expr; body: Stmt[] }
  | { k: 'break' }
  /** Workgroup-wide barrier for shared memory (workgroupBarrier / __syncthreads); must be reached by every invocation. */
  | { k: 'barrier' }
  /** A comment carried into the rendered source (for people reading generated code). */
  | { k: 'comment'; text: string };

export interface BufferParam {
  name: string;
  /** Element type as bound: f32, i32, u32, or vec4f for a buffer read 4 floats at a time. */
  type: KType;
  access: 'read' | 'read_write';
}

export interface UniformParam {
  name: string;
  type: KType;
}

export interface SharedArray {
  name: string;
  type: KType;
  /** Number of elements; static. */
  size: number;
}

export interface Kernel {
  /** Unique, descriptive: `matmul_bias_gelu_64x64`, `attention_causal_f32`. */
  name: string;
  workgroupSize: [number, number, number];
  /** Bound in this order (WGSL @binding(i); CUDA parameter i). */
  buffers: BufferParam[];
  /** Launch parameters (sizes, strides, scalars), packed in this order (WGSL uniform struct; CUDA scalar parameters). */
  params: UniformParam[];
  shared: SharedArray[];
  body: Stmt[];
  /**
   * Workgroups to launch per axis, as expressions over `params` and constants only; evaluated on
   * the host at launch (e.g. ceil(n / 256)).
   */
  grid: [Expr, Expr, Expr];
  /** The .ptm source spans this kernel computes, for errors raised while building or running it. */
  locs: Span[];
}
