import type { Command } from '../command.js';
import { home } from './home.js';

// Commands register here, one import each, in the order `roam --help` lists them.
export const commands: Command[] = [home];
