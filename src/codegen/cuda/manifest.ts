// The CUDA target's manifest: everything a host needs to run a Program from the built library alone
// (no Node): kernels with their grids as tiny u32 expression trees, buffers, launches with their
// params as Dim strings, inputs, outputs and symbols. scripts/gpu-check.py evaluates it the same way.
import { formatLoc } from '../../diagnostics/span.js';
import type { Dim } from '../../ir/dim.js';
import type { Expr, Kernel } from '../kernel-ir/types.js';
import type { Program } from '../lower/program.js';

export const MANIFEST_FORMAT = 'ptm-cuda-manifest/1';

/**
 * A grid expression: a kernel param name, a u32 constant, or `[op, a, b]` with op one of
 * `+ - * / % min max` under u32 semantics (wrapping; x / 0 = x, x % 0 = 0, as kernel IR defines).
 */
export type GridExpr = string | number | [GridOp, GridExpr, GridExpr];
export type GridOp = '+' | '-' | '*' | '/' | '%' | 'min' | 'max';
const GRID_OPS = new Set<string>(['+', '-', '*', '/', '%', 'min', 'max']);

export interface ManifestKernel {
  id: number;
  /** The symbol in the library (kernel.name, suffixed `_v<n>` when two different kernels share a name). */
  symbol: string;
  /** kernel.name as the template made it. */
  name: string;
  /** Fingerprint of the rendered source (see kernelFingerprint): how a runtime maps a Kernel to its id. */
  fingerprint: string;
  workgroupSize: [number, number, number];
  buffers: { name: string; type: string; access: 'read' | 'read_write' }[];
  /** Param names, in the kernel's (and ptm_launch's) order; all u32. */
  params: string[];
  grid: [GridExpr, GridExpr, GridExpr];
  sharedBytes: number;
}

export interface ManifestBuffer {
  id: string;
  kind: 'input' | 'param' | 'folded' | 'temp' | 'output';
  storage: 'f32' | 'i32' | 'u32';
  dtype: string;
  /** Element count as a Dim string: `768`, `batch*seq`. */
  elements: string;
  name?: string;
  chunk?: { param: string; rowStart: number; rows: number };
  /** True when some launch binds it (unbound params are never uploaded, as in ProgramSession). */
  bound: boolean;
}

export interface ManifestLaunch {
  kernel: number;
  /** Buffer id bound to each kernel buffer, in order. */
  buffers: string[];
  /** Value of each kernel param, in order, as a Dim string. */
  params: string[];
  op: string;
  /** The .ptm location it computes: `file:line:col`. */
  loc: string;
}

export interface ManifestTensor {
  name: string;
  buffer: string;
  shape: string[];
  dtype: string;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  program: string;
  library: string;
  symbols: string[];
  /** Byte alignment of arena offsets (planMemory's `alignment`). */
  alignment: number;
  storageBytes: number;
  kernels: ManifestKernel[];
  buffers: ManifestBuffer[];
  /** Graph inputs: their shapes bind the symbols (a plain symbol name in an axis binds it). */
  inputs: ManifestTensor[];
  outputs: ManifestTensor[];
  launches: ManifestLaunch[];
}

export const dimString = (d: Dim): string => String(d);

/** Kernel IR grid expression -> GridExpr; anything but u32 params, constants and + - * / % min max is refused. */
export function gridTree(kernel: Kernel, e: Expr): GridExpr {
  const fail = (what: string): never => {
    throw new Error(`kernel ${kernel.name}: its grid uses ${what}; the CUDA manifest allows u32 params, constants and + - * / % min max`);
  };
  if (e.type.scalar !== 'u32' || e.type.lanes !== 1) fail(`a ${e.type.scalar} expression`);
  switch (e.k) {
    case 'const':
      return e.value;
    case 'param':
      return e.name;
    case 'binary':
      if (!GRID_OPS.has(e.op)) fail(`'${e.op}'`);
      return [e.op as GridOp, gridTree(kernel, e.a), gridTree(kernel, e.b)];
    default:
      return fail(`a '${e.k}' expression`);
  }
}

/** The manifest of `program`, given each launch's kernel id and the emitted kernel table. */
export function buildManifest(program: Program, kernels: ManifestKernel[], launchKernel: number[], library: string, alignment: number): Manifest {
  const bound = new Set(program.launches.flatMap((l) => l.buffers));
  const inputBuffer = new Map(program.buffers.filter((b) => b.kind === 'input').map((b) => [b.name!, b.id]));
  return {
    format: MANIFEST_FORMAT,
    program: program.name,
    library,
    symbols: [...program.symbols],
    alignment,
    storageBytes: 4,
    kernels,
    buffers: program.buffers.map((b) => ({
      id: b.id, kind: b.kind, storage: b.storage, dtype: b.dtype, elements: dimString(b.elements),
      ...(b.name !== undefined ? { name: b.name } : {}), ...(b.chunk ? { chunk: { ...b.chunk } } : {}), bound: bound.has(b.id),
    })),
    inputs: program.graph.inputs.map((i) => ({ name: i.name, buffer: inputBuffer.get(i.name) ?? '', shape: i.value.type.shape.map(dimString), dtype: i.value.type.dtype })),
    outputs: program.outputs.map((o) => ({ name: o.name, buffer: o.buffer, shape: o.shape.map(dimString), dtype: o.dtype })),
    launches: program.launches.map((l, i) => ({
      kernel: launchKernel[i]!,
      buffers: [...l.buffers],
      params: l.instance.kernel.params.map((p) => {
        const d = l.instance.params[p.name];
        if (d === undefined) throw new Error(`kernel ${l.instance.kernel.name}: launch ${i} gives no value for param '${p.name}'`);
        return dimString(d);
      }),
      op: l.op,
      loc: formatLoc(l.loc),
    })),
  };
}

// ---- evaluation (mirrored by scripts/gpu-check.py; test/cuda checks both against evalDim/evalGrid) ----

/** A Dim string's value under `symbols`: a sum of terms, each a product of integers and symbols. */
export function evalDimString(text: string, symbols: Readonly<Record<string, number>>): number {
  let total = 0;
  for (const term of text.replace(/\s+/g, '').replace(/-/g, '+-').split('+')) {
    if (term === '') continue;
    let value = term.startsWith('-') ? -1 : 1;
    for (const factor of (term.startsWith('-') ? term.slice(1) : term).split('*')) {
      if (/^\d+$/.test(factor)) value *= Number(factor);
      else if (factor in symbols) value *= symbols[factor]!;
      else throw new Error(`dimension '${text}': unbound symbol '${factor}'`);
    }
    total += value;
  }
  return total;
}

const U32: Record<GridOp, (a: number, b: number) => number> = {
  '+': (a, b) => (a + b) >>> 0,
  '-': (a, b) => (a - b) >>> 0,
  '*': (a, b) => Math.imul(a, b) >>> 0,
  '/': (a, b) => (b === 0 ? a : Math.floor(a / b)),
  '%': (a, b) => (b === 0 ? 0 : a % b),
  min: Math.min,
  max: Math.max,
};

/** A grid expression's value, with u32 semantics, given the kernel's params by name. */
export function evalGridExpr(e: GridExpr, params: Readonly<Record<string, number>>): number {
  if (typeof e === 'number') return e >>> 0;
  if (typeof e === 'string') {
    const v = params[e];
    if (v === undefined) throw new Error(`grid: unknown param '${e}'`);
    return v >>> 0;
  }
  const f = U32[e[0]];
  if (!f) throw new Error(`grid: unknown op '${String(e[0])}'`);
  return f(evalGridExpr(e[1], params), evalGridExpr(e[2], params));
}

/** Symbols bound from input shapes, as ProgramSession.bindSymbols does (plain symbol axes bind). */
export function bindManifestSymbols(manifest: Manifest, shapes: Readonly<Record<string, readonly number[]>>): Record<string, number> {
  const symbols: Record<string, number> = {};
  for (const input of manifest.inputs) {
    const shape = shapes[input.name];
    if (!shape) throw new Error(`missing input '${input.name}'`);
    if (shape.length !== input.shape.length) throw new Error(`input '${input.name}' has rank ${shape.length}, the model needs ${input.shape.length}`);
    input.shape.forEach((d, i) => {
      if (/^[A-Za-z_]\w*$/.test(d) && !(d in symbols)) symbols[d] = shape[i]!;
    });
    input.shape.forEach((d, i) => {
      if (evalDimString(d, symbols) !== shape[i]) throw new Error(`input '${input.name}' has size ${shape[i]} in axis ${i}, the model needs ${d}`);
    });
  }
  return symbols;
}

/** JSON text with arrays of plain values (and short objects) on one line, so a launch reads as one line. */
export function compactJson(value: unknown, indent = ''): string {
  const flat = JSON.stringify(value);
  const hasObject = (v: unknown): boolean => (Array.isArray(v) ? v.some(hasObject) : typeof v === 'object' && v !== null);
  if (typeof value !== 'object' || value === null || !hasObject(Array.isArray(value) ? value : [value]) || (!Array.isArray(value) && flat.length <= 100)) return flat;
  const inner = `${indent}  `;
  if (Array.isArray(value)) return `[\n${value.map((v) => inner + compactJson(v, inner)).join(',\n')}\n${indent}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${compactJson(v, inner)}`).join(',\n')}\n${indent}}`;
}
