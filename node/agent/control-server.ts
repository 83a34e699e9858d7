// roamd's control socket: a unix socket in the state dir (mode 0600), one JSON
// object per line each way. A request is {op, ...args}; the reply is
// {ok:true, result} or {ok:false, error}. A request line over 64 KiB, or one
// that is not a JSON object, gets an error reply and the connection is closed;
// the daemon carries on. Streaming ops (console) send {event, ...} lines until
// the client hangs up.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { chmodSync, existsSync, unlinkSync } from 'node:fs';

export const MAX_REQUEST_BYTES = 64 * 1024;

export type ControlRequest = Record<string, unknown> & { op: string };

/** A handler's way to keep talking to its client (live streams). */
export interface ControlPeer {
  send(line: object): void;
  onClose(fn: () => void): void;
  readonly closed: boolean;
}

export type ControlHandler = (req: ControlRequest, peer: ControlPeer) => Promise<unknown>;

/** A handler returns this to keep the connection for a stream instead of replying once. */
export const STREAMING = Symbol('streaming');

export class ControlError extends Error {}

function alive(path: string): Promise<boolean> {
  return new Promise((res) => {
    const s = connect(path);
    s.once('connect', () => { s.destroy(); res(true); });
    s.once('error', () => res(false));
  });
}

export async function startControlServer(path: string, handle: ControlHandler): Promise<Server> {
  if (existsSync(path)) {
    if (await alive(path)) throw new Error(`another roamd already answers on ${path}; stop it first or use another --state`);
    unlinkSync(path); // left behind by a roamd that died
  }
  const server = createServer((sock) => serveConnection(sock, handle));
  const oldMask = process.umask(0o177); // the socket is born 0600: no window where others could connect
  try {
    await new Promise<void>((res, rej) => { server.once('error', rej); server.listen(path, () => { server.off('error', rej); res(); }); });
  } finally { process.umask(oldMask); }
  chmodSync(path, 0o600);
  return server;
}

function serveConnection(sock: Socket, handle: ControlHandler): void {
  let buf = '';
  let bytes = 0;
  let busy = Promise.resolve();
  const closeFns: (() => void)[] = [];
  let closed = false;
  const peer: ControlPeer = {
    send: (line) => { if (!closed) sock.write(JSON.stringify(line) + '\n'); },
    onClose: (fn) => { closeFns.push(fn); },
    get closed() { return closed; },
  };
  const finish = () => { if (closed) return; closed = true; for (const f of closeFns) { try { f(); } catch { /* ignore */ } } };
  sock.on('close', finish);
  sock.on('error', finish);
  const refuse = (error: string) => { peer.send({ ok: false, error }); closed = true; sock.end(); for (const f of closeFns) f(); };

  sock.setEncoding('utf8');
  sock.on('data', (chunk: string) => {
    if (closed) return;
    buf += chunk; bytes += Buffer.byteLength(chunk);
    for (;;) {
      const nl = buf.indexOf('\n');
      if (nl < 0) break;
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1); bytes = Buffer.byteLength(buf);
      if (Buffer.byteLength(line) > MAX_REQUEST_BYTES) return refuse(`request is over ${MAX_REQUEST_BYTES} bytes; closing`);
      let req: unknown;
      try { req = JSON.parse(line); } catch { return refuse('request is not JSON; send one JSON object per line, like {"op":"status"}'); }
      if (!req || typeof req !== 'object' || Array.isArray(req) || typeof (req as ControlRequest).op !== 'string') {
        return refuse('request must be a JSON object with an "op" string');
      }
      busy = busy.then(async () => {
        try {
          const result = await handle(req as ControlRequest, peer);
          if (result !== STREAMING) peer.send({ ok: true, result: result ?? null });
        } catch (e) {
          peer.send({ ok: false, error: (e as Error).message });
        }
      });
    }
    if (bytes > MAX_REQUEST_BYTES) refuse(`request is over ${MAX_REQUEST_BYTES} bytes; closing`);
  });
}
