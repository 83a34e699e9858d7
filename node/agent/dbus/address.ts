// D-Bus server addresses ("unix:path=/run/dbus/system_bus_socket",
// "unix:abstract=name", several separated by ';') and the SASL EXTERNAL
// handshake lines, shared by the event-driven and the blocking connection.

export const SYSTEM_BUS_DEFAULT = 'unix:path=/run/dbus/system_bus_socket';

export class DBusAddressError extends Error {}

/** The unix socket path of the first usable address; abstract names start with NUL (Linux). */
export function socketPathOf(address: string): string {
  if (address.length > 4096) throw new DBusAddressError('D-Bus address is longer than 4096 characters');
  const problems: string[] = [];
  for (const one of address.split(';').filter(Boolean)) {
    const colon = one.indexOf(':');
    const transport = colon < 0 ? one : one.slice(0, colon);
    if (transport !== 'unix') { problems.push(`transport '${transport.slice(0, 32)}' is not supported (only unix)`); continue; }
    const kv = new Map<string, string>();
    for (const part of one.slice(colon + 1).split(',')) {
      const eq = part.indexOf('=');
      if (eq <= 0) continue;
      let v: string;
      try { v = decodeURIComponent(part.slice(eq + 1)); } catch { problems.push('bad %-escape'); continue; }
      kv.set(part.slice(0, eq), v);
    }
    const path = kv.get('path'); const abs = kv.get('abstract');
    if (path) return path;
    if (abs) return `\0${abs}`;
    problems.push('a unix address needs path= or abstract=');
  }
  throw new DBusAddressError(`no usable D-Bus address in '${address.slice(0, 200)}'${problems.length ? `: ${problems.join('; ')}` : ''}`);
}

/** The first SASL line: NUL, then AUTH EXTERNAL with our uid in hex-encoded ASCII. */
export function authLine(): string {
  const uid = String(process.getuid?.() ?? 0);
  return `\0AUTH EXTERNAL ${Buffer.from(uid, 'ascii').toString('hex')}\r\n`;
}

/** Longest SASL line accepted from the server. */
export const MAX_AUTH_LINE = 512;
