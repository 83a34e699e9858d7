// Robust summaries of repeated measurements. The machines are shared and
// noisy, so figures are medians with their spread, never means.

export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
  /** First and third quartiles (linear interpolation between order statistics). */
  q1: number;
  q3: number;
}

/** The p-quantile (0..1) of an ascending-sorted, non-empty array, interpolating linearly. */
export function quantileSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new Error('quantile of no samples');
  if (!(p >= 0 && p <= 1)) throw new Error(`quantile ${p} is outside 0..1`);
  const pos = (sorted.length - 1) * p;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Median, quartiles and range of the finite samples; null when there are none. */
export function summarize(samples: readonly number[]): Summary | null {
  const sorted = samples.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  return {
    n: sorted.length,
    median: quantileSorted(sorted, 0.5),
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
    q1: quantileSorted(sorted, 0.25),
    q3: quantileSorted(sorted, 0.75),
  };
}

/** roam ÷ baseline of the medians; null when either side is missing or the baseline is zero. */
export function ratioOf(roam: Summary | null, baseline: Summary | null): number | null {
  if (!roam || !baseline || baseline.median === 0) return null;
  return roam.median / baseline.median;
}
