// Where roamd's web page listens: config `web.listen` / `roam daemon --web`.
// Loopback by default: a browser elsewhere reaches it only when the user binds
// it wider, and even then sees nothing without a household viewer token.

export const DEFAULT_WEB_LISTEN = '127.0.0.1:7420';

/** "host:port" (IPv6 hosts in brackets), or null for "off"; throws on anything else. */
export function parseWebListen(v: string): { host: string; port: number } | null {
  if (v === 'off') return null;
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]{1,253}):(\d{1,5})$/.exec(v);
  if (!m || Number(m[2]) > 65535) throw new Error(`web listen address '${v.slice(0, 100)}' must be HOST:PORT (port 0 picks a free one) or off`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}
