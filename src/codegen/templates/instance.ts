// What a template returns: a kernel plus how to launch it for a graph. Templates are generic over
// sizes: every size, stride and offset is a kernel parameter whose value is a Dim over the graph's
// symbols (batch, seq), evaluated when the symbols are bound. Float settings (eps, scale) are baked
// into the kernel as constants, so a kernel's parameters are all u32.
import type { Dim } from '../../ir/dim.js';
import type { Kernel } from '../kernel-ir/types.js';

/** What kernel buffer i is bound to: one of the spec's inputs, or one of its outputs. */
export type BufferBind = { kind: 'input'; index: number } | { kind: 'output'; index: number };

export interface KernelInstance {
  kernel: Kernel;
  /** One entry per kernel.buffers[i], in order. */
  bind: BufferBind[];
  /** A value for every kernel param (all u32), as a Dim over the graph's symbols. */
  params: Record<string, Dim>;
}

/**
 * How a template reads or writes a tensor in a buffer: element offset and one stride per logical
 * axis (0 = broadcast along it). Lets layouts (head split, transposes, slices) fold into indexing
 * instead of costing a copy kernel.
 */
export interface Strided {
  offset: Dim;
  strides: Dim[];
}

/** GPU storage of graph dtypes: f32 as f32; i32/i64 as i32 (ids and positions fit); bool as u32 0/1. */
export type StorageType = 'f32' | 'i32' | 'u32';
