// What each control-socket op does. Every argument is checked here, because
// anything that can open the socket may send anything.
import { existsSync, statSync } from 'node:fs';
import { totalmem } from 'node:os';
import { STREAMING, type ControlHandler, type ControlRequest } from './control-server.js';
import { checkName } from './household.js';
import { MEMBER_PROTOCOLS, PEER_PROTOCOL } from './protocols.js';
import { NOT_WIRED } from './migration.js';
import { homeOp, isHomeOp } from './home-ops.js';
import type { Roamd } from './daemon.js';
import type { PeerEntry } from '../../discovery/index.js';
import type { SupervisedVm } from './vm-supervisor.js';
import { memberLoginUrl } from '../web/member-link.js';

const TWO_MIB = 2 * 1024 * 1024;

function arg(req: ControlRequest, key: string, max = 1024): string {
  const v = req[key];
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw new Error(`'${key}' must be a non-empty string of at most ${max} characters`);
  return v;
}

export function peerView(e: PeerEntry) {
  return {
    name: e.name, peerId: e.peerId, trusted: e.trust === 'member', trust: e.trust, presence: e.presence,
    lastSeen: e.lastSeen === null ? null : new Date(e.lastSeen).toISOString(),
    note: e.note, addrs: e.addrs.slice(0, 8), record: e.record,
  };
}

function peerNamesHint(r: Roamd): string {
  const names = r.directory.memberNames();
  return names.length ? `household members: ${names.join(', ')}` : 'this machine knows no other household member yet (see `roam peers`)';
}

/** A peer by name or peer id; an unknown one is an error that lists the names that exist. */
function findPeer(r: Roamd, nameOrId: string): PeerEntry {
  const e = r.directory.find(nameOrId);
  if (!e) throw new Error(`no peer named '${nameOrId}'; ${peerNamesHint(r)}`);
  return e;
}

/**
 * Diagnostics (and the trust tests): opens each member protocol to a peer the
 * way a client would and says whether it was served. /roam/peer runs the real
 * membership exchange; the others count as refused when the peer resets them.
 */
async function probeProtocols(r: Roamd, target: PeerEntry): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const proto of MEMBER_PROTOCOLS) {
    if (proto === PEER_PROTOCOL) { out[proto] = await r.tryExchange(target.peerId); continue; }
    try {
      const stream = await r.dialPeer(target.peerId, proto);
      const it = (stream as unknown as AsyncIterable<unknown>)[Symbol.asyncIterator]();
      const verdict = await Promise.race([
        it.next().then((x) => (x.done ? 'refused (closed)' : 'open'), (e: Error) => `refused (${e.message})`),
        new Promise<string>((res) => setTimeout(() => res('open'), 1500).unref()),
      ]);
      out[proto] = verdict;
      stream.abort(new Error('probe done'));
    } catch (e) {
      out[proto] = `refused (${(e as Error).message})`;
    }
  }
  return out;
}

/** A send as `roam send` asks for it, checked: the VM runs here, the target is an online member, migration is wired. */
export interface CheckedSend { vm: SupervisedVm; target: PeerEntry; label: string }

export function checkSend(r: Roamd, vmName: string, peerName: string): CheckedSend {
  const vm = r.vms.get(vmName);
  if (!vm) throw new Error(r.vms.unknown(vmName));
  if (vm.state !== 'running') throw new Error(`VM '${vmName}' is ${vm.state}${vm.message ? ` (${vm.message})` : ''}; only a running VM can be sent`);
  const target = findPeer(r, peerName);
  const label = target.name ?? target.peerId;
  if (target.trust !== 'member') throw new Error(`peer '${label}' is not a household member (${target.trust}); ${peerNamesHint(r)}`);
  if (target.presence !== 'online') {
    const seen = target.lastSeen ? `last seen ${new Date(target.lastSeen).toISOString()}` : 'never seen online';
    throw new Error(`peer '${label}' is ${target.presence} (${seen}); it must be online to receive a VM`);
  }
  if (!r.migration) throw new Error(`${NOT_WIRED}: VM '${vmName}' stays on this machine`);
  return { vm, target, label };
}

/** Sends a checked VM: the one path for `roam send`, the web page's "send to …" and a member's /roam/send request. */
export async function runSend(r: Roamd, c: CheckedSend,
  opts: { onProgress?: (p: Record<string, unknown>) => void; signal?: AbortSignal; track?: { id?: string; via?: string } } = {}): Promise<Record<string, unknown>> {
  if (!r.migration) throw new Error(`${NOT_WIRED}: VM '${c.vm.spec.name}' stays on this machine`);
  return await r.migration.send({
    vm: c.vm, to: { peerId: c.target.peerId, name: c.label, entry: c.target },
    open: () => r.dialPeer(c.target.peerId, '/roam/migrate/1.0.0'),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.track ? { track: opts.track } : {}),
  });
}

/**
 * `roam view`: a one-time sign-in link to this roamd's web page, opening on `vm`'s screen (or
 * the dashboard); with `on`, to that member's page instead (its LAN address and web port).
 */
function viewUrl(r: Roamd, vm: string | null, on: string | null): { url: string; expiresAt: string; base: string; vm: string | null; on: string } {
  if (vm !== null && !r.webKnowsVm(vm)) {
    throw new Error(`no VM named '${vm}' runs in the household (see \`roam ps\` here, or \`roam peers\` for the others)`);
  }
  const next = vm === null ? '/' : `/view/${vm}`;
  if (on !== null && on !== r.config.name && on !== r.peerId) {
    const target = findPeer(r, on);
    const label = target.name ?? target.peerId;
    if (target.trust !== 'member') throw new Error(`'${label}' is not a household member; ${peerNamesHint(r)}`);
    const link = memberLoginUrl(r, target, r.memberWeb.get(target.peerId), next);
    return { url: link.url, expiresAt: new Date(link.expiresAt).toISOString(), base: link.base, vm, on: label };
  }
  if (!r.web) throw new Error(`this roamd serves no web page: ${r.webProblem}`);
  const { url, expiresAt } = r.web.loginUrl(next);
  return { url, expiresAt: new Date(expiresAt).toISOString(), base: r.web.url, vm, on: r.config.name };
}

export function controlHandler(r: Roamd): ControlHandler {
  return async (req, peer) => {
    switch (req.op) {
      case 'status':
        return {
          name: r.config.name, role: r.config.role, peerId: r.peerId, pid: process.pid, stateDir: r.paths.state,
          household: r.household.joined ? { id: r.household.id, name: r.household.name, members: r.household.memberList().length } : null,
          addrs: r.shareableAddrs(), vms: r.vms.list().length, uptimeMs: Date.now() - r.startedAt,
          migration: r.migration ? 'wired' : 'not wired', record: r.currentRecord(), lid: r.lidStatus(),
          web: r.web ? { url: r.web.url, port: r.web.port } : { url: null, problem: r.webProblem },
        };
      case 'peers':
        return r.directory.list().map((e) => ({ ...peerView(e), web: r.memberWeb.get(e.peerId) ?? null }));
      case 'ps':
        return r.vms.list();
      case 'run': {
        const name = checkName(arg(req, 'name', 64), 'VM name');
        const kernelPath = arg(req, 'kernelPath', 4096);
        if (!existsSync(kernelPath) || !statSync(kernelPath).isFile()) throw new Error(`no such guest kernel on the roamd machine: ${kernelPath}`);
        const memBytes = req.memBytes;
        if (typeof memBytes !== 'number' || !Number.isSafeInteger(memBytes) || memBytes <= 0 || memBytes % TWO_MIB) throw new Error('memBytes must be a positive multiple of 2 MiB');
        if (memBytes > totalmem()) throw new Error('memBytes is more than this machine\'s RAM');
        const vcpus = req.vcpus ?? 1;
        if (typeof vcpus !== 'number' || !Number.isInteger(vcpus) || vcpus < 1 || vcpus > 64) throw new Error('vcpus must be a whole number from 1 to 64');
        const cmdline = req.cmdline ?? '';
        if (typeof cmdline !== 'string' || cmdline.length > 4096) throw new Error('cmdline must be a string of at most 4096 characters');
        const guest = typeof req.guest === 'string' ? req.guest.slice(0, 4096) : kernelPath;
        const display = req.display ?? true;
        if (typeof display !== 'boolean') throw new Error('display must be true or false');
        return await r.vms.run({ name, guest, kernelPath, cmdline, memBytes, vcpus, display });
      }
      case 'stop':
        return await r.vms.stop(arg(req, 'vm', 64));
      case 'console': {
        const vm = r.vms.get(arg(req, 'vm', 64));
        if (!vm) throw new Error(r.vms.unknown(String(req.vm)));
        const unsubscribe = vm.subscribe((b) => peer.send({ event: 'serial', data: b.toString('base64') }));
        const onState = () => { peer.send({ event: 'state', state: vm.state, message: vm.message }); };
        vm.on('state', onState);
        peer.onClose(() => { unsubscribe(); vm.off('state', onState); });
        if (vm.state !== 'running' && vm.state !== 'starting') onState();
        return STREAMING;
      }
      case 'init':
        return r.initHousehold(arg(req, 'name', 64));
      case 'invite':
        return r.invite();
      case 'join':
        return await r.join(arg(req, 'code', 4096));
      case 'forget': {
        const target = findPeer(r, arg(req, 'peer', 200));
        if (target.trust !== 'member') throw new Error(`'${target.name ?? target.peerId}' is not a household member; ${peerNamesHint(r)}`);
        await r.forget(target.peerId);
        return { forgotten: target.name ?? target.peerId, peerId: target.peerId };
      }
      case 'send': {
        const checked = checkSend(r, arg(req, 'vm', 64), arg(req, 'peer', 200));
        // The person who asked went away (Ctrl-C on `roam send`): cancel; the VM stays here.
        const cancel = new AbortController();
        peer.onClose(() => cancel.abort());
        return await runSend(r, checked, { onProgress: (p) => { if (!peer.closed) peer.send({ event: 'progress', ...p }); }, signal: cancel.signal });
      }
      case 'view':
        return viewUrl(r, req.vm === undefined || req.vm === null ? null : checkName(arg(req, 'vm', 64), 'VM name'),
          req.on === undefined || req.on === null ? null : arg(req, 'on', 200));
      case 'probe-protocols':
        return await probeProtocols(r, findPeer(r, arg(req, 'peer', 200)));
      default:
        if (isHomeOp(req.op)) return await homeOp(r, req, peer);
        throw new Error(`unknown op '${String(req.op).slice(0, 64)}'`);
    }
  };
}
