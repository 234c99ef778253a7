// Human-readable numbers and sizes for CLI output.
export const withCommas = (n: number): string => n.toLocaleString('en-US');

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** A number with 6 significant digits, stable across runs and platforms. */
export const num = (x: number): string => (Number.isFinite(x) ? Number(x.toPrecision(6)).toString() : String(x));
