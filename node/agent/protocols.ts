// The protocol ids roamd speaks. Every one but JOIN is refused to non-members.
export const PEER_PROTOCOL = '/roam/peer/1.0.0';
export const MIGRATE_PROTOCOL = '/roam/migrate/1.0.0';
export const STORE_PROTOCOL_ID = '/roam/store/1.0.0';
/**
 * Asking a member to pull this machine's home now (`roam home sync`, the follower).
 * Member-only like the others; answered by the home service (home-protocol.ts).
 */
export const HOME_PROTOCOL = '/roam/home/1.0.0';
/**
 * Asking the member a VM runs on to send it somewhere (the web page's "send to …" on any
 * machine). Member-only like the others; answered by node/web/remote-send.ts.
 */
export const SEND_PROTOCOL = '/roam/send/1.0.0';
/**
 * A VM's screen and input, asked of the member it runs on (a viewer's host following the VM).
 * Member-only like the others; answered by the screen service (node/screen/screen-server.ts).
 */
export const SCREEN_PROTOCOL = '/roam/screen/1.0.0';
/**
 * How a migration this machine sends goes, told to every other member (node/web/migration-news.ts),
 * so every member's page charts every migration in the household. Member-only like the others.
 */
export const NEWS_PROTOCOL = '/roam/migrations/1.0.0';
/** Redeeming an invite: the one protocol a non-member may open, and it only spends a one-time token. */
export const JOIN_PROTOCOL = '/roam/join/1.0.0';

/** Every protocol only members may open (`probe-protocols` walks this list; the trust tests check each is refused to a stranger). */
export const MEMBER_PROTOCOLS = [PEER_PROTOCOL, MIGRATE_PROTOCOL, STORE_PROTOCOL_ID, HOME_PROTOCOL, SEND_PROTOCOL, SCREEN_PROTOCOL, NEWS_PROTOCOL] as const;
