// One server-side WebSocket over an upgraded socket: reassembled messages in,
// frames out, ping answered with pong, the closing handshake, and a send that
// waits for the socket to drain so a slow browser never builds a backlog here.
// A protocol violation closes this connection (with the decoder's close code)
// and touches nothing else.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import {
  CLOSE_NORMAL, OP_BINARY, OP_CLOSE, OP_PONG, OP_TEXT, WsDecoder, WsProtocolError, closePayload, encodeFrame,
  serverFrameHeader, type DecoderLimits,
} from './ws-frames.js';

/** How long a closing connection waits for the peer's close frame before it drops the socket. */
const CLOSE_WAIT_MS = 2_000;

export interface WsConnectionEvents {
  text: [string];
  binary: [Buffer];
  close: [{ code: number | null; reason: string }];
}

export class WsConnection extends EventEmitter<WsConnectionEvents> {
  private readonly decoder: WsDecoder;
  private closing = false;
  private ended = false;
  private closeInfo: { code: number | null; reason: string } = { code: null, reason: '' };

  constructor(private readonly socket: Duplex, head: Buffer, limits: DecoderLimits = {}) {
    super();
    this.decoder = new WsDecoder(limits);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', () => this.finish());
    socket.on('close', () => this.finish());
    socket.on('end', () => this.finish());
    if (head.length) queueMicrotask(() => this.onData(head));
  }

  get open(): boolean { return !this.closing && !this.ended; }

  /** Sends a text message; resolves once the socket took it (drained), rejects when the connection is gone. */
  sendText(text: string): Promise<void> {
    return this.write([encodeFrame(OP_TEXT, Buffer.from(text, 'utf8'))]);
  }

  /** Sends a binary message, written as header + payload without copying the payload. */
  sendBinary(data: Uint8Array): Promise<void> {
    return this.write([serverFrameHeader(OP_BINARY, data.length), data]);
  }

  /** Starts the closing handshake; the socket ends when the peer answers or after a short wait. */
  close(code = CLOSE_NORMAL, reason = ''): void {
    if (this.closing || this.ended) return;
    this.closing = true;
    this.closeInfo = { code, reason };
    try { this.socket.write(encodeFrame(OP_CLOSE, closePayload(code, reason))); } catch { /* socket gone */ }
    const t = setTimeout(() => this.socket.destroy(), CLOSE_WAIT_MS);
    t.unref();
    this.socket.once('close', () => clearTimeout(t));
  }

  private write(parts: Uint8Array[]): Promise<void> {
    if (!this.open) return Promise.reject(new Error('the WebSocket is closed'));
    let ok = true;
    for (const p of parts) ok = this.socket.write(p);
    if (ok) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => { this.socket.off('drain', done); this.off('close', gone); resolve(); };
      const gone = () => { this.socket.off('drain', done); reject(new Error('the WebSocket closed before the message drained')); };
      this.socket.on('drain', done);
      this.once('close', gone);
    });
  }

  private onData(d: Buffer): void {
    if (this.ended) return;
    let events;
    try {
      events = this.decoder.push(d);
    } catch (e) {
      const code = e instanceof WsProtocolError ? e.code : 1011;
      this.close(code, (e as Error).message);
      // Nothing more from this peer is read: a bad frame ends the conversation.
      this.socket.removeAllListeners('data');
      this.socket.resume();
      return;
    }
    for (const ev of events) {
      switch (ev.kind) {
        case 'text': if (this.open) this.emit('text', ev.text); break;
        case 'binary': if (this.open) this.emit('binary', ev.data); break;
        case 'ping': if (this.open) this.socket.write(encodeFrame(OP_PONG, ev.data)); break;
        case 'pong': break;
        case 'close':
          if (!this.closing) {
            // Echo the code (RFC 6455 5.5.1), then end: the client closes its side after reading it.
            this.closing = true;
            this.closeInfo = { code: ev.code, reason: ev.reason };
            this.socket.end(encodeFrame(OP_CLOSE, ev.code === null ? Buffer.alloc(0) : closePayload(ev.code)));
          } else {
            this.socket.end();
          }
          break;
      }
    }
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.closing = true;
    this.socket.destroy();
    this.emit('close', this.closeInfo);
  }
}

