// Household membership proof: a member shows it knows the household secret,
// bound to its own libp2p peer id (authenticated by Noise), the listener's
// peer id and a fresh nonce, so a proof can neither be replayed nor relayed.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const NONCE_BYTES = 32;

export function newNonce(): string {
  return randomBytes(NONCE_BYTES).toString('base64');
}

export function membershipProof(secret: Buffer, householdId: string, prover: string, verifier: string, nonce: string): string {
  return createHmac('sha256', secret)
    .update(`roam-peer-proof-v1\0${householdId}\0${prover}\0${verifier}\0${nonce}`)
    .digest('base64');
}

export function checkProof(secret: Buffer, householdId: string, prover: string, verifier: string, nonce: string, proof: unknown): boolean {
  if (typeof proof !== 'string' || proof.length > 100) return false;
  const want = Buffer.from(membershipProof(secret, householdId, prover, verifier, nonce), 'base64');
  const got = Buffer.from(proof, 'base64');
  return got.length === want.length && timingSafeEqual(got, want);
}
