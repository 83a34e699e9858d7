// A browser's requests from inside a network namespace (tests run this with
// `ip netns exec NS node ns-fetch.js …`, since a namespace's addresses, even
// its loopback, are reachable only from inside it):
//   ns-fetch URL [COOKIE]          one GET; prints {status, location, cookie, body} as one JSON line
//   ns-fetch --events URL COOKIE   follows a Server-Sent Events stream; prints each event as {event, data}
//   ns-fetch --post URL COOKIE JSON   a POST as the page makes it (its own Origin, a JSON body); prints as one GET
import { request } from 'node:http';

const args = process.argv.slice(2);
const events = args[0] === '--events';
const post = args[0] === '--post';
const [url, cookie, body] = events || post ? args.slice(1) : args;
if (!url) {
  console.error('usage: ns-fetch [--events|--post] URL [COOKIE] [JSON]');
  process.exit(2);
}

const headers: Record<string, string> = cookie ? { Cookie: cookie } : {};
if (post) { headers.Origin = new URL(url).origin; headers['Content-Type'] = 'application/json'; }
const req = request(url, { method: post ? 'POST' : 'GET', headers }, (res) => {
  res.setEncoding('utf8');
  if (events) {
    let buf = '';
    res.on('data', (d: string) => {
      buf += d;
      for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) process.stdout.write(`${JSON.stringify({ event, data: JSON.parse(data) as unknown })}\n`);
      }
    });
    res.on('end', () => process.exit(0));
    return;
  }
  let body = '';
  res.on('data', (d: string) => { body += d; });
  res.on('end', () => {
    const set = res.headers['set-cookie']?.[0];
    process.stdout.write(`${JSON.stringify({ status: res.statusCode, location: res.headers.location ?? null, cookie: set ? set.split(';')[0] : null, body })}\n`);
  });
});
req.on('error', (e) => { process.stdout.write(`${JSON.stringify({ status: 0, error: e.message })}\n`); process.exit(0); });
req.end(post ? body : undefined);
