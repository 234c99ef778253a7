// The memory plan: every temporary buffer gets an offset in one arena, reusing the bytes of buffers
// that are dead by then (liveness over the launch order, first-fit with coalescing). Sizes depend on
// the symbols (seq, batch), so the plan is made when they are bound, and cached per binding.
import { evalDim } from '../../ir/dim.js';
import type { Program } from './program.js';
import { STORAGE_BYTES } from './program.js';

export interface MemoryPlan {
  /** Byte offset of each temp buffer in the arena. */
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

export function planMemory(program: Program, symbols: ReadonlyMap<string, number>, alignment = 256): MemoryPlan {
  const sizes = new Map(program.buffers.map((b) => [b.id, Math.max(STORAGE_BYTES, evalDim(b.elements, symbols) * STORAGE_BYTES)]));
  const life = lifetimes(program);
  const align = (n: number) => Math.ceil(n / alignment) * alignment;
  const free: { offset: number; size: number }[] = [];
  const offsets = new Map<string, number>();
  let top = 0;
  const allocate = (size: number): number => {
    const need = align(size);
    const i = free.findIndex((b) => b.size >= need);
    if (i >= 0) {
      const block = free[i]!;
      const offset = block.offset;
      if (block.size === need) free.splice(i, 1);
      else free[i] = { offset: offset + need, size: block.size - need };
      return offset;
    }
    const offset = top;
    top += need;
    return offset;
  };
  const release = (offset: number, size: number): void => {
    free.push({ offset, size: align(size) });
    free.sort((a, b) => a.offset - b.offset);
    for (let i = 0; i + 1 < free.length;) {
      if (free[i]!.offset + free[i]!.size === free[i + 1]!.offset) {
        free[i] = { offset: free[i]!.offset, size: free[i]!.size + free[i + 1]!.size };
        free.splice(i + 1, 1);
      } else i++;
    }
    // A free block at the top shrinks the arena high-water mark only if nothing above it is live; keep it simple.
  };
  const byFirst = new Map<number, string[]>();
  const byLast = new Map<number, string[]>();
  for (const [id, l] of life) {
    byFirst.set(l.first, [...(byFirst.get(l.first) ?? []), id]);
    byLast.set(l.last, [...(byLast.get(l.last) ?? []), id]);
  }
  program.launches.forEach((_, i) => {
    // Outputs of launch i are allocated while its inputs are still live: no accidental aliasing.
    for (const id of byFirst.get(i) ?? []) offsets.set(id, allocate(sizes.get(id)!));
    for (const id of byLast.get(i) ?? []) release(offsets.get(id)!, sizes.get(id)!);
  });
  const unplannedBytes = [...life.keys()].reduce((a, id) => a + align(sizes.get(id)!), 0);
  return { offsets, sizes, arenaBytes: top, unplannedBytes };
}
