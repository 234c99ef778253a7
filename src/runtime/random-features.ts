// FAVOR+'s random projection (Choromanski et al. 2021, §2.4 and the paper's code
// `gaussian_orthogonal_random_matrix`): m rows of dimension d in blocks of d mutually orthogonal
// unit rows (Gram–Schmidt on Gaussian blocks), each row then scaled by the norm of an independent
// d-dimensional Gaussian vector, so every row is marginally N(0, I_d). Deterministic in (seed, name).
// The parameter `favor_features` [2·d, m] holds ω over −½ in every entry (elaborate/linear-attention.ts).
import { RandomStream } from './random.js';

/** ω as [d, m] (column j is feature j's direction), float64, from the stream (seed, name). */
export function orthogonalRandomFeatures(d: number, m: number, seed: number, name: string): Float64Array {
  const stream = new RandomStream(seed, `favor:${name}`);
  const draws = stream.normals(Math.ceil(m / d) * d * d + m * d) as Float64Array;
  let at = 0;
  const rows: Float64Array[] = [];
  while (rows.length < m) {
    // One block: d Gaussian vectors, orthonormalized in order (modified Gram–Schmidt, two passes).
    const block: Float64Array[] = [];
    for (let r = 0; r < d; r++) {
      const x = draws.slice(at, at + d);
      at += d;
      for (let pass = 0; pass < 2; pass++) {
        for (const u of block) {
          let dot = 0;
          for (let i = 0; i < d; i++) dot += x[i]! * u[i]!;
          for (let i = 0; i < d; i++) x[i] -= dot * u[i]!;
        }
      }
      let norm = 0;
      for (let i = 0; i < d; i++) norm += x[i]! * x[i]!;
      norm = Math.sqrt(norm);
      for (let i = 0; i < d; i++) x[i] /= norm;
      block.push(x);
    }
    rows.push(...block.slice(0, m - rows.length));
  }
  at = Math.ceil(m / d) * d * d;
  const omega = new Float64Array(d * m);
  rows.forEach((row, j) => {
    let chi = 0; // the norm of a fresh N(0, I_d) vector: chi-distributed with d degrees of freedom
    for (let i = 0; i < d; i++) chi += draws[at + j * d + i]! ** 2;
    chi = Math.sqrt(chi);
    for (let i = 0; i < d; i++) omega[i * m + j] = row[i]! * chi;
  });
  return omega;
}

/** The `random_features(seed)` initializer of a [2·d, m] parameter: ω [d, m] over a [d, m] block of −½. */
export function favorProjection(rows: number, m: number, seed: number, name: string): Float64Array {
  const d = rows / 2;
  const out = new Float64Array(rows * m).fill(-0.5);
  out.set(orthogonalRandomFeatures(d, m, seed, name));
  return out;
}
