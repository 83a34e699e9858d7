// Where roamd keeps its state and config, and where the CLI finds a roamd.
// State: $XDG_DATA_HOME/roam (else ~/.local/share/roam), or --state DIR.
// Config: $XDG_CONFIG_HOME/roam/config.json, or DIR/config.json with --state.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export interface AgentPaths {
  state: string;
  config: string;
  socket: string;
  identityKey: string;
  household: string;
  members: string;
  invites: string;
  vms: string;
  pidFile: string;
}

export function agentPaths(stateFlag?: string): AgentPaths {
  const env = process.env;
  const state = stateFlag
    ? resolve(stateFlag)
    : join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'roam');
  const config = stateFlag
    ? join(state, 'config.json')
    : join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'roam', 'config.json');
  return {
    state,
    config,
    socket: join(state, 'roamd.sock'),
    identityKey: join(state, 'identity.key'),
    household: join(state, 'household.json'),
    members: join(state, 'members.json'),
    invites: join(state, 'invites.json'),
    vms: join(state, 'vms'),
    pidFile: join(state, 'roamd.pid'),
  };
}
