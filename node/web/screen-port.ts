// The part of the screen service (node/screen) the web server uses; one place
// to import it from, so the web server's tests can hand in a fake.
export type { ScreenInput, ScreenRect, ScreenService, ScreenState, ScreenSubscription, ScreenUpdate } from '../screen/index.js';
