// The face of node/web: roamd's web page (screen viewer + household dashboard),
// its own WebSocket, viewer tokens, the /roam/send request, the migration
// notifications between members and where each member's page listens.
export { WebServer, type WebBackend, type WebOptions } from './server.js';
export { DEFAULT_WEB_LISTEN, parseWebListen } from './listen.js';
export { MigrationBoard, MigrationTrack, type MigrationView, type RoundPoint, type ProgressEvent } from './migration-board.js';
export { householdView, type HouseholdView, type MachineView, type SessionView } from './household-view.js';
export { mintToken, verifyToken, householdViewerKey, localViewerKey, TokenGate, TOKEN_TTL_MS } from './viewer-token.js';
export { askToSend, answerSend, type SendOutcome } from './remote-send.js';
export { newsMessage, parseNews, postNews, receiveNews, type MigrationNews } from './migration-news.js';
export { NewsInbox } from './news-inbox.js';
export { NewsPublisher } from './news-publisher.js';
export { advertOf, parseAdvert, urlHost, type WebAdvert } from './member-web.js';
export { encodeUpdate, decodeUpdate, parseInput, MAX_INPUT_MESSAGE } from './screen-wire.js';
export { WsDecoder, WsProtocolError, encodeFrame } from './ws-frames.js';
export { acceptKey } from './ws-handshake.js';
