// `roam daemon`: runs roamd in the foreground (systemd runs it this way).
import { UsageError, type Command } from '../command.js';
import { parseCommand } from '../../agent/cli-support.js';
import { ROLES, type Role } from '../../../discovery/index.js';

import { resolve } from 'node:path';
import type { HomeConfig } from '../../agent/config.js';

const usage = `usage: roam daemon [--state DIR] [--name NAME] [--role server|desktop|laptop] [--listen MULTIADDR]...
                   [--home DIR] [--home-server NAME] [--home-follow on|off] [--home-debounce MS]
                   [--web HOST:PORT|off]

Runs roamd, the roam agent, in the foreground until SIGINT or SIGTERM: one libp2p
node found by mDNS, household trust, the VMs it runs, and the control socket
(STATE/roamd.sock) the other roam commands talk to.

VMs outlive roamd: each runs in its own detached VM process (socket STATE/vms/NAME.sock).
On SIGINT or SIGTERM roamd exits and leaves its VMs running; the next roamd on the same
state directory finds them again (stale sockets are removed). \`roam stop VM\` ends one.

  --state DIR       state directory (default: $XDG_DATA_HOME/roam); with --state the
                    config is DIR/config.json, else $XDG_CONFIG_HOME/roam/config.json
  --name NAME       this machine's name in the household (default: the host name; saved)
  --role ROLE       server, desktop or laptop (saved)
  --listen MA       libp2p listen address, repeatable (default /ip4/0.0.0.0/tcp/0; saved)
  --home DIR        the home tree roamd snapshots, serves and syncs (default: $HOME when
                    no --state is given; saved); its store is STATE/store
  --home-server NAME  the member the follower keeps up to date (default: the member whose
                    role is server; saved)
  --home-follow on|off  watch the home and push each change to the server (default on; saved)
  --home-debounce MS    quiet time after an edit before the follower snapshots (default 2000; saved)
  --web HOST:PORT|off   where the web page (screen viewer, household dashboard) listens
                    (default 127.0.0.1:7420; port 0 picks a free one, \`roam status\` shows it; saved).
                    Bound to a LAN address (e.g. 0.0.0.0:7420), other members' browsers can
                    sign in with a link from \`roam view --on <this machine>\``;

export const daemon: Command = {
  name: 'daemon',
  summary: 'run roamd, the roam agent, in the foreground',
  usage,
  async run(argv) {
    const { values } = parseCommand(argv, {
      name: { type: 'string' }, role: { type: 'string' }, listen: { type: 'string', multiple: true },
      home: { type: 'string' }, 'home-server': { type: 'string' }, 'home-follow': { type: 'string' }, 'home-debounce': { type: 'string' },
      web: { type: 'string' },
    }, { min: 0, max: 0, what: '' });
    const home: HomeConfig = {};
    if (typeof values.home === 'string') home.dir = resolve(values.home);
    if (typeof values['home-server'] === 'string') home.server = values['home-server'];
    const follow = values['home-follow'];
    if (follow !== undefined) {
      if (follow !== 'on' && follow !== 'off') throw new UsageError(`--home-follow wants on or off, not '${String(follow)}'`);
      home.follow = follow === 'on';
    }
    const debounce = values['home-debounce'];
    if (debounce !== undefined) {
      if (typeof debounce !== 'string' || !/^\d+$/.test(debounce) || Number(debounce) < 50 || Number(debounce) > 3_600_000) {
        throw new UsageError(`--home-debounce wants milliseconds from 50 to 3600000, not '${String(debounce)}'`);
      }
      home.debounceMs = Number(debounce);
    }
    const web = values.web;
    if (web !== undefined) {
      const { parseWebListen } = await import('../../web/listen.js');
      try { parseWebListen(String(web)); } catch (e) { throw new UsageError(`--web: ${(e as Error).message}`); }
    }
    const role = values.role as string | undefined;
    if (role !== undefined && !ROLES.includes(role as Role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}, not '${role}'`);
    // Loaded here, not at the top: every other roam command stays quick to start without libp2p.
    const { Roamd } = await import('../../agent/daemon.js');
    let roamd: Awaited<ReturnType<typeof Roamd.start>>;
    try {
      roamd = await Roamd.start({
        ...(typeof values.state === 'string' ? { stateDir: values.state } : {}),
        ...(typeof values.name === 'string' ? { name: values.name } : {}),
        ...(role ? { role: role as Role } : {}),
        ...(Array.isArray(values.listen) ? { listen: values.listen } : {}),
        ...(Object.keys(home).length ? { home } : {}),
        ...(typeof web === 'string' ? { web } : {}),
      });
    } catch (e) {
      throw new Error(`roamd could not start: ${(e as Error).message}`);
    }
    const { VmMigrationService } = await import('../../agent/migration-service.js');
    const migration = new VmMigrationService(roamd);
    roamd.setMigrationService(migration);
    // A daemon outlives a stray failure in one stream or timer: log it, keep serving.
    process.on('unhandledRejection', (e) => roamd.log(`unhandled failure (roamd carries on): ${(e as Error)?.stack ?? String(e)}`));
    process.on('uncaughtException', (e) => roamd.log(`uncaught exception (roamd carries on): ${e.stack ?? e.message}`));
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    migration.close();
    await roamd.stop();
    return 0;
  },
};
