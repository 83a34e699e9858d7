// Invite codes: `roam1-` + base64url(JSON { h: household id, p: inviter peer id,
// a: inviter addresses, t: one-time token }). Decoding is bounded and checks
// every field, because a code is typed (or pasted) by a person.
export interface InviteCode {
  householdId: string;
  inviter: string;
  addrs: string[];
  token: string;
}

const PREFIX = 'roam1-';
const MAX_CODE = 4096;

export function encodeInvite(c: InviteCode): string {
  const json = JSON.stringify({ h: c.householdId, p: c.inviter, a: c.addrs, t: c.token });
  return PREFIX + Buffer.from(json, 'utf8').toString('base64url');
}

export class BadInviteCode extends Error {}

export function decodeInvite(code: string): InviteCode {
  const text = code.trim();
  const bad = (why: string) => new BadInviteCode(`this is not a valid roam invite code (${why}); ask a household member to run \`roam invite\` and copy the whole code`);
  if (text.length > MAX_CODE) throw bad('too long');
  if (!text.startsWith(PREFIX)) throw bad(`it does not start with '${PREFIX}'`);
  let v: unknown;
  try { v = JSON.parse(Buffer.from(text.slice(PREFIX.length), 'base64url').toString('utf8')); } catch { throw bad('it is damaged'); }
  const o = v as Record<string, unknown>;
  if (!o || typeof o !== 'object') throw bad('it is damaged');
  const isStr = (x: unknown, max: number): x is string => typeof x === 'string' && x.length > 0 && x.length <= max;
  if (!isStr(o.h, 100) || !isStr(o.p, 200) || !isStr(o.t, 100)) throw bad('a field is missing');
  if (!Array.isArray(o.a) || o.a.length === 0 || o.a.length > 32 || !o.a.every((a) => isStr(a, 300))) throw bad('it has no inviter address');
  return { householdId: o.h, inviter: o.p, addrs: o.a as string[], token: o.t };
}
