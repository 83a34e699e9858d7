// roamd's config (config.json): the machine's name, role and listen
// addresses. Flags given to `roam daemon` override it and are saved, so the
// next start keeps them.
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { readJson, writeJsonAtomic } from './files.js';
import { checkName } from './household.js';
import { ROLES, type Role } from '../../discovery/index.js';

export interface AgentConfig { name: string; role: Role; listen: string[] }

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
  checkName(cfg.name, 'machine name');
  if (!ROLES.includes(cfg.role)) throw new Error(`role '${cfg.role}' in ${path} is not one of ${ROLES.join(', ')}`);
  if (!Array.isArray(cfg.listen) || !cfg.listen.every((a) => typeof a === 'string')) throw new Error(`'listen' in ${path} must be a list of multiaddrs`);
  if (JSON.stringify(saved) !== JSON.stringify(cfg)) writeJsonAtomic(path, cfg, 0o644);
  return cfg;
}
