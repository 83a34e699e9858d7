// Tests that need KVM (or root, or network namespaces) skip on a developer's
// machine without it, but FAIL under CI=true: a silent skip would hide a broken core.
import { accessSync, constants } from 'node:fs';

export function kvmProblem(): string | undefined {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return undefined;
  } catch (e) {
    return `/dev/kvm is not usable (${(e as NodeJS.ErrnoException).code}): these tests need KVM`;
  }
}

/** Call from a mocha before()/it(): skips, or fails under CI=true, when KVM is missing. */
export function requireKvm(ctx: Mocha.Context): void {
  const problem = kvmProblem();
  if (!problem) return;
  if (process.env.CI === 'true') throw new Error(`${problem} (CI=true: failing instead of skipping)`);
  ctx.skip();
}

export function requireRoot(ctx: Mocha.Context, what: string): void {
  if (process.getuid?.() === 0) return;
  if (process.env.CI === 'true') throw new Error(`${what} needs root (CI=true: failing instead of skipping)`);
  ctx.skip();
}
