// The face of node/agent: roamd and the CLI's way of talking to it.
export { Roamd, type RoamdOptions } from './daemon.js';
export { agentPaths, type AgentPaths } from './paths.js';
export { call, stream, NotRunning, RemoteError } from './control-client.js';
export { MAX_REQUEST_BYTES } from './control-server.js';
export type { MigrationService, MigrationPeer } from './migration.js';
export { NOT_WIRED } from './migration.js';
export type { SupervisedVm, VmStatus, VmState } from './vm-supervisor.js';
export { PEER_PROTOCOL, MIGRATE_PROTOCOL, STORE_PROTOCOL_ID, JOIN_PROTOCOL } from './protocols.js';
