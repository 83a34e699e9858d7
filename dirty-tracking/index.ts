// dirty-tracking: page bitmaps, zero-page scans, page fingerprints, dirty-rate estimation, and the
// round-planning arithmetic that live migration converges with.
export { DirtyBitmap, PAGE_SIZE, PAGE_SHIFT, popcount32 } from './bitmap.js';
export { isZeroPage, isZeroPageU64, scanZeroPages } from './zero-scan.js';
export { pageFingerprint, FINGERPRINT_BYTES } from './page-fingerprint.js';
export { Ewma, DirtyRateEstimator, BandwidthMeter } from './dirty-rate.js';
export { SinceArrival, type SlotPages } from './since-arrival.js';
export { predictDowntimeMs, hasConverged, nextThrottle, deadlinePresses, THROTTLE_STEPS, MonotoneEta } from './planning.js';
