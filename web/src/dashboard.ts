// The household on the page: a row per machine (role, power, lid, online), a
// row per session (where it runs, "send to …" for every other online member),
// and the migration chart; all kept current from roamd's event stream
// (/api/events, Server-Sent Events), which the browser reopens by itself.
import type { HouseholdView, MachineView, MigrationView, SessionView } from './types.js';
import { describeMigration, renderChart } from './chart.js';

function cell(text: string, cls: string): HTMLTableCellElement {
  const td = document.createElement('td');
  td.className = cls;
  td.textContent = text;
  return td;
}

function powerText(m: MachineView): string {
  if (m.power === 'unknown') return '?';
  return m.power === 'ac' ? 'AC' : `battery${m.batteryPercent !== null ? ` ${m.batteryPercent}%` : ''}`;
}

export class Dashboard {
  private view: HouseholdView | null = null;
  private readonly migrations = new Map<string, MigrationView>();
  private busy = new Set<string>();

  constructor(private readonly selected: () => string | null, private readonly onSelect: (vm: string) => void) {}

  start(): void {
    const feedState = document.getElementById('feed-state')!;
    const es = new EventSource('/api/events');
    es.addEventListener('open', () => { feedState.textContent = 'live'; });
    es.addEventListener('error', () => { feedState.textContent = 'reconnecting…'; });
    es.addEventListener('household', (ev) => {
      const v = JSON.parse((ev as MessageEvent<string>).data) as HouseholdView;
      for (const m of v.migrations) this.migrations.set(m.id, m);
      this.view = v;
      this.render();
    });
    es.addEventListener('migration', (ev) => {
      const m = JSON.parse((ev as MessageEvent<string>).data) as MigrationView;
      this.migrations.set(m.id, m);
      // The click's "sending …" note has done its job once the chart says how it ended.
      if (m.outcome) document.getElementById('send-message')!.textContent = '';
      this.renderMigration();
      this.renderSessions();
    });
  }

  render(): void {
    const v = this.view;
    if (!v) return;
    document.getElementById('household-name')!.textContent = v.household ? `household ${v.household}, on ${v.self}` : `${v.self} (no household yet)`;
    this.renderMachines();
    this.renderSessions();
    this.renderMigration();
  }

  private renderMachines(): void {
    const body = document.querySelector('#machines tbody')!;
    body.replaceChildren(...this.view!.machines.map((m) => {
      const tr = document.createElement('tr');
      tr.dataset.machine = m.name;
      tr.dataset.online = String(m.online);
      tr.dataset.role = m.role;
      tr.dataset.power = m.power;
      tr.dataset.lid = m.lid ?? 'none';
      tr.append(cell(m.self ? `${m.name} (this one)` : m.name, 'name'), cell(m.role, 'role'), cell(powerText(m), 'power'),
        cell(m.lid === null ? 'no lid' : `lid ${m.lid}`, 'lid'), cell(m.online ? 'online' : m.presence, 'online'));
      return tr;
    }));
  }

  private activeFor(vm: string): MigrationView | undefined {
    return [...this.migrations.values()].find((m) => m.vm === vm && m.outcome === null);
  }

  private renderSessions(): void {
    const v = this.view;
    if (!v) return;
    const body = document.querySelector('#sessions tbody')!;
    const online = v.machines.filter((m) => m.online).map((m) => m.name);
    body.replaceChildren(...v.sessions.map((s) => this.sessionRow(s, online)));
  }

  private sessionRow(s: SessionView, online: string[]): HTMLTableRowElement {
    const tr = document.createElement('tr');
    tr.dataset.session = s.vm;
    tr.dataset.host = s.host;
    if (s.vm === this.selected()) tr.className = 'selected';
    const name = document.createElement('td');
    const a = document.createElement('a');
    a.href = `/view/${encodeURIComponent(s.vm)}`;
    a.textContent = s.vm;
    a.addEventListener('click', (e) => { e.preventDefault(); this.onSelect(s.vm); this.renderSessions(); });
    name.append(a);
    const moving = this.activeFor(s.vm);
    const actions = document.createElement('td');
    actions.className = 'actions';
    for (const to of online.filter((n) => n !== s.host)) {
      const b = document.createElement('button');
      b.dataset.sendTo = to;
      b.textContent = `send to ${to}`;
      b.disabled = moving !== undefined || this.busy.has(s.vm);
      b.addEventListener('click', () => void this.send(s.vm, to));
      actions.append(b);
    }
    tr.append(name, cell(s.host, 'host'), cell(moving ? `moving to ${moving.to}` : s.state, 'state'), actions);
    return tr;
  }

  private async send(vm: string, to: string): Promise<void> {
    const msg = document.getElementById('send-message')!;
    this.busy.add(vm);
    this.renderSessions();
    msg.textContent = `asking to send ${vm} to ${to}…`;
    try {
      const r = await fetch('/api/send', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ vm, to }) });
      if (r.ok) msg.textContent = `sending ${vm} to ${to}`;
      else {
        const body = await r.text();
        let why = body;
        try { why = (JSON.parse(body) as { error?: string }).error ?? body; } catch { /* plain text */ }
        msg.textContent = `could not send ${vm} to ${to}: ${why.trim()}`;
      }
    } catch (e) {
      msg.textContent = `could not reach roamd: ${(e as Error).message}`;
    } finally {
      this.busy.delete(vm);
      this.renderSessions();
    }
  }

  /** The migration to chart: one under way (the selected session's first), else the latest. */
  private current(): MigrationView | null {
    const all = [...this.migrations.values()].sort((a, b) => a.startedAt - b.startedAt);
    const active = all.filter((m) => m.outcome === null);
    const sel = this.selected();
    return active.find((m) => m.vm === sel) ?? active[active.length - 1] ?? all[all.length - 1] ?? null;
  }

  private renderMigration(): void {
    const m = this.current();
    const status = document.getElementById('migration-status')!;
    status.textContent = describeMigration(m);
    status.dataset.phase = m ? (m.outcome ? (m.outcome.ok ? 'done' : 'failed') : m.phase) : 'none';
    renderChart(document.getElementById('migration-chart') as unknown as SVGSVGElement, m);
  }
}
