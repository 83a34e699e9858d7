// Where a member's web page listens, as it tells the other members beside its
// record in the membership exchange: {port, lan, host}. `lan` says whether a
// browser on another machine can reach it (bound wider than loopback); `host`
// is the address it is bound to when that is one address (null for 0.0.0.0 or
// ::, when the member's LAN address from the directory is the way to it);
// `port` is null when its page is off. With it, `roam view --on <member>` on
// any member prints a sign-in link to THAT member's page: the token is minted
// under the household viewer key, which every member derives alike.
import { isIP } from 'node:net';

export interface WebAdvert { port: number | null; lan: boolean; host: string | null }

const HOSTNAME = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** What this machine says about its page: listening on `bound` (host and port), or off (null). */
export function advertOf(bound: { host: string; port: number } | null): WebAdvert {
  if (!bound) return { port: null, lan: false, host: null };
  const wildcard = bound.host === '0.0.0.0' || bound.host === '::';
  return { port: bound.port, lan: !isLoopbackHost(bound.host), host: wildcard ? null : bound.host };
}

/** A member's advert as it came over the wire: checked field by field; throws naming the bad one. */
export function parseAdvert(v: unknown): WebAdvert {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('web: not an object');
  const o = v as Record<string, unknown>;
  if (!(o.port === null || (typeof o.port === 'number' && Number.isInteger(o.port) && o.port >= 1 && o.port <= 65535))) throw new Error("web: bad 'port'");
  if (typeof o.lan !== 'boolean') throw new Error("web: bad 'lan'");
  if (!(o.host === null || (typeof o.host === 'string' && o.host.length <= 253 && (isIP(o.host) !== 0 || HOSTNAME.test(o.host))))) {
    throw new Error("web: bad 'host'");
  }
  return { port: o.port, lan: o.lan, host: o.host };
}

/** The first LAN (non-loopback, non-link-local) IP address among a member's multiaddrs, bracketed when IPv6. */
export function lanAddressOf(multiaddrs: string[]): string | null {
  for (const a of multiaddrs) {
    const v4 = /^\/ip4\/(\d{1,3}(?:\.\d{1,3}){3})\//.exec(a)?.[1];
    if (v4 && isIP(v4) === 4 && !v4.startsWith('127.') && !v4.startsWith('169.254.')) return v4;
  }
  for (const a of multiaddrs) {
    const v6 = /^\/ip6\/([0-9a-fA-F:]+)\//.exec(a)?.[1];
    if (v6 && isIP(v6) === 6 && v6 !== '::1' && !/^fe[89ab]/i.test(v6)) return `[${v6}]`;
  }
  return null;
}

/** The host part of a URL to a member's page: the address it is bound to, else its LAN address. */
export function urlHost(advert: WebAdvert, multiaddrs: string[]): string | null {
  if (advert.host) return isIP(advert.host) === 6 ? `[${advert.host}]` : advert.host;
  return lanAddressOf(multiaddrs);
}
