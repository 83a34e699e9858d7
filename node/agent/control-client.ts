// The CLI's side of the control socket: one request, one reply (or a stream of
// event lines). A roamd that is not there is a clear message, not a stack.
import { connect, type Socket } from 'node:net';
import { agentPaths } from './paths.js';

export class NotRunning extends Error {
  constructor(stateDir: string) {
    super(`roamd is not running (state dir ${stateDir}); start it with \`roam daemon${stateDir === agentPaths().state ? '' : ` --state ${stateDir}`}\``);
  }
}

export class RemoteError extends Error {}

function open(stateDir: string): Promise<Socket> {
  const path = agentPaths(stateDir).socket;
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.once('connect', () => { s.off('error', reject); resolve(s); });
    s.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') reject(new NotRunning(stateDir));
      else if (e.code === 'EACCES') reject(new Error(`cannot open ${path}: permission denied (roamd's socket belongs to another user)`));
      else reject(e);
    });
  });
}

function lines(s: Socket, onLine: (v: Record<string, unknown>) => boolean | void): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl); buf = buf.slice(nl + 1);
        let v: Record<string, unknown>;
        try { v = JSON.parse(line); } catch { reject(new Error('roamd sent a line that is not JSON')); s.destroy(); return; }
        if (onLine(v) === true) { s.end(); resolve(); return; }
      }
    });
    s.on('close', () => resolve());
    s.on('error', reject);
  });
}

/**
 * Sends one request to the roamd of `stateDir` and returns its result; a refusal
 * becomes a RemoteError. Event lines before the reply (progress) go to `onEvent`.
 */
export async function call(stateDir: string, op: string, args: Record<string, unknown> = {},
  onEvent?: (v: Record<string, unknown>) => void): Promise<unknown> {
  const s = await open(stateDir);
  let reply: Record<string, unknown> | undefined;
  s.write(JSON.stringify({ ...args, op }) + '\n');
  await lines(s, (v) => {
    if (!('ok' in v)) { onEvent?.(v); return false; }
    reply = v; return true;
  });
  if (!reply) throw new Error('roamd closed the connection without answering (see its log)');
  if (reply.ok !== true) throw new RemoteError(String(reply.error ?? 'roamd refused the request'));
  return reply.result;
}

/** Streams event lines of a long request until the caller's `stop` fires or roamd ends the stream. */
export async function stream(stateDir: string, op: string, args: Record<string, unknown>,
  onEvent: (v: Record<string, unknown>) => void, stop: Promise<void>): Promise<void> {
  const s = await open(stateDir);
  s.write(JSON.stringify({ ...args, op }) + '\n');
  let failure: Error | undefined;
  void stop.then(() => s.end());
  await lines(s, (v) => {
    if (v.ok === false) { failure = new RemoteError(String(v.error)); return true; }
    if (v.ok === true) return true;
    onEvent(v);
    return false;
  });
  if (failure) throw failure;
}
