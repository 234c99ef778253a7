// erf and erfc in double precision (≲1e-16 relative), after W. J. Cody's CALERF: rational Chebyshev
// approximations (Math. Comp. 23, 1969), coefficients as published in Netlib SPECFUN.

const SQRT_PI_INV = 5.6418958354775628695e-1;
const X_SMALL = 1.11e-16;
const X_BIG = 26.543;

const A = [3.1611237438705656, 1.13864154151050156e2, 3.77485237685302021e2, 3.20937758913846947e3, 1.85777706184603153e-1];
const B = [2.36012909523441209e1, 2.44024637934444173e2, 1.28261652607737228e3, 2.84423683343917062e3];
const C = [
  5.64188496988670089e-1, 8.88314979438837594, 6.61191906371416295e1, 2.98635138197400131e2, 8.8195222124176909e2,
  1.71204761263407058e3, 2.05107837782607147e3, 1.23033935479799725e3, 2.15311535474403846e-8,
];
const D = [
  1.57449261107098347e1, 1.17693950891312499e2, 5.37181101862009858e2, 1.62138957456669019e3, 3.29079923573345963e3,
  4.36261909014324716e3, 3.43936767414372164e3, 1.23033935480374942e3,
];
const P = [3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1, 1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2];
const Q = [2.56852019228982242, 1.87295284992346047, 5.27905102951428412e-1, 6.05183413124413191e-2, 2.33520497626869185e-3];

/** erf(x) for |x| <= 0.46875. */
function erfSmall(x: number): number {
  const ysq = Math.abs(x) > X_SMALL ? x * x : 0;
  let num = A[4]! * ysq;
  let den = ysq;
  for (let i = 0; i < 3; i++) {
    num = (num + A[i]!) * ysq;
    den = (den + B[i]!) * ysq;
  }
  return (x * (num + A[3]!)) / (den + B[3]!);
}

/** erfc(y) for y > 0.46875. exp(-y²) is split as exp(-r²)·exp(-(y-r)(y+r)), r = y rounded down to 1/16, to keep y² exact. */
function erfcLarge(y: number): number {
  let result: number;
  if (y <= 4) {
    let num = C[8]! * y;
    let den = y;
    for (let i = 0; i < 7; i++) {
      num = (num + C[i]!) * y;
      den = (den + D[i]!) * y;
    }
    result = (num + C[7]!) / (den + D[7]!);
  } else {
    if (y >= X_BIG) return 0;
    const ysq = 1 / (y * y);
    let num = P[5]! * ysq;
    let den = ysq;
    for (let i = 0; i < 4; i++) {
      num = (num + P[i]!) * ysq;
      den = (den + Q[i]!) * ysq;
    }
    result = (SQRT_PI_INV - (ysq * (num + P[4]!)) / (den + Q[4]!)) / y;
  }
  const r = Math.trunc(y * 16) / 16;
  const del = (y - r) * (y + r);
  return Math.exp(-r * r) * Math.exp(-del) * result;
}

export function erf(x: number): number {
  const y = Math.abs(x);
  if (y <= 0.46875) return erfSmall(x);
  if (Number.isNaN(x)) return NaN;
  const e = 1 - erfcLarge(y);
  return x < 0 ? -e : e;
}

export function erfc(x: number): number {
  const y = Math.abs(x);
  if (y <= 0.46875) return 1 - erfSmall(x);
  if (Number.isNaN(x)) return NaN;
  const c = erfcLarge(y);
  return x < 0 ? 2 - c : c;
}
