// The hook through which roamd hands live migration to migrate/. roamd owns
// the libp2p node, trust and the VMs; a MigrationService does the moving.
// Until one is installed (Roamd.setMigrationService), `roam send` validates
// its arguments and then says migration is not wired in, and incoming
// /roam/migrate/1.0.0 streams from members are closed with that reason.
import type { Stream } from '@libp2p/interface';
import type { SupervisedVm } from './vm-supervisor.js';
import type { PeerEntry } from '../../discovery/index.js';

export interface MigrationPeer { peerId: string; name: string; entry: PeerEntry }

export interface MigrationService {
  /**
   * Serves one incoming /roam/migrate/1.0.0 stream. roamd calls it only after
   * the remote peer proved household membership; the service creates the
   * destination VM and, once running, hands it to roamd with
   * `roamd.vms.adopt(spec, vmProcess)`.
   */
  receive(stream: Stream, from: MigrationPeer): Promise<void>;
  /**
   * Sends a local VM to a member (roamd already checked: the VM exists here and
   * runs, the peer is a verified member and online). `open` dials the peer's
   * /roam/migrate/1.0.0. Resolves when the destination runs it; the source VM
   * is then closed by the service and dropped with `roamd.vms.release(name)`.
   * Rejects with a user-facing reason otherwise (the source VM keeps running).
   */
  send(req: {
    vm: SupervisedVm;
    to: MigrationPeer;
    open: () => Promise<Stream>;
    onProgress?: (p: Record<string, unknown>) => void;
    /** Aborting cancels the send; before commit the VM keeps running here. */
    signal?: AbortSignal;
    /** How the migration boards name it: the id and asker a member chose when it asked for this send (/roam/send). */
    track?: { id?: string; via?: string };
  }): Promise<Record<string, unknown>>;
}

export const NOT_WIRED = 'live migration is not wired into roamd yet';
