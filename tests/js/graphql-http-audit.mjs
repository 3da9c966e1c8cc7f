// Runs the graphql-http package's server audits (GraphQL over HTTP spec
// conformance) against a running Tandem and prints one JSON line per audit:
//   {"id": "...", "name": "MUST ...", "status": "ok" | "warn" | "error", "reason": "..."}
// Usage: node graphql-http-audit.mjs <graphql url> <bearer token>
// The token is added to every request the audits make, as an intranet
// front-end would send it; nothing else about the requests is changed.
import { serverAudits } from 'graphql-http';

const [url, token] = process.argv.slice(2);
if (!url || !token) {
  console.error('usage: node graphql-http-audit.mjs <graphql url> <bearer token>');
  process.exit(2);
}

function withToken(input, init = {}) {
  const headers = new Headers(init.headers ?? {});
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
}

for (const audit of serverAudits({ url, fetchFn: withToken })) {
  const result = await audit.fn();
  const line = { id: result.id, name: result.name, status: result.status };
  if (result.status !== 'ok') {
    line.reason = result.reason;
  }
  console.log(JSON.stringify(line));
}
