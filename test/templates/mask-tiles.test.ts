// Tile classification with the mask nodes decoding and T5 bring: dim(past) (exact over every tile, so
// `k <= q + dim(past)` is classified as exactly as `k <= q`) and t5_bucket (bounded by its monotone
// pieces), against brute force over the tile; and the integer-threshold bucket both domains compute
// against HF's float64 `_relative_position_bucket` (t5-reference.ts).
import { describe, expect, it } from 'vitest';
import type { MaskExpr } from '../../src/ir/index.js';
import { evalMask, maskBin, maskConst, maskDim, maskRead, maskVar } from '../../src/ir/index.js';
import type { TileRanges } from '../../src/codegen/templates/mask-tiles.js';
import { classifyTile, keyIntervals, numberDomain, t5BucketOf } from '../../src/codegen/templates/mask-tiles.js';
import { hfBucket } from './t5-reference.js';
import { seeded } from './helpers.js';

const [q, k] = (['q', 'k'] as const).map(maskVar) as [MaskExpr, MaskExpr];
const bin = maskBin, int = maskConst;
const t5 = (rel: MaskExpr, bidirectional: boolean, buckets = 32, maxDistance = 128): MaskExpr => ({ kind: 't5_bucket', rel, buckets, maxDistance, bidirectional });

/** 'masked' / 'visible' when every element of the tile agrees, else 'partial'. */
function bruteForce(mask: MaskExpr, r: TileRanges): 'masked' | 'visible' | 'partial' {
  let any = false, all = true;
  const read = r.read ?? (() => { throw new Error('read'); });
  for (let qi = r.q[0]; qi <= r.q[1]; qi++) {
    for (let ki = r.k[0]; ki <= r.k[1]; ki++) {
      const v = evalMask(mask, { b: r.b, h: r.h, q: qi, k: ki }, read, (d) => (typeof d === 'number' ? d : r.dims![d]!)) !== 0;
      any ||= v;
      all &&= v;
    }
  }
  return !any ? 'masked' : all ? 'visible' : 'partial';
}

describe('t5_bucket with integer thresholds', () => {
  it("equals HF's float64 formula for every relative position in [-400, 400] and several bucket settings", () => {
    for (const [buckets, maxDistance] of [[32, 128], [32, 64], [16, 100], [64, 256], [8, 20]] as const) {
      for (const bidirectional of [true, false]) {
        for (let rel = -400; rel <= 400; rel++) {
          const node = t5(int(rel), bidirectional, buckets, maxDistance) as Extract<MaskExpr, { kind: 't5_bucket' }>;
          expect(t5BucketOf(numberDomain, rel, node), `${buckets}, ${maxDistance}, ${bidirectional}, rel ${rel}`).toBe(hfBucket(rel, bidirectional, buckets, maxDistance));
        }
      }
    }
  });
});

describe('tile classification with dim(past)', () => {
  it('k <= q + dim(past): exact for every 16 x 16 tile and past 0..40, skipping the tiles beyond the shifted diagonal', () => {
    const mask = bin('<=', k, bin('+', q, maskDim('past')));
    let masked = 0;
    for (let past = 0; past <= 40; past++) {
      for (let q0 = 0; q0 < 64; q0 += 16) {
        for (let k0 = 0; k0 < 64 + past; k0 += 16) {
          const r: TileRanges = { b: 0, h: 0, q: [q0, q0 + 15], k: [k0, k0 + 15], dims: { past } };
          const cls = classifyTile(mask, r);
          expect(cls, `past ${past}, q0 ${q0}, k0 ${k0}`).toBe(bruteForce(mask, r));
          if (cls === 'masked') masked++;
        }
      }
    }
    expect(masked).toBeGreaterThan(100);
  });

  it('a window around the shifted diagonal, dim(past) - dim(2) as an expression', () => {
    const shifted = bin('-', bin('+', q, maskDim('past')), k);
    const mask = bin('&', bin('>=', shifted, maskDim(2)), bin('<', shifted, int(20)));
    for (const past of [0, 3, 17]) {
      for (let q0 = 0; q0 < 48; q0 += 8) {
        for (let k0 = 0; k0 < 48 + past; k0 += 8) {
          const r: TileRanges = { b: 0, h: 0, q: [q0, q0 + 7], k: [k0, k0 + 7], dims: { past } };
          const cls = classifyTile(mask, r);
          if (cls !== 'partial') expect(cls).toBe(bruteForce(mask, r));
        }
      }
    }
  });
});

describe('tile classification with t5_bucket', () => {
  it('is exact for t5_bucket(k - q) compared with a constant (its bounds are the attained min and max)', () => {
    const rand = seeded(5);
    for (let n = 0; n < 3000; n++) {
      const bidirectional = rand() < 0.5;
      const mask = bin((['<', '<=', '>', '>='] as const)[Math.floor(rand() * 4)]!, t5(bin('-', k, q), bidirectional), int(Math.floor(rand() * 34) - 1));
      const q0 = Math.floor(rand() * 300), k0 = Math.floor(rand() * 300), size = 1 + Math.floor(rand() * 32);
      const r: TileRanges = { b: 0, h: 0, q: [q0, q0 + size - 1], k: [k0, k0 + size - 1] };
      expect(classifyTile(mask, r), JSON.stringify({ mask, r })).toBe(bruteForce(mask, r));
    }
  });

  it('is never wrong with offsets, reads in the relative position and == / != (brute force)', () => {
    const rand = seeded(9);
    const pos = Int32Array.from({ length: 200 }, () => Math.floor(rand() * 400));
    const read = (_operand: number, [i]: number[]) => (i! >= 0 && i! < 200 ? pos[i!]! : 0);
    const rels = [bin('-', k, bin('+', q, maskDim('past'))), bin('-', maskRead(3, [k]), maskRead(3, [q])), bin('-', q, k), bin('*', bin('-', k, q), int(3))];
    let decided = 0;
    for (let n = 0; n < 3000; n++) {
      const rel = rels[n % rels.length]!;
      const op = (['<', '==', '!=', '>='] as const)[Math.floor(rand() * 4)]!;
      const mask = bin(op, t5(rel, rand() < 0.5, 32, 128), int(Math.floor(rand() * 32)));
      const q0 = Math.floor(rand() * 180), k0 = Math.floor(rand() * 180), size = 1 + Math.floor(rand() * 16);
      const r: TileRanges = { b: 0, h: 0, q: [q0, q0 + size - 1], k: [k0, k0 + size - 1], read, dims: { past: Math.floor(rand() * 50) } };
      const cls = classifyTile(mask, r);
      if (cls !== 'partial') {
        decided++;
        expect(cls, JSON.stringify({ mask, r: { ...r, read: true } })).toBe(bruteForce(mask, r));
      }
    }
    expect(decided).toBeGreaterThan(1000);
  });
});

describe('key intervals (the attention kernel walks only these key tiles)', () => {
  /** Every key visible to some query of [q0, q1] lies in the union of the intervals (unbounded sides: all keys). */
  function covers(mask: MaskExpr, q0: number, q1: number, tk: number, read: (operand: number, indices: number[]) => number = () => 0, dims: Record<string, number> = {}): { ok: boolean; walked: number } {
    const env = { b: 0, h: 0, q: [q0, q1] as [number, number], k: [0, tk - 1] as [number, number], dim: (d: string | number) => (typeof d === 'number' ? d : dims[d]!),
      reads: { exact: (operand: number, indices: number[]) => read(operand, indices), range: () => undefined, unknown: () => undefined } };
    const intervals = keyIntervals(mask, numberDomain, env).map((x) => [Math.max(x.lo ?? 0, 0), Math.min(x.hi ?? tk - 1, tk - 1)] as const);
    const inside = (k: number) => intervals.some(([lo, hi]) => k >= lo && k <= hi);
    let ok = true;
    for (let qi = q0; qi <= q1; qi++) {
      for (let ki = 0; ki < tk; ki++) if (evalMask(mask, { b: 0, h: 0, q: qi, k: ki }, read, env.dim) !== 0 && !inside(ki)) ok = false;
    }
    const walked = new Set<number>();
    intervals.forEach(([lo, hi]) => { for (let x = lo; x <= hi; x++) walked.add(x); });
    return { ok, walked: walked.size };
  }
  const window = (w: number): MaskExpr => bin('&', bin('<=', bin('-', q, k), int(w)), bin('<=', bin('-', k, q), int(w)));

  it('window(w) walks 2w + tile keys; | prefix global adds the prefix; & causal cuts the future', () => {
    const n = (_o: number, _i: number[]) => 5;
    expect(covers(window(8), 32, 47, 200)).toEqual({ ok: true, walked: 16 + 16 });
    expect(covers(bin('|', window(8), bin('<', k, maskRead(3, [maskVar('b')]))), 64, 79, 200, n)).toEqual({ ok: true, walked: 32 + 5 });
    expect(covers(bin('&', window(8), bin('<=', k, q)), 32, 47, 200)).toEqual({ ok: true, walked: 8 + 16 });
    expect(covers(bin('<=', k, bin('+', q, maskDim('past'))), 0, 15, 100, n, { past: 30 })).toEqual({ ok: true, walked: 46 });
  });

  it('is never wrong on random &, | of linear comparisons, reads and % (brute force over every query tile)', () => {
    const rand = seeded(5);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const read = (_o: number, [i]: number[]) => ((i ?? 0) * 7) % 11;
    const leaf = (): MaskExpr => pick([
      () => bin(pick(['<', '<=', '>', '>=', '==']), bin('+', bin('*', int(pick([1, -1, 2])), k), bin('*', int(pick([1, -1, 0])), q)), int(Math.floor(rand() * 40) - 20)),
      () => bin('<', k, maskRead(3, [maskVar('b')])),
      () => bin('==', bin('%', k, int(3)), int(0)),
      () => maskRead(3, [k]),
    ])();
    const tree = (depth: number): MaskExpr => (depth === 0 || rand() < 0.3 ? leaf() : bin(pick(['&', '|'] as const), tree(depth - 1), tree(depth - 1)));
    for (let n = 0; n < 400; n++) {
      const mask = tree(3), q0 = Math.floor(rand() * 50);
      expect(covers(mask, q0, q0 + 7, 64, read).ok, JSON.stringify(mask)).toBe(true);
    }
  });
});
