// `roam view [vm] [--on MEMBER]`: a sign-in link to this machine's roamd web
// page (or another member's), showing the VM's screen (or the household
// dashboard), opened in the desktop's browser when there is a desktop.
import { spawn } from 'node:child_process';
import type { Command } from '../command.js';
import { COMMON_USAGE, ask, parseCommand, printJson } from '../../agent/cli-support.js';

interface ViewResult { url: string; expiresAt: string; base: string; vm: string | null; on: string }

/** A desktop session is there to open a browser in: X11 or Wayland. */
export function hasDesktop(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.DISPLAY || env.WAYLAND_DISPLAY);
}

/** Starts xdg-open on the URL and lets it go; false when it cannot be started. */
function openInBrowser(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    let child;
    try { child = spawn('xdg-open', [url], { detached: true, stdio: 'ignore' }); } catch { resolve(false); return; }
    child.once('error', () => resolve(false));
    child.once('spawn', () => { child.unref(); resolve(true); });
  });
}

export const view: Command = {
  name: 'view',
  summary: 'open a VM\'s screen (or the household dashboard) in the browser',
  usage: `usage: roam view [vm] [--on MEMBER] [--no-open] [--json] [--state DIR]

Prints a sign-in link to this machine's roamd web page: the VM's screen, live,
with keyboard and mouse going to the guest, beside the household (machines,
sessions, "send to …", every migration in the household as a live chart). The
page follows the VM when it moves to another machine. With a desktop (DISPLAY
or WAYLAND_DISPLAY set) the link is also opened with xdg-open, unless --no-open.

  --on MEMBER   a link to MEMBER's page instead, for a browser on any machine
                that reaches MEMBER over the LAN (its LAN address and web port).
                MEMBER must be online and its roamd bound wider than loopback
                (\`roam daemon --web 0.0.0.0:7420\` or its LAN address there);
                otherwise roam view says which of these is missing.

The link holds a one-time token (valid 10 minutes) that signs this browser in;
the page needs nothing else, and shows nothing to a browser without it. Any
member's page accepts a link any member made: the token's key comes from the
household secret.

${COMMON_USAGE}`,
  async run(argv) {
    const { positionals, values, json, state } = parseCommand(argv, { 'no-open': { type: 'boolean' }, on: { type: 'string' } }, { min: 0, max: 1, what: '' });
    const on = typeof values.on === 'string' ? values.on : undefined;
    const r = await ask(state, 'view', { ...(positionals[0] ? { vm: positionals[0] } : {}), ...(on ? { on } : {}) }) as ViewResult;
    const opened = values['no-open'] !== true && hasDesktop() ? await openInBrowser(r.url) : false;
    if (json) { printJson({ ...r, opened }); return 0; }
    console.log(r.url);
    if (opened) console.error(`opened in the browser (the link works once, until ${r.expiresAt})`);
    else if (on) console.error(`open it in a browser on any machine that reaches ${r.on} (the link works once, until ${r.expiresAt})`);
    else console.error(`open it in a browser on this machine (the link works once, until ${r.expiresAt})`);
    return 0;
  },
};
