// `roam daemon`: runs roamd in the foreground (systemd runs it this way).
import { UsageError, type Command } from '../command.js';
import { parseCommand } from '../../agent/cli-support.js';
import { ROLES, type Role } from '../../../discovery/index.js';

const usage = `usage: roam daemon [--state DIR] [--name NAME] [--role server|desktop|laptop] [--listen MULTIADDR]...

Runs roamd, the roam agent, in the foreground until SIGINT or SIGTERM: one libp2p
node found by mDNS, household trust, the VMs it runs, and the control socket
(STATE/roamd.sock) the other roam commands talk to.

  --state DIR       state directory (default: $XDG_DATA_HOME/roam); with --state the
                    config is DIR/config.json, else $XDG_CONFIG_HOME/roam/config.json
  --name NAME       this machine's name in the household (default: the host name; saved)
  --role ROLE       server, desktop or laptop (saved)
  --listen MA       libp2p listen address, repeatable (default /ip4/0.0.0.0/tcp/0; saved)`;

export const daemon: Command = {
  name: 'daemon',
  summary: 'run roamd, the roam agent, in the foreground',
  usage,
  async run(argv) {
    const { values } = parseCommand(argv, { name: { type: 'string' }, role: { type: 'string' }, listen: { type: 'string', multiple: true } }, { min: 0, max: 0, what: '' });
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
      });
    } catch (e) {
      throw new Error(`roamd could not start: ${(e as Error).message}`);
    }
    // A daemon outlives a stray failure in one stream or timer: log it, keep serving.
    process.on('unhandledRejection', (e) => roamd.log(`unhandled failure (roamd carries on): ${(e as Error)?.stack ?? String(e)}`));
    process.on('uncaughtException', (e) => roamd.log(`uncaught exception (roamd carries on): ${e.stack ?? e.message}`));
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await roamd.stop();
    return 0;
  },
};
