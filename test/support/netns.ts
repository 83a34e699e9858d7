// Network namespaces for tests: the LAN itself lives in node/demo/lan.ts (the
// demo builds the same household); this adds the mocha rule that a test which
// needs namespaces skips on a developer's machine but FAILS under CI=true.
import { netnsProblem } from '../../node/demo/lan.js';

export { NetnsLan, listNamespaces, netnsProblem } from '../../node/demo/lan.js';

/** Skips (or fails under CI=true) when namespaces are not available. */
export function requireNetns(ctx: Mocha.Context): void {
  const problem = netnsProblem();
  if (!problem) return;
  if (process.env.CI === 'true') throw new Error(`${problem} (CI=true: failing instead of skipping)`);
  ctx.skip();
}
