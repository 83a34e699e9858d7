// Dirty-rate and bandwidth estimation. Both are noisy per round (a round can be a
// few ms), so they are smoothed with an exponentially weighted moving average; the
// first sample seeds the average instead of being diluted against zero.

export class Ewma {
  private value: number | undefined;
  constructor(private readonly alpha = 0.5) {
    if (!(alpha > 0 && alpha <= 1)) throw new RangeError(`EWMA alpha must be in (0, 1], got ${alpha}`);
  }
  add(sample: number): number {
    if (!Number.isFinite(sample)) return this.get();
    this.value = this.value === undefined ? sample : this.alpha * sample + (1 - this.alpha) * this.value;
    return this.value;
  }
  get(): number { return this.value ?? 0; }
  has(): boolean { return this.value !== undefined; }
}

/** Pages dirtied per second, estimated from (pages, seconds) observed per round. */
export class DirtyRateEstimator {
  private readonly avg: Ewma;
  constructor(alpha = 0.5) { this.avg = new Ewma(alpha); }
  /** Record that `pages` distinct pages were dirtied over `seconds`; returns the smoothed pages/s. */
  record(pages: number, seconds: number): number {
    if (seconds <= 0) return this.avg.get();
    return this.avg.add(pages / seconds);
  }
  pagesPerSecond(): number { return this.avg.get(); }
}

/** Bytes per second actually moved, estimated from (bytes, seconds) samples. */
export class BandwidthMeter {
  private readonly avg: Ewma;
  private totalBytes = 0;
  private totalSeconds = 0;
  constructor(alpha = 0.5) { this.avg = new Ewma(alpha); }
  record(bytes: number, seconds: number): number {
    if (seconds <= 0 || bytes <= 0) return this.avg.get();
    this.totalBytes += bytes; this.totalSeconds += seconds;
    return this.avg.add(bytes / seconds);
  }
  bytesPerSecond(): number { return this.avg.get(); }
  /** Long-run average, steadier than the EWMA for ETAs. */
  overall(): number { return this.totalSeconds > 0 ? this.totalBytes / this.totalSeconds : 0; }
}
