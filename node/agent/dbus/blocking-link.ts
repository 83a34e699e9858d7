// One D-Bus method call that returns a file descriptor, made over a short-
// lived connection of its own through the addon's unixFdSocket (SCM_RIGHTS,
// which Node's net module cannot receive). It blocks the event loop for at
// most `timeoutMs` in all; roamd makes this call once per lid watch, before
// any hand-off. The descriptor outlives the connection: closing the
// connection afterwards keeps the descriptor (and logind's lock) alive.
import { closeSync } from 'node:fs';
import { loadNative } from '../../../native/index.js';
import { MAX_AUTH_LINE, authLine, socketPathOf } from './address.js';
import { DBusError, type CallSpec } from './connection.js';
import { MsgType, encodeMessage, splitMessages, type DBusMessage } from './message.js';

interface UnixFdSocketApi {
  connect(path: string, timeoutMs: number): number;
  send(fd: number, bytes: Uint8Array, timeoutMs: number): void;
  recv(fd: number, maxBytes: number, timeoutMs: number): { data: Buffer; fds: number[] };
  close(fd: number): void;
}

function api(): UnixFdSocketApi {
  const addon = loadNative() as unknown as { unixFdSocket?: UnixFdSocketApi };
  if (!addon.unixFdSocket) throw new Error('the native addon has no unixFdSocket (it predates the lid watcher): rebuild it with `npm run build`');
  return addon.unixFdSocket;
}

export interface FdReply { reply: DBusMessage; fds: number[] }

/** Calls `spec` and returns the reply with the descriptors it carried (the caller owns them). */
export function callReturningFds(address: string, spec: CallSpec, timeoutMs = 5_000): FdReply {
  const u = api();
  const end = Date.now() + timeoutMs;
  const left = () => { const ms = end - Date.now(); if (ms <= 0) throw new Error(`${spec.interface}.${spec.member} did not answer within ${timeoutMs} ms`); return Math.min(ms, 60_000); };
  const sock = u.connect(socketPathOf(address), left());
  const received: number[] = [];
  let buf: Buffer = Buffer.alloc(0);
  const pull = () => {
    const { data, fds } = u.recv(sock, 65536, left());
    received.push(...fds);
    if (data.length === 0) throw new Error('the bus closed the connection');
    buf = buf.length ? Buffer.concat([buf, data]) : data;
  };
  const line = (): string => {
    for (;;) {
      const i = buf.indexOf('\r\n');
      if (i >= 0) { const l = buf.subarray(0, i).toString('latin1'); buf = buf.subarray(i + 2); return l; }
      if (buf.length > MAX_AUTH_LINE) throw new Error('the bus sent an over-long authentication line');
      pull();
    }
  };
  /** Messages in arrival order, each with the descriptors that belong to it. */
  const inbox: FdReply[] = [];
  const nextReply = (serial: number): FdReply => {
    for (;;) {
      const { messages, rest } = splitMessages(buf);
      buf = rest;
      for (const m of messages) {
        if (m.unixFds > received.length) throw new Error('a message announced more descriptors than arrived');
        inbox.push({ reply: m, fds: received.splice(0, m.unixFds) });
      }
      const k = inbox.findIndex((x) => x.reply.replySerial === serial);
      if (k >= 0) {
        const [hit] = inbox.splice(k, 1);
        for (const other of inbox.splice(0)) for (const fd of other.fds) closeSync(fd);
        return hit!;
      }
      pull();
    }
  };
  try {
    u.send(sock, Buffer.from(authLine(), 'latin1'), left());
    const ok = line();
    if (!ok.startsWith('OK ')) throw new Error(`the bus refused authentication: ${ok.slice(0, 120)}`);
    u.send(sock, Buffer.from('NEGOTIATE_UNIX_FD\r\n', 'latin1'), left());
    const agree = line();
    if (agree !== 'AGREE_UNIX_FD') throw new Error(`the bus cannot pass file descriptors: ${agree.slice(0, 120)}`);
    u.send(sock, Buffer.from('BEGIN\r\n', 'latin1'), left());
    u.send(sock, encodeMessage({ type: MsgType.MethodCall, flags: 0, serial: 1, destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'Hello', signature: '', body: [] }), left());
    nextReply(1);
    u.send(sock, encodeMessage({
      type: MsgType.MethodCall, flags: 0, serial: 2, destination: spec.destination, path: spec.path, interface: spec.interface,
      member: spec.member, signature: spec.signature ?? '', body: spec.body ?? [],
    }), left());
    const got = nextReply(2);
    if (got.reply.type === MsgType.Error) {
      for (const fd of got.fds) closeSync(fd);
      const m = got.reply;
      throw new DBusError(m.errorName ?? 'unknown', typeof m.body[0] === 'string' ? m.body[0] : m.errorName ?? 'D-Bus error');
    }
    return got;
  } finally {
    for (const fd of received) closeSync(fd);
    u.close(sock);
  }
}
