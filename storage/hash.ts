// The one place the store decides how content is named. Everything that hashes
// (chunks, manifests, trees, snapshots) goes through hashBytes, so changing the
// algorithm is a change to this file only.
import { createHash } from 'node:crypto';

/** Bytes in a digest; every hash on disk and on the wire has this length. */
export const HASH_BYTES = 32;
/** Characters in the hex form used as level keys and in JSON objects. */
export const HASH_HEX_CHARS = HASH_BYTES * 2;

/** SHA-256 of the bytes, as raw digest bytes. */
export function hashBytes(data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}

/** SHA-256 of the bytes, as lowercase hex (the store's canonical name). */
export function hashHex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

const HEX_RE = /^[0-9a-f]{64}$/;

/** True for a well-formed hash name (lowercase hex of the right length). */
export function isHashHex(s: unknown): s is string {
  return typeof s === 'string' && HEX_RE.test(s);
}
