// Chromium for the browser tests: Debian's own /usr/bin/chromium driven by
// playwright-core (which downloads nothing). A test that needs it skips on a
// developer's machine without it but FAILS under CI=true, like KVM and netns.
import { accessSync, chmodSync, constants, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = process.env.ROAM_CHROMIUM ?? '/usr/bin/chromium';

export function chromiumProblem(): string | undefined {
  try {
    accessSync(CHROMIUM_PATH, constants.X_OK);
    return undefined;
  } catch (e) {
    return `${CHROMIUM_PATH} is not there (${(e as NodeJS.ErrnoException).code}): the browser tests need Debian's chromium package`;
  }
}

export function requireChromium(ctx: Mocha.Context): void {
  const problem = chromiumProblem();
  if (!problem) return;
  if (process.env.CI === 'true') throw new Error(`${problem} (CI=true: failing instead of skipping)`);
  ctx.skip();
}

/** Flags for a headless browser on a shared, offline test machine (no GPU, no phoning home, root without a sandbox). */
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage',
  '--disable-component-update', '--no-first-run'];

/**
 * Launches Chromium. With `netns`, the browser runs inside that network namespace (a household machine of
 * the test), so its "localhost" is that machine's roamd — the way a person's browser sits on their laptop.
 * playwright talks to it over a pipe, which the `ip netns exec` wrapper passes through.
 */
export async function launchChromium(scratchDir: string, netns?: string): Promise<Browser> {
  let executablePath = CHROMIUM_PATH;
  if (netns) {
    executablePath = join(scratchDir, `chromium-in-${netns}`);
    writeFileSync(executablePath, `#!/bin/sh\nexec ip netns exec '${netns}' '${CHROMIUM_PATH}' "$@"\n`);
    chmodSync(executablePath, 0o755);
  }
  return chromium.launch({ executablePath, args: FLAGS, timeout: 60_000 });
}
