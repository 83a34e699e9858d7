// roamd's config (config.json): the machine's name, role, listen addresses
// and the home store (`home`: which tree follows the session, which member is
// the household's server for it). Flags given to `roam daemon` override it and
// are saved, so the next start keeps them.
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { readJson, writeJsonAtomic } from './files.js';
import { checkName } from './household.js';
import { ROLES, type Role } from '../../discovery/index.js';
import { parseWebListen } from '../web/listen.js';

export interface HomeConfig {
  /** The home tree roamd snapshots, serves and syncs into (default: $HOME with the default state dir, else none). */
  dir?: string;
  /** The member the follower pushes to (default: the member whose role is 'server'). */
  server?: string;
  /** Whether the follower runs (default true). */
  follow?: boolean;
  /** Quiet time after the last edit before a snapshot (default 2000 ms). */
  debounceMs?: number;
}

/** What roamd does when the lid closes (see node/agent/handoff-runner.ts). */
export interface LidConfig {
  /** Where the lid events come from: logind over D-Bus, the ACPI lid state, either (default 'auto'), or none. */
  watcher?: 'auto' | 'logind' | 'acpi' | 'off';
  /** The system bus (default $DBUS_SYSTEM_BUS_ADDRESS, else unix:path=/run/dbus/system_bus_socket). */
  dbusAddress?: string;
  /** The member a closing lid sends the session to first (default home.server, else the member whose role is server). */
  handoffTo?: string;
  /** How long the hand-off may take before the VM is saved to disk instead (default 30000 ms). */
  budgetMs?: number;
}

export const LID_DEFAULT_BUDGET_MS = 30_000;

/** roamd's web page (node/web). */
export interface WebConfig {
  /** HOST:PORT it listens on (default 127.0.0.1:7420; port 0 picks a free one), or "off". */
  listen?: string;
}

export interface AgentConfig { name: string; role: Role; listen: string[]; home?: HomeConfig; lid?: LidConfig; web?: WebConfig }

function defaultRole(): Role {
  return existsSync('/proc/acpi/button/lid') ? 'laptop' : 'desktop';
}

function defaultName(): string {
  const h = hostname().split('.')[0]!.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64);
  return /^[A-Za-z0-9]/.test(h) ? h : `roam-${h}`.slice(0, 64);
}

export function loadConfig(path: string, overrides: Partial<AgentConfig>): AgentConfig {
  const saved = readJson<Partial<AgentConfig>>(path, {});
  const cfg: AgentConfig = {
    name: overrides.name ?? saved.name ?? defaultName(),
    role: overrides.role ?? saved.role ?? defaultRole(),
    listen: overrides.listen ?? saved.listen ?? ['/ip4/0.0.0.0/tcp/0'],
  };
  const home = { ...(saved.home ?? {}), ...(overrides.home ?? {}) };
  if (Object.keys(home).length) cfg.home = checkHome(home, path);
  const lid = { ...(saved.lid ?? {}), ...(overrides.lid ?? {}) };
  if (Object.keys(lid).length) cfg.lid = checkLid(lid, path);
  const web = { ...(saved.web ?? {}), ...(overrides.web ?? {}) };
  if (Object.keys(web).length) cfg.web = checkWeb(web, path);
  checkName(cfg.name, 'machine name');
  if (!ROLES.includes(cfg.role)) throw new Error(`role '${cfg.role}' in ${path} is not one of ${ROLES.join(', ')}`);
  if (!Array.isArray(cfg.listen) || !cfg.listen.every((a) => typeof a === 'string')) throw new Error(`'listen' in ${path} must be a list of multiaddrs`);
  if (JSON.stringify(saved) !== JSON.stringify(cfg)) writeJsonAtomic(path, cfg, 0o644);
  return cfg;
}

function checkHome(h: HomeConfig, path: string): HomeConfig {
  if (h.dir !== undefined && (typeof h.dir !== 'string' || !h.dir.startsWith('/'))) throw new Error(`'home.dir' in ${path} must be an absolute path`);
  if (h.server !== undefined) checkName(h.server, 'home server');
  if (h.follow !== undefined && typeof h.follow !== 'boolean') throw new Error(`'home.follow' in ${path} must be true or false`);
  if (h.debounceMs !== undefined && (!Number.isInteger(h.debounceMs) || h.debounceMs < 50 || h.debounceMs > 3_600_000)) {
    throw new Error(`'home.debounceMs' in ${path} must be a whole number of milliseconds from 50 to 3600000`);
  }
  return h;
}

function checkLid(l: LidConfig, path: string): LidConfig {
  if (l.watcher !== undefined && !['auto', 'logind', 'acpi', 'off'].includes(l.watcher)) throw new Error(`'lid.watcher' in ${path} must be auto, logind, acpi or off`);
  if (l.dbusAddress !== undefined && (typeof l.dbusAddress !== 'string' || l.dbusAddress.length === 0 || l.dbusAddress.length > 1024)) {
    throw new Error(`'lid.dbusAddress' in ${path} must be a D-Bus address such as unix:path=/run/dbus/system_bus_socket`);
  }
  if (l.handoffTo !== undefined) checkName(l.handoffTo, 'lid hand-off target');
  if (l.budgetMs !== undefined && (!Number.isInteger(l.budgetMs) || l.budgetMs < 1_000 || l.budgetMs > 600_000)) {
    throw new Error(`'lid.budgetMs' in ${path} must be a whole number of milliseconds from 1000 to 600000`);
  }
  return l;
}

function checkWeb(w: WebConfig, path: string): WebConfig {
  if (w.listen !== undefined) {
    if (typeof w.listen !== 'string') throw new Error(`'web.listen' in ${path} must be HOST:PORT or off`);
    try { parseWebListen(w.listen); } catch (e) { throw new Error(`'web.listen' in ${path}: ${(e as Error).message}`); }
  }
  return w;
}
