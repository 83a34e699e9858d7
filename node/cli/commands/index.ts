import type { Command } from '../command.js';
import { boot } from './boot.js';
import { daemon } from './daemon.js';
import { status } from './status.js';
import { peers } from './peers.js';
import { ps } from './ps.js';
import { run } from './run.js';
import { stop } from './stop.js';
import { consoleCommand } from './console.js';
import { send } from './send.js';
import { init } from './init.js';
import { invite } from './invite.js';
import { join } from './join.js';
import { forget } from './forget.js';
import { home } from './home.js';
import { view } from './view.js';

// Commands register here, one import each, in the order `roam --help` lists them.
export const commands: Command[] = [
  boot, daemon, status, peers, ps, run, stop, consoleCommand, send, view, init, invite, join, forget, home,
];
