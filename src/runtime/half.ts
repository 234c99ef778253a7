// IEEE binary16 (f16) and bfloat16 conversions. f16/bf16 tensors are stored as Float32Array; these
// round f32 values to the nearest representable half value (ties to even), as a store to memory would.

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** The f16 bit pattern nearest to `x` (round to nearest, ties to even; overflow → ±inf; NaN stays NaN). */
export function f32ToF16Bits(x: number): number {
  scratchF32[0] = x;
  const u = scratchU32[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half: value = m * 2^-24, so drop (14 - e) bits of the 24-bit significand.
    if (e < -10) return sign;
    const full = mant | 0x800000;
    const shift = 14 - e;
    let half = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1) !== 0)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) !== 0)) half++;
  return sign | half;
}

let f16Table: Float32Array | undefined;

/** The f32 value of an f16 bit pattern (exact: every f16 is representable in f32). */
export function f16BitsToF32(bits: number): number {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = decodeF16(h);
  }
  return f16Table[bits & 0xffff]!;
}

function decodeF16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant !== 0 ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** The bf16 bit pattern nearest to `x` (ties to even; NaN stays a quiet NaN). */
export function f32ToBf16Bits(x: number): number {
  scratchF32[0] = x;
  const u = scratchU32[0]!;
  if ((u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0) return (u >>> 16) | 0x40;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16BitsToF32(bits: number): number {
  scratchU32[0] = (bits & 0xffff) << 16;
  return scratchF32[0]!;
}

/** Rounds every element to the nearest f16 or bf16 value, in place. */
export function roundToHalf(data: Float32Array | Float64Array, kind: 'f16' | 'bf16'): void {
  if (kind === 'f16') for (let i = 0; i < data.length; i++) data[i] = f16BitsToF32(f32ToF16Bits(data[i]!));
  else for (let i = 0; i < data.length; i++) data[i] = bf16BitsToF32(f32ToBf16Bits(data[i]!));
}
