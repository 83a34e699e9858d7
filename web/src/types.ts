// The shapes the page receives from roamd (node/web/household-view.ts and
// migration-board.ts on the server side; kept in step by hand, checked at runtime where it matters).

export interface MachineView {
  name: string; self: boolean; role: string; power: 'ac' | 'battery' | 'unknown'; batteryPercent: number | null;
  lid: 'open' | 'closed' | null; presence: 'online' | 'stale' | 'offline'; online: boolean;
}

export interface SessionView { vm: string; host: string; state: string; memBytes: number }

export interface RoundPoint {
  round: number; bytes: number; seconds: number; dirtyBytesPerSec: number | null; predictedDowntimeMs: number | null; final: boolean;
}

export type MigrationOutcome =
  | { ok: true; totalMs: number; downtimeMs: number; wireBytes: number; rounds: number }
  | { ok: false; error: string };

export interface MigrationView {
  id: string; vm: string; from: string; to: string; via: string | null; startedAt: number; phase: string; round: number;
  percent: number; bytesSent: number; bytesPerSec: number; etaMs: number; predictedDowntimeMs: number | null; throttle: number;
  rounds: RoundPoint[]; outcome: MigrationOutcome | null; finishedAt: number | null;
}

export interface HouseholdView {
  self: string; household: string | null; machines: MachineView[]; sessions: SessionView[]; migrations: MigrationView[];
}

export type ScreenState =
  | { state: 'connecting' }
  | { state: 'live'; host: string }
  | { state: 'moving'; from: string }
  | { state: 'gone'; reason: string };
