// T5's relative-position bucket as HF transformers computes it (T5Attention._relative_position_bucket),
// for one relative position in float64: the tests' independent reference for t5_bucket.

/** HF's bucket of `relative` = key position - query position (buckets 32, max_distance 128 in T5). */
export function hfBucket(relative: number, bidirectional: boolean, numBuckets = 32, maxDistance = 128): number {
  let buckets = 0, n = relative;
  if (bidirectional) {
    numBuckets = Math.floor(numBuckets / 2);
    buckets += relative > 0 ? numBuckets : 0;
    n = Math.abs(n);
  } else n = -Math.min(n, 0);
  const maxExact = Math.floor(numBuckets / 2);
  if (n < maxExact) return buckets + n;
  const large = maxExact + Math.trunc((Math.log(n / maxExact) / Math.log(maxDistance / maxExact)) * (numBuckets - maxExact));
  return buckets + Math.min(large, numBuckets - 1);
}
