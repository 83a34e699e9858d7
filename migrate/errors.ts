// Errors that say which phase failed and why.

export type Phase = 'connect' | 'hello' | 'precopy' | 'stop-and-copy' | 'ready' | 'commit' | 'status' | 'receive';

/** The peer broke the protocol (malformed, oversized, out-of-order or out-of-range frame). */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

export class MigrationError extends Error {
  override readonly name = 'MigrationError';
  constructor(readonly phase: Phase, message: string, override readonly cause?: unknown, readonly vmState: 'running-here' | 'paused-here' | 'moved' | 'discarded' = 'running-here') {
    super(`migration failed in ${phase}: ${message}${cause instanceof Error && !message.includes(cause.message) ? ` (${cause.message})` : ''}`);
  }
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
