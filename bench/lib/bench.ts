// What a benchmark module exports, and the options every one of them takes.
import type { BenchReport } from './report.js';

export interface BenchOptions {
  /** Fewer sizes and runs: minutes on a shared 2-core machine. */
  quick: boolean;
  /** Progress lines (stderr). */
  log: (msg: string) => void;
  /** Scratch folder for large temporary files (git-ignored). */
  scratchDir: string;
  /** A long benchmark hands its report so far (marked `partial`) after each part, so an interrupted run keeps what it measured. */
  checkpoint(report: BenchReport): void;
}

export interface Benchmark {
  name: string;
  description: string;
  run(opts: BenchOptions): Promise<BenchReport>;
}
