// Composes Tandem's Apollo Federation v2 subgraph with a small "people"
// subgraph through a real @apollo/gateway, runs one query through it
// in-process, and prints the result as one line of JSON.
//
//   node federation-gateway.mjs <tandem graphql url> <token> <query>
//
// The people subgraph (served here on a free loopback port) owns
//   type Employee @key(fields: "externalId") { externalId: String!  badge: String }
//   type Query { directory: [Employee!]! }
// badge is "B-" + externalId. directory returns one Employee representation per
// externalId listed (comma-separated) in FED_DIRECTORY_EXTERNAL_IDS (default:
// none), so a query such as `{ directory { badge displayName } }` makes the
// gateway call Tandem's `_entities` with `{__typename: "Employee", externalId}`.
//
// The token is sent as `Authorization: Bearer <token>` on the composition-time
// `_service { sdl }` request, and on every query-time request the gateway makes
// to Tandem it forwards the Authorization header of the incoming client request.
//
// Stdout: exactly one line, {"data": ..., "errors": ..., "extensions": ...}
// (errors and extensions omitted when absent); exit 0. Composition or subgraph-loading failure: message on
// stderr, exit 1. Usage error: exit 2. FED_DEBUG=1 logs gateway debug to stderr.

// Before the gateway is loaded: @apollo/gateway >= 2.10 otherwise starts a
// metrics exporter that probes cloud metadata endpoints and reports to
// Apollo's servers. Nothing here may leave the machine.
process.env.APOLLO_TELEMETRY_DISABLED = 'true';
// The gateway's fetcher (make-fetch-happen) honours proxy variables: keep
// loopback traffic direct if any are set.
for (const name of ['NO_PROXY', 'no_proxy']) {
  const loopback = '127.0.0.1,localhost,::1';
  process.env[name] = process.env[name] ? `${process.env[name]},${loopback}` : loopback;
}

import http from 'node:http';
import { createHash } from 'node:crypto';

const { ApolloGateway, IntrospectAndCompose, RemoteGraphQLDataSource } = await import('@apollo/gateway');
// GraphQLDataSourceRequestKind.INCOMING_OPERATION (the enum is not exported).
const INCOMING_OPERATION = 'incoming operation';
const { buildSubgraphSchema } = await import('@apollo/subgraph');
const { parse, validate, execute, GraphQLError } = await import('graphql');

const [tandemUrl, token, query] = process.argv.slice(2);
if (!tandemUrl || !token || !query) {
  process.stderr.write('usage: node federation-gateway.mjs <tandem graphql url> <token> <query>\n');
  process.exit(2);
}

const debug = process.env.FED_DEBUG === '1';
const logger = {
  debug: (...a) => debug && console.error('[gateway debug]', ...a),
  info: (...a) => debug && console.error('[gateway info]', ...a),
  warn: (...a) => console.error('[gateway warn]', ...a),
  error: (...a) => console.error('[gateway error]', ...a),
};

function fail(message) {
  process.stderr.write(`federation-gateway: ${message}\n`);
  process.exit(1);
}

// ---- the "people" subgraph ------------------------------------------------

const peopleTypeDefs = parse(`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])

  type Employee @key(fields: "externalId") {
    externalId: String!
    badge: String
  }

  type Query {
    directory: [Employee!]!
  }
`);

const directoryIds = (process.env.FED_DIRECTORY_EXTERNAL_IDS ?? '')
  .split(',').map((s) => s.trim()).filter(Boolean);

const peopleSchema = buildSubgraphSchema({
  typeDefs: peopleTypeDefs,
  resolvers: {
    Query: {
      directory: () => directoryIds.map((externalId) => ({ externalId })),
    },
    Employee: {
      __resolveReference: (ref) => ({ externalId: ref.externalId }),
      badge: (e) => `B-${e.externalId}`,
    },
  },
});

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const people = http.createServer(async (req, res) => {
  const send = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  try {
    if (req.method !== 'POST') return send(405, { errors: [{ message: 'POST only' }] });
    const body = JSON.parse(await readBody(req));
    if (debug) console.error('[people <-]', JSON.stringify(body));
    let document;
    try {
      document = parse(body.query);
    } catch (e) {
      return send(200, { errors: [{ message: e.message }] });
    }
    const validationErrors = validate(peopleSchema, document);
    if (validationErrors.length) return send(200, { errors: validationErrors.map((e) => e.toJSON()) });
    const result = await execute({
      schema: peopleSchema,
      document,
      variableValues: body.variables,
      operationName: body.operationName,
    });
    send(200, result);
  } catch (e) {
    send(400, { errors: [{ message: String(e?.message ?? e) }] });
  }
});
await new Promise((resolve, reject) => {
  people.once('error', reject);
  people.listen(0, '127.0.0.1', resolve);
});
const peopleUrl = `http://127.0.0.1:${people.address().port}/graphql`;

// ---- the gateway ----------------------------------------------------------

class AuthForwardingDataSource extends RemoteGraphQLDataSource {
  willSendRequest({ kind, request, context }) {
    // The composition-time `_service { sdl }` fetch (LOADING_SCHEMA) and health
    // checks have no client request behind them (context is {}): use the
    // token. Query-plan fetches (INCOMING_OPERATION) forward the client's.
    const authorization = kind === INCOMING_OPERATION
      ? context?.authorization
      : `Bearer ${token}`;
    if (authorization) request.http.headers.set('authorization', authorization);
  }
}

const gateway = new ApolloGateway({
  logger,
  supergraphSdl: new IntrospectAndCompose({
    subgraphs: [
      { name: 'tandem', url: tandemUrl },
      { name: 'people', url: peopleUrl },
    ],
  }),
  buildService: ({ name, url }) =>
    // Only Tandem gets the client's credentials.
    name === 'tandem' ? new AuthForwardingDataSource({ url }) : new RemoteGraphQLDataSource({ url }),
});

async function shutdown(code) {
  try { await gateway.stop(); } catch { /* not loaded */ }
  people.close();
  process.exit(code);
}

let schema, executor;
try {
  ({ schema, executor } = await gateway.load());
} catch (e) {
  process.stderr.write(`federation-gateway: composition failed\n${e?.message ?? e}\n`);
  for (const cause of e?.causes ?? []) process.stderr.write(`  ${cause.message ?? cause}\n`);
  people.close();
  process.exit(1);
}

// ---- one request, as a server in front of the gateway would run it --------

// The "incoming client request": it carries the client's bearer token, which
// AuthForwardingDataSource forwards to Tandem.
const incomingHeaders = new Map([['authorization', `Bearer ${token}`]]);

function print(result) {
  const out = { data: result.data };
  if (result.errors?.length) {
    out.errors = result.errors.map((e) => (e instanceof GraphQLError ? e.toJSON() : e));
  }
  // The gateway reports nulls it had to propagate (e.g. an `_entities` entry
  // that came back null under a non-null field) here, not in `errors`.
  if (result.extensions) out.extensions = result.extensions;
  process.stdout.write(JSON.stringify(out) + '\n');
}

let document;
try {
  document = parse(query);
} catch (e) {
  print({ errors: [e] });
  await shutdown(0);
}
const validationErrors = validate(schema, document);
if (validationErrors.length) {
  print({ errors: validationErrors });
  await shutdown(0);
}

const request = { query, variables: {}, http: { method: 'POST', url: '/graphql', headers: incomingHeaders } };
const result = await executor({
  request,
  source: query,
  document,
  queryHash: createHash('sha256').update(query).digest('hex'),
  operationName: null,
  operation: document.definitions.find((d) => d.kind === 'OperationDefinition'),
  schema,
  context: { authorization: incomingHeaders.get('authorization') },
  logger,
  cache: undefined,
  metrics: {},
  overallCachePolicy: undefined,
  response: { http: { headers: new Map() } },
});
print(result);
await shutdown(0);
