// What a migration reports while it runs, and when it is done.

export interface Progress {
  side: 'source' | 'destination';
  phase: 'hello' | 'precopy' | 'stop-and-copy' | 'commit' | 'done';
  round: number;
  bytesSent: number;           // wire bytes so far (destination: received)
  pagesLeft: number;           // pages dirty / still to send (destination: unknown → 0)
  bandwidthBytesPerSec: number;
  predictedDowntimeMs: number;
  /** Never increases from one event to the next. */
  etaMs: number;
  throttle: number;
}

export interface MigrationStats {
  totalMs: number;
  /** Source view: pause → `running` received. */
  downtimeMs: number;
  rounds: number;
  wireBytes: number;
  memoryBytes: number;
  dataPagesSent: number;
  zeroPagesSent: number;
  /** Bytes not sent because pages were zero. */
  zeroBytesSaved: number;
  /** Raw page bytes ÷ payload bytes (1 = no gain). */
  compressionRatio: number;
  maxThrottle: number;
  /** Return trip: pages the kept image saved from being sent (0 when no kept image was used). */
  returnTripPagesReused: number;
  returnTrip: boolean;
  /** Pages sent in each round (round 0 first, stop-and-copy last). */
  pagesSentPerRound: number[];
  /** Dirty pages found after each pre-copy round (to see convergence). */
  dirtyPagesPerRound: number[];
}
