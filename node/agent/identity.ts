// roamd's libp2p identity: one Ed25519 key per state dir, created on first
// start, kept in identity.key (protobuf form, mode 0600). The peer id other
// machines record as a household member is derived from it.
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';

export async function loadOrCreateIdentity(path: string): Promise<PrivateKey> {
  if (existsSync(path)) {
    const mode = statSync(path).mode & 0o777;
    if (mode & 0o077) chmodSync(path, 0o600); // tighten a key someone loosened
    try {
      return privateKeyFromProtobuf(readFileSync(path));
    } catch (e) {
      throw new Error(`${path} does not hold a valid peer key (${(e as Error).message}); move it away to make a new identity`);
    }
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const key = await generateKeyPair('Ed25519');
  writeFileSync(path, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' });
  return key;
}
