// The listening side of /roam/migrations/1.0.0 (roamd checked membership
// first): each member may post a few notifications per second (a token bucket
// per member; the publisher sends at most 4 per second per migration), each is
// checked whole before the board sees any of it, and it must be about a
// migration that member sends. Anything else resets the stream and changes
// nothing on the board.
import type { WireStream } from '../agent/wire.js';
import type { MigrationBoard } from './migration-board.js';
import { receiveNews } from './migration-news.js';

const BURST = 20;
const REFILL_PER_SECOND = 10;
/** Members whose buckets are kept (a household is a handful of machines; this only bounds the map). */
const MAX_BUCKETS = 256;

export class NewsInbox {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly board: MigrationBoard, private readonly now: () => number = Date.now) {}

  /**
   * Serves one stream from member `peerId`, known here as `senderName`. Resolves with what
   * became of the notification; throws (after resetting the stream) when it was refused.
   */
  async accept(stream: WireStream, peerId: string, senderName: string): Promise<'applied' | 'ignored'> {
    try {
      if (!this.take(peerId)) throw new Error('too many migration notifications; slow down');
      const news = await receiveNews(stream);
      if (news.from !== senderName) throw new Error(`a member may only report migrations it sends (this one is from '${news.from}')`);
      return this.board.applyNews(news, peerId);
    } catch (e) {
      stream.abort(e as Error);
      throw e;
    }
  }

  private take(peerId: string): boolean {
    const t = this.now();
    let b = this.buckets.get(peerId);
    if (!b) {
      if (this.buckets.size >= MAX_BUCKETS) this.buckets.delete(this.buckets.keys().next().value!);
      b = { tokens: BURST, at: t };
      this.buckets.set(peerId, b);
    }
    b.tokens = Math.min(BURST, b.tokens + ((t - b.at) / 1000) * REFILL_PER_SECOND);
    b.at = t;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}
