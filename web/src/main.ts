// The page: the household dashboard beside the selected session's screen.
// /view/<vm> opens with that session selected; picking another session
// changes the address without reloading.
import { Dashboard } from './dashboard.js';
import { ScreenView } from './screen-view.js';

function vmFromPath(): string | null {
  const m = /^\/view\/([A-Za-z0-9][A-Za-z0-9._-]{0,63})$/.exec(location.pathname);
  return m ? m[1]! : null;
}

const screen = new ScreenView(document.getElementById('screen') as HTMLCanvasElement, document.getElementById('screen-state')!);
let selected = vmFromPath();

function select(vm: string | null, push: boolean): void {
  selected = vm;
  document.getElementById('viewer-title')!.textContent = vm ? `Screen of ${vm}` : 'Screen';
  if (push) history.pushState(null, '', vm ? `/view/${encodeURIComponent(vm)}` : '/');
  screen.show(vm);
}

const dashboard = new Dashboard(() => selected, (vm) => select(vm, true));
window.addEventListener('popstate', () => { select(vmFromPath(), false); dashboard.render(); });
select(selected, false);
dashboard.start();
