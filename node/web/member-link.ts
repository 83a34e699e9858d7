// `roam view --on <member>`: a sign-in link to another member's web page. The
// token is minted here under the household viewer key (every member derives
// the same one from the household secret), so that member's page accepts it;
// the address is the one that member said its page listens on, else its LAN
// address from the peer directory. Each way it cannot work has its own error.
import type { PeerEntry } from '../../discovery/index.js';
import type { Roamd } from '../agent/daemon.js';
import { householdViewerKey, mintToken } from './viewer-token.js';
import { urlHost, type WebAdvert } from './member-web.js';

export function memberLoginUrl(r: Roamd, target: PeerEntry, advert: WebAdvert | undefined, next: string): { url: string; expiresAt: number; base: string } {
  const label = target.name ?? target.peerId;
  const secret = r.household.secret, id = r.household.id;
  if (!secret || !id) throw new Error('this machine is in no household, so no other machine\'s page accepts its links');
  if (target.presence !== 'online') {
    const seen = target.lastSeen ? `last seen ${new Date(target.lastSeen).toISOString()}` : 'never seen online';
    throw new Error(`${label} is ${target.presence} (${seen}); its web page cannot be reached now`);
  }
  if (!advert) throw new Error(`${label} has not said where its web page listens (its roamd is older than this one, or has not exchanged records with this machine yet)`);
  if (advert.port === null) throw new Error(`${label} serves no web page (its roamd runs with --web off, or its page could not start: \`roam status\` there says why)`);
  if (!advert.lan) {
    throw new Error(`${label}'s web page listens on its loopback address only, so only a browser on ${label} can open it ` +
      `(\`roam view\` there); to open it from other machines, restart its roamd with --web 0.0.0.0:${advert.port} or --web <its LAN address>:${advert.port}`);
  }
  const host = urlHost(advert, target.addrs);
  if (!host) throw new Error(`no LAN address of ${label} is known (see \`roam peers\`)`);
  const base = `http://${host}:${advert.port}`;
  const { token, expiresAt } = mintToken(householdViewerKey(secret, id));
  return { url: `${base}/login?token=${encodeURIComponent(token)}&next=${encodeURIComponent(next)}`, expiresAt, base };
}
