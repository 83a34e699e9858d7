// The probe guest for tests that boot it in-process: its binary (built by `make -C guest`, which the
// project's build runs), and polling for what it prints. A missing binary skips on a developer's machine
// but FAILS under CI=true, like KVM.
import { existsSync, readFileSync } from 'node:fs';
import { probeGuestPath } from '../../guest/index.js';

export function requireProbe(ctx: Mocha.Context): Buffer {
  const path = probeGuestPath();
  if (existsSync(path)) return readFileSync(path);
  if (process.env.CI === 'true') throw new Error(`${path} is missing: build the probe guest (make -C guest)`);
  ctx.skip();
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `cond` holds; the limit only guards against a hung guest (not a timing assertion). */
export async function waitUntil(what: string, cond: () => boolean, limitMs = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > limitMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
