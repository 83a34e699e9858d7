// mDNS peer discovery on the LAN, through @libp2p/mdns. mDNS carries only the
// libp2p peer id and addresses: a machine's record (name, role, …) is told to
// members only, after the membership proof on /roam/peer/1.0.0.

/** The query interval roamd uses: short enough that a machine appears within a few seconds. */
export const MDNS_INTERVAL_MS = 2_000;

/** The libp2p peer-discovery component (loaded on demand: the CLI's quick commands never need it). */
export async function mdnsDiscovery(intervalMs = MDNS_INTERVAL_MS) {
  const { mdns } = await import('@libp2p/mdns');
  return mdns({ interval: intervalMs, serviceTag: '_roam-p2p._udp.local' });
}
