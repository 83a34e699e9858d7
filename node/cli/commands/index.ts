import type { Command } from '../command.js';
import { boot } from './boot.js';
import { home } from './home.js';

// Commands register here, one import each, in the order `roam --help` lists them.
export const commands: Command[] = [boot, home];
