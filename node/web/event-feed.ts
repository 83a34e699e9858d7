// The dashboard's live feed: Server-Sent Events (text/event-stream) to every
// signed-in page. Events: `household` (the whole HouseholdView, when it
// changed) and `migration` (one MigrationView, on each progress event). The
// page only listens, so nothing it could send needs parsing.
import type { ServerResponse } from 'node:http';

const MAX_CLIENTS = 64;
const KEEPALIVE_MS = 15_000;
/** A page that reads slower than this much pending output is dropped (it reconnects and gets the whole state). */
const MAX_PENDING_BYTES = 4 * 1024 * 1024;

export class EventFeed {
  private readonly clients = new Set<ServerResponse>();
  private readonly keepalive: NodeJS.Timeout;

  constructor() {
    this.keepalive = setInterval(() => { for (const c of this.clients) c.write(': keepalive\n\n'); }, KEEPALIVE_MS);
    this.keepalive.unref();
  }

  get size(): number { return this.clients.size; }

  /** Takes over a response as an event stream; `first` are the events it starts with. Returns false when full. */
  add(res: ServerResponse, first: { event: string; data: unknown }[]): boolean {
    if (this.clients.size >= MAX_CLIENTS) return false;
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
    res.write('retry: 2000\n\n');
    for (const e of first) res.write(format(e.event, e.data));
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
    return true;
  }

  broadcast(event: string, data: unknown): void {
    const text = format(event, data);
    for (const c of this.clients) {
      if (c.writableLength > MAX_PENDING_BYTES) { c.destroy(); this.clients.delete(c); continue; }
      c.write(text);
    }
  }

  close(): void {
    clearInterval(this.keepalive);
    for (const c of this.clients) c.destroy();
    this.clients.clear();
  }
}

function format(event: string, data: unknown): string {
  // JSON has no raw newlines, so one data line carries the whole event.
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
