// /roam/join/1.0.0: a machine redeems a one-time invite token and receives the
// household (id, name, secret) and the member list. The joiner's peer id is the
// one Noise authenticated on this connection, so the inviter records exactly
// the machine that spent the token.
import { JsonWire, WireError, str, type WireStream } from './wire.js';
import type { HouseholdInfo, Member } from './household.js';

export interface JoinGrant { household: HouseholdInfo; members: Member[] }

/** Joiner side: returns the grant, or throws the inviter's reason as an Error. */
export async function requestJoin(stream: WireStream, token: string, name: string): Promise<JoinGrant> {
  const wire = new JsonWire(stream);
  await wire.write({ t: 'join', token, name });
  const r = await wire.read(15_000);
  await wire.close();
  if (!r) throw new Error('the inviting machine closed the connection without an answer');
  if (r.ok !== true) throw new Error(typeof r.error === 'string' ? r.error.slice(0, 500) : 'the inviting machine refused the join');
  const h = r.household as Record<string, unknown>;
  if (!h || typeof h !== 'object') throw new WireError('join answer without a household');
  const household: HouseholdInfo = { id: str(h, 'id', 100), name: str(h, 'name', 64), secret: str(h, 'secret', 100), createdAt: str(h, 'createdAt', 64) };
  if (!Array.isArray(r.members) || r.members.length > 1024) throw new WireError('join answer with a bad member list');
  const members = (r.members as unknown[]).map((x) => {
    const m = x as Record<string, unknown>;
    const addrs = Array.isArray(m.addrs) ? m.addrs.filter((a): a is string => typeof a === 'string' && a.length < 300).slice(0, 32) : [];
    return { peerId: str(m, 'peerId', 200), name: str(m, 'name', 64), addrs, since: new Date().toISOString() };
  });
  return { household, members };
}

/** Inviter side: reads the request and lets `decide` answer (it throws a user-facing reason to refuse). */
export async function answerJoin(stream: WireStream, decide: (token: string, name: string) => JoinGrant): Promise<void> {
  const wire = new JsonWire(stream, 4096);
  const m = await wire.read();
  if (!m || m.t !== 'join') throw new WireError('expected a join request');
  let reply: object;
  try {
    reply = { ok: true, ...decide(str(m, 'token', 100), str(m, 'name', 64)) };
  } catch (e) {
    reply = { ok: false, error: (e as Error).message };
  }
  await wire.write(reply);
  await wire.close();
}
