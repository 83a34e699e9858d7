// One page's screen connection: a subscription to the VM's screen (which
// follows the VM across the household), pulled one update at a time and
// written only after the previous one drained, so a slow browser sees fewer,
// larger updates and never a backlog; input from the page goes to the guest.
// A malformed message closes this connection and nothing else.
import { CLOSE_INVALID_PAYLOAD, CLOSE_POLICY, CLOSE_UNSUPPORTED_DATA } from './ws-frames.js';
import type { WsConnection } from './ws-connection.js';
import { InputError, encodeUpdate, parseInput } from './screen-wire.js';
import type { ScreenService, ScreenState } from './screen-port.js';

export function serveScreen(ws: WsConnection, vm: string, screens: ScreenService | undefined, log: (l: string) => void): void {
  const sendState = (s: ScreenState) => { if (ws.open) ws.sendText(JSON.stringify({ type: 'state', ...s })).catch(() => undefined); };
  if (!screens) {
    sendState({ state: 'gone', reason: 'this roamd has no screen service' });
    ws.on('text', () => undefined);
    ws.on('binary', () => ws.close(CLOSE_UNSUPPORTED_DATA, 'binary messages are not accepted'));
    return;
  }
  const sub = screens.watch(vm, sendState);
  ws.on('close', () => sub.close());
  ws.on('binary', () => ws.close(CLOSE_UNSUPPORTED_DATA, 'binary messages are not accepted'));
  ws.on('text', (text) => {
    let input;
    try { input = parseInput(text); } catch (e) {
      ws.close(e instanceof InputError && /JSON/.test(e.message) ? CLOSE_INVALID_PAYLOAD : CLOSE_POLICY, (e as Error).message);
      return;
    }
    try { sub.input(input); } catch (e) { log(`screen '${vm}': input refused: ${(e as Error).message}`); }
  });
  void (async () => {
    while (ws.open) {
      let update;
      try { update = await sub.next(); } catch { break; } // closed
      if (!ws.open) break;
      let bytes: Buffer;
      try { bytes = encodeUpdate(update); } catch (e) {
        log(`screen '${vm}': an update could not be encoded: ${(e as Error).message}`);
        ws.close(1011, 'bad update from the screen service');
        break;
      }
      try { await ws.sendBinary(bytes); } catch { break; }
    }
    sub.close();
  })();
}
