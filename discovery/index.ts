// The face of discovery/: finding household machines on the LAN and keeping a
// directory of them with their records. Other folders import only from here.
export { mdnsDiscovery, MDNS_INTERVAL_MS } from './mdns.js';
export { PeerDirectory, DEFAULT_TIMING, type PeerEntry, type Trust, type Presence, type DirectoryTiming } from './directory.js';
export {
  collectRecord, parseRecord, recordChanged, readCpu, readMemory, readPower, readLid, ROLES,
  type MachineRecord, type Role, type RecordVm,
} from './record.js';
