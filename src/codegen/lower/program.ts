// A compiled program: the buffers a fused graph needs and the kernel launches that compute it, in
// order. Target-neutral: WebGPU and CUDA runtimes execute the same Program; only rendering differs.
import type { Span } from '../../diagnostics/span.js';
import type { Dim } from '../../ir/dim.js';
import type { DType, Graph } from '../../ir/types.js';
import type { KernelInstance, StorageType } from '../templates/instance.js';
import type { View } from './views.js';

export interface ProgramBuffer {
  /** The graph value that owns the storage (or `<param>#<chunk>` for a chunk of a split parameter). */
  id: string;
  /**
   * input: uploaded per run; param: uploaded once; folded: computed once on the CPU from params
   * (weight concatenation) and uploaded; temp: lives in the arena between its first and last use;
   * output: read back after each run.
   */
  kind: 'input' | 'param' | 'folded' | 'temp' | 'output';
  storage: StorageType;
  dtype: DType;
  elements: Dim;
  /** For params and inputs: the graph name; for outputs: the output name. */
  name?: string;
  /** A chunk of a parameter too large for one binding: rows [rowStart, rowStart + rows) of `param`. */
  chunk?: { param: string; rowStart: number; rows: number };
}

export interface Launch {
  instance: KernelInstance;
  /** The buffer bound to each `instance.bind` entry, and the element offset within it (always 0 for now). */
  buffers: string[];
  /** The graph op kind and source location it computes. */
  op: string;
  loc: Span;
}

export interface ProgramOutput {
  name: string;
  buffer: string;
  shape: Dim[];
  dtype: DType;
}

export interface Program {
  name: string;
  symbols: string[];
  /** The fused graph this program computes. */
  graph: Graph;
  buffers: ProgramBuffer[];
  /**
   * The ops computed on the CPU at load time, as a graph over the params whose outputs are the
   * `folded` buffers (named by buffer id): weight concatenations and the like.
   */
  folded: Graph;
  launches: Launch[];
  outputs: ProgramOutput[];
  /** For each value id, the view through which kernels read it (debugging and tests). */
  views: Map<string, View>;
}

export const storageOf = (dtype: DType): StorageType => (dtype === 'bool' ? 'u32' : dtype === 'i32' || dtype === 'i64' ? 'i32' : 'f32');

export const STORAGE_BYTES = 4;
