// /roam/peer/1.0.0: mutual membership proof, then the two machine records.
//   dialer   → {t:'prove', nonce, proof: HMAC(secret, household‖dialer‖listener‖nonce)}
//   listener → {t:'proved', proof: HMAC(secret, household‖listener‖dialer‖nonce), record}   (or abort)
//   dialer   → {t:'record', record}                                                         (or abort)
// The dialer speaks first, so a non-member gets nothing at all: the listener
// aborts the stream on a bad proof before writing a byte. A proof cannot be
// replayed by anyone else: it is bound to the dialer's peer id, which Noise
// authenticated for this connection, and to the listener's. The listener's
// answer covers the dialer's fresh nonce, so it proves a live member. A record
// is sent only to a side that has proved itself. Next to each record travels
// `web`, where the machine's web page listens (node/web/member-web.ts): opaque
// here, checked by the receiver, and absent from an older roamd.
import { checkProof, membershipProof, newNonce } from './proof.js';
import { JsonWire, WireError, str, type WireStream } from './wire.js';
import { parseRecord, type MachineRecord } from '../../discovery/index.js';

export interface ExchangeContext {
  self: string;
  householdId: string;
  secret: Buffer;
  record: () => MachineRecord;
  /** Where this machine's web page listens, sent beside the record; and what to do with the peer's (unchecked). */
  web?: { mine: () => unknown; heard: (peerId: string, raw: unknown) => void };
}

export class NotAMember extends Error {}

/** Listener side. Returns the dialer's record once both sides are proven; throws NotAMember on a bad proof. */
export async function answerExchange(stream: WireStream, remote: string, ctx: ExchangeContext): Promise<MachineRecord> {
  const wire = new JsonWire(stream);
  const prove = await wire.read();
  if (!prove || prove.t !== 'prove') throw new NotAMember('it did not open with a membership proof');
  const nonce = str(prove, 'nonce', 100);
  if (!checkProof(ctx.secret, ctx.householdId, remote, ctx.self, nonce, prove.proof)) {
    throw new NotAMember('it could not prove membership of this household');
  }
  await wire.write({ t: 'proved', proof: membershipProof(ctx.secret, ctx.householdId, ctx.self, remote, nonce), record: ctx.record(), ...webOf(ctx) });
  const rec = await wire.read();
  if (!rec || rec.t !== 'record') throw new WireError('expected the peer record');
  const record = parseRecord(rec.record);
  ctx.web?.heard(remote, rec.web);
  await wire.close();
  return record;
}

/** Dialer side. Returns the listener's record; throws NotAMember when either side's proof fails. */
export async function startExchange(stream: WireStream, remote: string, ctx: ExchangeContext): Promise<MachineRecord> {
  const wire = new JsonWire(stream);
  const nonce = newNonce();
  await wire.write({ t: 'prove', nonce, proof: membershipProof(ctx.secret, ctx.householdId, ctx.self, remote, nonce) });
  let answer: Record<string, unknown> | null;
  try { answer = await wire.read(); } catch (e) {
    throw new NotAMember(`it refused this machine's membership proof (${(e as Error).message})`);
  }
  if (!answer) throw new NotAMember('it refused this machine\'s membership proof');
  if (answer.t !== 'proved' || !checkProof(ctx.secret, ctx.householdId, remote, ctx.self, nonce, answer.proof)) {
    stream.abort(new NotAMember('bad membership proof'));
    throw new NotAMember('it could not prove membership of this household');
  }
  const record = parseRecord(answer.record);
  ctx.web?.heard(remote, answer.web);
  await wire.write({ t: 'record', record: ctx.record(), ...webOf(ctx) });
  await wire.close();
  return record;
}

function webOf(ctx: ExchangeContext): { web?: unknown } {
  return ctx.web ? { web: ctx.web.mine() } : {};
}
