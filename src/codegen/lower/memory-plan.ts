// The memory plan: every temporary buffer gets an offset in one arena, reusing the bytes of buffers
// that are dead by then (liveness over the launch order, first-fit with coalescing). Sizes depend on
// the symbols (seq, batch), so the plan is made when they are bound, and cached per binding.
import { evalDim } from '../../ir/dim.js';
import type { Program } from './program.js';
import { STORAGE_BYTES } from './program.js';

export interface MemoryPlan {
  /** Slot of each temp buffer: temps whose lifetimes do not overlap share a slot. */
  slotOf: Map<string, number>;
  /** Byte size of each slot (the largest temp it ever holds, aligned). */
  slotBytes: number[];
  /** Byte offset of each temp when the slots are laid end to end in one arena. */
  offsets: Map<string, number>;
  /** Byte size of every buffer of the program (inputs, params, temps, outputs). */
  sizes: Map<string, number>;
  arenaBytes: number;
  /** Bytes all temps would take without reuse, for comparison. */
  unplannedBytes: number;
}

/** First and last launch index that touch each temp buffer. */
export function lifetimes(program: Program): Map<string, { first: number; last: number }> {
  const temps = new Set(program.buffers.filter((b) => b.kind === 'temp').map((b) => b.id));
  const life = new Map<string, { first: number; last: number }>();
  program.launches.forEach((launch, i) => {
    for (const id of launch.buffers) {
      if (!temps.has(id)) continue;
      const l = life.get(id);
      if (l) l.last = i;
      else life.set(id, { first: i, last: i });
    }
  });
  return life;
}

/**
 * Assigns temps to slots in launch order: a temp takes the free slot that fits it best (or grows
 * the largest free one), and frees its slot after its last reader. Outputs of a launch are placed
 * while that launch's inputs are still live, so a kernel never reads and writes one slot (WebGPU
 * forbids a buffer bound read-only and writable in one dispatch).
 */
export function planMemory(program: Program, symbols: ReadonlyMap<string, number>, alignment = 256): MemoryPlan {
  const sizes = new Map(program.buffers.map((b) => [b.id, Math.max(STORAGE_BYTES, evalDim(b.elements, symbols) * STORAGE_BYTES)]));
  const life = lifetimes(program);
  const align = (n: number) => Math.ceil(n / alignment) * alignment;
  const slotBytes: number[] = [];
  const free = new Set<number>();
  const slotOf = new Map<string, number>();
  const byFirst = new Map<number, string[]>();
  const byLast = new Map<number, string[]>();
  for (const [id, l] of life) {
    byFirst.set(l.first, [...(byFirst.get(l.first) ?? []), id]);
    byLast.set(l.last, [...(byLast.get(l.last) ?? []), id]);
  }
  program.launches.forEach((_, i) => {
    for (const id of byFirst.get(i) ?? []) {
      const need = align(sizes.get(id)!);
      const candidates = [...free].sort((a, b) => slotBytes[a]! - slotBytes[b]! || a - b);
      let slot = candidates.find((s) => slotBytes[s]! >= need) ?? candidates[candidates.length - 1];
      if (slot === undefined) slot = slotBytes.push(0) - 1;
      free.delete(slot);
      slotBytes[slot] = Math.max(slotBytes[slot]!, need);
      slotOf.set(id, slot);
    }
    for (const id of byLast.get(i) ?? []) free.add(slotOf.get(id)!);
  });
  const base: number[] = [];
  let top = 0;
  for (const bytes of slotBytes) {
    base.push(top);
    top += bytes;
  }
  const offsets = new Map([...slotOf].map(([id, slot]) => [id, base[slot]!]));
  const unplannedBytes = [...life.keys()].reduce((a, id) => a + align(sizes.get(id)!), 0);
  return { slotOf, slotBytes, offsets, sizes, arenaBytes: top, unplannedBytes };
}
