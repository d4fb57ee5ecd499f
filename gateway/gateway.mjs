#!/usr/bin/env node
/**
 * wastex federation gateway.
 *
 * Serves the static supergraph (gateway/supergraph.graphql, written by `npm run compose`)
 * with the Hive Gateway runtime on one endpoint, /graphql:
 *   - queries and mutations (POST with a JSON body; GET queries with an `authorization` or
 *     `x-graphql-yoga-csrf` header), fanned out to catalog / matching / ledger over HTTP;
 *   - subscriptions over WebSocket (graphql-transport-ws) or SSE, reaching the subgraphs over WS;
 *   - GET /graphql from a browser: Hive Laboratory (GraphiQL), works offline;
 *   - GET /healthcheck (liveness) and /readiness (supergraph loaded).
 *
 * Env (all optional; a value it cannot use stops the start with one line naming it, exit 2):
 *   WASTEX_GATEWAY_HOST        listen host                       (127.0.0.1; beyond loopback
 *                              it needs WASTEX_JWT_SECRET or WASTEX_JWT_PUBLIC_KEY set)
 *   WASTEX_GATEWAY_PORT        listen port                       (4000)
 *   WASTEX_CATALOG_URL         catalog subgraph HTTP endpoint    (http://127.0.0.1:4001/graphql)
 *   WASTEX_MATCHING_URL        matching subgraph HTTP endpoint   (http://127.0.0.1:4002/graphql)
 *   WASTEX_LEDGER_URL          ledger subgraph HTTP endpoint     (http://127.0.0.1:4003/graphql)
 *   WASTEX_SUPERGRAPH          supergraph SDL file               (<this dir>/supergraph.graphql)
 *   WASTEX_GATEWAY_POLL_MS     re-read the supergraph file every N ms (0 = never; default 0);
 *                              `kill -HUP <pid>` reloads it at any time
 *   WASTEX_GATEWAY_LOG_LEVEL   trace | debug | info | warn | error (info; LOG_LEVEL also works)
 *   LOG_JSON=1                 JSON log lines; NO_COLOR is set automatically when stdout is not a TTY
 *   WASTEX_GATEWAY_MAX_DEPTH / WASTEX_GATEWAY_MAX_TOKENS / WASTEX_GATEWAY_MAX_ALIASES
 *                              operation limits                  (10 / 2000 / 15)
 *   WASTEX_GATEWAY_MAX_BODY_BYTES  request body and WebSocket message limit (1048576)
 *   WASTEX_GATEWAY_CORS_ORIGINS    origins whose pages may call it from a browser, comma-separated
 *                              (unset: http(s)://localhost, 127.0.0.1, [::1] on any port)
 * See README.md.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { isIPv4 } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { blockFieldSuggestionsPlugin } from '@escape.tech/graphql-armor-block-field-suggestions';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { createGatewayRuntime, getGraphQLWSOptions } from '@graphql-hive/gateway-runtime';
import { normalizeNodeRequest } from '@whatwg-node/server';
import { GraphQLError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';

const here = dirname(fileURLToPath(import.meta.url));
const env = process.env;

/** A setting the gateway cannot use: one line naming it and why, exit code 2, before it listens. */
function refuse(name, raw, why) {
  console.error(`wastex gateway: refusing to start: ${name}=${JSON.stringify(raw)}: ${why}`);
  process.exit(2);
}

/** A whole number from `min` to `max`, written in digits only: parseInt read "12abc" as 12. */
function intEnv(name, fallback, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}) {
  const raw = env[name];
  if (raw == null || raw === '') return fallback;
  const n = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    refuse(name, raw, `a whole number from ${min} to ${max} is expected`);
  }
  return n;
}

/** `text` as a URL, or null when it is not one. */
function urlOrNull(text) {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}

/** A subgraph's endpoint: an http(s) URL, else the first request to it would fail. */
function urlEnv(name, fallback) {
  const raw = env[name];
  if (raw == null || raw === '') return fallback;
  const url = urlOrNull(raw);
  if (url == null || !['http:', 'https:'].includes(url.protocol) || !url.hostname) {
    refuse(name, raw, 'an http(s) URL of a subgraph is expected (http://127.0.0.1:4001/graphql)');
  }
  return raw;
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];

const HOST = env.WASTEX_GATEWAY_HOST || '127.0.0.1';
const PORT = intEnv('WASTEX_GATEWAY_PORT', 4000, { min: 1, max: 65535 });

// The subgraphs check tokens, the gateway passes them on: listening beyond loopback with
// the services on the development secret (which is public) would take anyone's admin token.
// Beyond loopback, the deployment must say how tokens are signed (the services refuse the
// dev secret themselves only when they listen beyond loopback).
// Loopback is `localhost`, `::1` and any address of 127.0.0.0/8 (all of it is the loopback
// network, as the services hold too), but not a host name that merely starts `127.`: a name
// may resolve to any interface.
const loopback = host => host === 'localhost' || host === '::1' || (isIPv4(host) && host.startsWith('127.'));
if (!loopback(HOST) && !env.WASTEX_JWT_SECRET && !env.WASTEX_JWT_PUBLIC_KEY) {
  console.error(
    `wastex gateway: refusing to listen on ${HOST}: set WASTEX_JWT_SECRET (or WASTEX_JWT_PUBLIC_KEY), ` +
      'as the services have it; with the development secret anyone could sign an admin token',
  );
  process.exit(2);
}
/**
 * The origins of the pages that may call the gateway from a browser (CORS), from
 * WASTEX_GATEWAY_CORS_ORIGINS (comma-separated origins, `https://app.example.org`), or null:
 * unset, a page served from this machine (`http(s)://localhost`, `127.0.0.1` or `[::1]`, any
 * port). No `*`: the gateway passes tokens on, and on a developer's machine the services run on
 * the published development secret, so any site open in the developer's browser could sign
 * an admin token and read its answers.
 */
function corsOrigins(name) {
  const raw = env[name];
  if (raw == null || raw.trim() === '') return null;
  const origins = new Set();
  for (const entry of raw.split(',').map(e => e.trim()).filter(Boolean)) {
    const url = urlOrNull(entry);
    const bare = url != null && url.pathname === '/' && !url.search && !url.hash && !url.username;
    if (!bare || !['http:', 'https:'].includes(url.protocol) || !entry.startsWith(url.origin)) {
      refuse(name, raw, `origins are scheme://host[:port], comma-separated; ${JSON.stringify(entry)} is not one`);
    }
    origins.add(url.origin);
  }
  return origins;
}
const CORS_ORIGINS = corsOrigins('WASTEX_GATEWAY_CORS_ORIGINS');
const LOCAL_ORIGIN = /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/;
const originAllowed = origin => (CORS_ORIGINS ? CORS_ORIGINS.has(origin) : LOCAL_ORIGIN.test(origin));
/**
 * CORS: an allowed origin is named back (`Vary: Origin`), with the methods and headers the
 * API takes and never `Access-Control-Allow-Credentials` (tokens travel in the authorization
 * header, so a browser has no cookie to send); any other origin (`null` included) gets no CORS
 * header at all, and its browser refuses the page the answer. A page served by the gateway
 * itself (the GraphQL IDE) is same-origin and needs none.
 */
function cors(request) {
  const origin = request.headers.get('origin');
  if (origin == null || !originAllowed(origin)) return false;
  return {
    origin: [origin],
    credentials: false,
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: [
      'authorization',
      'content-type',
      'accept',
      'x-request-id',
      'x-graphql-yoga-csrf',
      'apollographql-client-name',
      'apollographql-client-version',
    ],
    exposedHeaders: ['x-request-id'],
    maxAge: 600,
  };
}
/** Every answer depends on the Origin (CORS headers or none): a cache must keep them apart. */
const varyByOrigin = {
  onResponse({ response }) {
    if (!/\borigin\b/i.test(response.headers.get('vary') ?? '')) response.headers.append('vary', 'Origin');
  },
};
/**
 * A POST's body is JSON (`application/json`, or `application/graphql+json` as the GraphQL over
 * HTTP drafts named it): the runtime also took `application/x-www-form-urlencoded` and
 * `application/graphql`, and a page on any site can make its visitor's browser send a form
 * without a preflight. Anything else is 415 before the body is read. (A GET must carry a header
 * no page sends unasked: the runtime's `csrfPrevention`, below.)
 */
const JSON_BODIES = new Set(['application/json', 'application/graphql+json']);
const jsonBodiesOnly = {
  onRequestParse({ request }) {
    if (request.method !== 'POST') return;
    const type = (request.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
    if (JSON_BODIES.has(type)) return;
    throw new GraphQLError('POST a JSON body (content-type: application/json)', {
      extensions: { code: 'UNSUPPORTED_MEDIA_TYPE', http: { status: 415 } },
    });
  },
};
/**
 * A request a browser may send cross-site without a preflight (no content type, a form,
 * text/plain: after `jsonBodiesOnly`, in practice a GET) must carry a header a page can add
 * only after a preflight its origin passes: `authorization` (clients with a token send it
 * anyway) or `x-graphql-yoga-csrf` (any value, for an anonymous GET). The runtime's own
 * `csrfPrevention` does the same but answers without a code, which a client cannot act on.
 */
const CSRF_HEADERS = ['authorization', 'x-graphql-yoga-csrf'];
const SIMPLE_BODIES = ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'];
const csrfHeaderRequired = {
  onRequestParse({ request }) {
    const type = request.headers.get('content-type')?.toLowerCase();
    if (type && !SIMPLE_BODIES.some(simple => type.startsWith(simple))) return;
    if (CSRF_HEADERS.some(name => request.headers.has(name))) return;
    throw new GraphQLError(
      `send an authorization or an x-graphql-yoga-csrf header (any value) with a ${request.method}: ` +
        'a page on another site cannot, so its visitor cannot be made to send this request',
      { extensions: { code: 'CSRF_HEADER_REQUIRED', http: { status: 403 } } },
    );
  },
};
const SUPERGRAPH = resolve(env.WASTEX_SUPERGRAPH || join(here, 'supergraph.graphql'));
const POLL_MS = intEnv('WASTEX_GATEWAY_POLL_MS', 0);
const LOG_LEVEL = env.WASTEX_GATEWAY_LOG_LEVEL || env.LOG_LEVEL || 'info';
// LOG_LEVEL too: the runtime's logger reads it itself, and threw a stack trace at `WARNING`.
for (const name of ['WASTEX_GATEWAY_LOG_LEVEL', 'LOG_LEVEL']) {
  if (env[name] && !LOG_LEVELS.includes(env[name])) {
    refuse(name, env[name], `one of ${LOG_LEVELS.join(', ')} is expected`);
  }
}
// Plain log lines when written to a file or pipe (the logger reads NO_COLOR when it is created).
if (!process.stdout.isTTY && env.NO_COLOR == null && env.FORCE_COLOR == null) env.NO_COLOR = '1';
const LIMITS = {
  // Relay connections cost three levels (offers{edges{node{…}}}) and a node often
  // reaches into another subgraph (node{offer{site{enterprise{name}}}}): 6 is too tight.
  depth: intEnv('WASTEX_GATEWAY_MAX_DEPTH', 10, { min: 1 }),
  tokens: intEnv('WASTEX_GATEWAY_MAX_TOKENS', 2000, { min: 1 }),
  aliases: intEnv('WASTEX_GATEWAY_MAX_ALIASES', 15, { min: 1 }),
};

/** Subgraph name (as in the supergraph's join__Graph) -> HTTP endpoint. */
const SUBGRAPHS = {
  catalog: urlEnv('WASTEX_CATALOG_URL', 'http://127.0.0.1:4001/graphql'),
  matching: urlEnv('WASTEX_MATCHING_URL', 'http://127.0.0.1:4002/graphql'),
  ledger: urlEnv('WASTEX_LEDGER_URL', 'http://127.0.0.1:4003/graphql'),
};

if (!existsSync(SUPERGRAPH)) {
  console.error(
    `wastex gateway: supergraph file not found: ${SUPERGRAPH}\n` +
      `  run \`npm run compose\` in gateway/ (or set WASTEX_SUPERGRAPH)`,
  );
  process.exit(1);
}

/**
 * The caller's bearer token: the HTTP `authorization` header (also present on a WS upgrade
 * if the client set it), else the graphql-ws `connection_init` payload's `Authorization`
 * (or `authorization`).
 */
function authorizationOf(request, context) {
  const fromHeader = request?.headers?.get?.('authorization');
  if (fromHeader) return fromHeader;
  const params = context?.connectionParams;
  const fromParams = params?.Authorization ?? params?.authorization;
  return typeof fromParams === 'string' && fromParams ? fromParams : undefined;
}

/** Puts the token on the context as `wastexAuthorization`, for the WS transport's interpolation. */
const authorizationContextPlugin = {
  onContextBuilding({ context, extendContext }) {
    const token = authorizationOf(context.request, context);
    if (token) extendContext({ wastexAuthorization: token });
  },
};

/**
 * Per subgraph: `location` overrides the URL recorded in supergraph.graphql (entries are merged
 * over the join__graph url by subgraph name); subscriptions go over graphql-transport-ws to the
 * same URL (http -> ws), forwarding the token as connection_init payload `Authorization` (what a
 * strawberry subgraph reads from `info.context["connection_params"]`) and as the upgrade request's
 * `authorization` header. Empty interpolations are dropped, so anonymous callers send neither.
 */
const transportEntries = Object.fromEntries(
  Object.entries(SUBGRAPHS).map(([name, url]) => [
    name,
    {
      location: url,
      options: {
        subscriptions: {
          kind: 'ws',
          location: url,
          headers: [['authorization', '{context.wastexAuthorization}']],
          options: {
            connectionParams: { Authorization: '{context.wastexAuthorization}' },
          },
        },
      },
    },
  ]),
);

/**
 * Masks the error that ends a subscription when its subgraph goes away (restarted,
 * unreachable): the WebSocket transport's own (`connect ECONNREFUSED 127.0.0.1:4003`: no
 * code, the subgraph's address), which the runtime raises as a GraphQL error of its own
 * making and so past `maskedErrors`. A subgraph's errors carry its `serviceName`, the
 * gateway's deliberate ones a code: both pass as they are; anything else is logged and
 * becomes `Unexpected error.` (INTERNAL_SERVER_ERROR), as an unexpected failure of a query
 * does. The client is then sent `complete`: it subscribes again.
 */
function maskedSubscriptionErrors(log) {
  return {
    onSubscribe() {
      return {
        onSubscribeError({ error, setError }) {
          const extensions = error?.extensions ?? {};
          if (extensions.serviceName != null || extensions.code != null) return;
          log.error({ error: error?.message ?? String(error) }, 'subscription failed');
          setError(
            new GraphQLError('Unexpected error.', { extensions: { code: 'INTERNAL_SERVER_ERROR' } }),
          );
        },
      };
    },
  };
}

/**
 * Hides what graphql-armor's plugin leaves of graphql-js's suggestions: it masks
 * `Did you mean "x"?` in validation errors only, so an enum value's (`Did you mean the enum
 * value "FACTORY"?`) and those of a variable's value, coerced after validation (`Field
 * "wasteCod" is not defined by type "OfferFilter". Did you mean "wasteCode"?`), still reached
 * the client. A subgraph's errors (they carry `serviceName`) are its answers and pass as
 * they are.
 */
const SUGGESTION = /Did you mean [^?]*\?/g;
function hideSuggestions(errors) {
  return errors?.map(error => {
    if (error?.extensions?.serviceName != null || typeof error?.message !== 'string') return error;
    const message = error.message.replace(SUGGESTION, '[Suggestion hidden]').trim();
    if (message === error.message) return error;
    return new GraphQLError(message, {
      nodes: error.nodes,
      source: error.source,
      positions: error.positions,
      path: error.path,
      originalError: error.originalError,
      extensions: error.extensions,
    });
  });
}
function masked(result, setResult) {
  if (result?.errors?.length && !(Symbol.asyncIterator in result)) {
    setResult({ ...result, errors: hideSuggestions(result.errors) });
  }
}
const suggestionsHidden = {
  onValidate() {
    return ({ valid, result, setResult }) => {
      if (!valid) setResult(hideSuggestions(result));
    };
  },
  onExecute() {
    return { onExecuteDone: ({ result, setResult }) => masked(result, setResult) };
  },
  onSubscribe() {
    return { onSubscribeResult: ({ result, setResult }) => masked(result, setResult) };
  },
};

// Hive Laboratory: a ~21 MB self-contained page (no CDN), so GraphiQL works offline.
// Loaded on the first browser visit (saves ~0.3 s of startup) and rendered once.
let laboratoryHtml;
function renderGraphiQL(opts) {
  laboratoryHtml ??= import('@graphql-hive/render-laboratory').then(m => m.renderLaboratory(opts));
  return laboratoryHtml;
}

const gateway = createGatewayRuntime({
  // A function (not the path) so the runtime treats the supergraph as reloadable:
  // re-read every WASTEX_GATEWAY_POLL_MS ms, or on SIGHUP (see below). An unchanged file is a no-op.
  supergraph: () => readFile(SUPERGRAPH, 'utf8'),
  pollingInterval: POLL_MS || undefined,
  transportEntries,
  // Entities fetched from another subgraph (`_entities`) are batched but not cached. The
  // loader lives as long as the operation's context, and a subscription's context lasts
  // as long as the subscription: cached, every event after the first about the same
  // entity (offerChanged's offer, matchProposed's offer …) repeated it as first read.
  // A query asking for one entity twice now sends it twice in one batch.
  __experimental__batchDelegateOptions: { cache: false },
  propagateHeaders: {
    fromClientToSubgraphs({ request, context }) {
      const token = authorizationOf(request, context);
      return token ? { authorization: token } : {};
    },
  },
  // x-request-id: taken from the client or generated, sent to every subgraph and returned.
  requestId: true,
  cors,
  maskedErrors: { isDev: false },
  logging: LOG_LEVEL,
  productName: 'wastex gateway',
  graphiql: { title: 'wastex GraphQL' },
  renderGraphiQL,
  // `/` in a browser goes to the GraphQL IDE; any other unknown path is a plain 404.
  landingPage: ({ url, fetchAPI }) =>
    url.pathname === '/'
      ? new fetchAPI.Response(null, { status: 302, headers: { location: '/graphql' } })
      : new fetchAPI.Response('Not Found', { status: 404 }),
  plugins: ({ log }) => [
    varyByOrigin,
    jsonBodiesOnly,
    // WebSocket subscriptions do not come this way (their Origin is checked on upgrade); the
    // GraphQL IDE's SSE subscriptions (GET) carry its headers.
    csrfHeaderRequired,
    authorizationContextPlugin,
    maskedSubscriptionErrors(log),
    maxDepthPlugin({ n: LIMITS.depth, flattenFragments: true }),
    maxTokensPlugin({ n: LIMITS.tokens }),
    maxAliasesPlugin({ n: LIMITS.aliases }),
    blockFieldSuggestionsPlugin(),
    suggestionsHidden,
  ],
});

// Load the supergraph now, not on the first request: a subscription arriving over WS before
// any HTTP request would otherwise meet an unloaded schema. A broken file fails the start.
try {
  await gateway.getSchema();
} catch (err) {
  console.error(`wastex gateway: cannot load supergraph ${SUPERGRAPH}: ${err?.message ?? err}`);
  process.exit(1);
}

// A body is read whole and parsed before the operation limits look at it (and variables are
// not the document they count): one over any real request's size is refused unread. A POST
// must say its length (every GraphQL client does), so Node's parser holds it to that.
const MAX_BODY_BYTES = intEnv('WASTEX_GATEWAY_MAX_BODY_BYTES', 1024 * 1024, { min: 1 });
function refuseBody(res, status, code, message) {
  const body = JSON.stringify({ errors: [{ message, extensions: { code } }] });
  res.writeHead(status, { 'content-type': 'application/json', connection: 'close' });
  res.end(body);
}
// A refused body is read (and dropped) before the answer, up to this much: a server closing
// on an unread body resets the connection under a client still sending, which then never
// reads why. Beyond it the connection is cut.
const DRAIN_BYTES = 8 * MAX_BODY_BYTES;
function refuseAfterReading(req, res, status, code, message) {
  let seen = 0;
  req.on('data', chunk => {
    seen += chunk.length;
    if (seen > DRAIN_BYTES) req.destroy();
  });
  req.on('end', () => refuseBody(res, status, code, message));
}
/** Why a request's body is refused ([status, code, message]), or null. */
function bodyRefusal(req) {
  const declared = req.headers['content-length'];
  if (declared != null && Number(declared) > MAX_BODY_BYTES) {
    return [413, 'REQUEST_TOO_LARGE', `the request body is over ${MAX_BODY_BYTES} bytes`];
  }
  if (declared == null && req.headers['transfer-encoding'] != null) {
    return [411, 'LENGTH_REQUIRED', "say the request body's length (content-length)"];
  }
  return null;
}
// DNS rebinding: a site whose owner points its name at 127.0.0.1 once its page is open is
// same-origin to that page (CORS and the WebSocket check let it through) and would reach a
// developer's gateway with a token signed with the public dev secret. On loopback the gateway
// answers only requests naming this machine; beyond it, names are the deployment's proxy's.
const ON_LOOPBACK = loopback(HOST);
function misdirected(req) {
  if (!ON_LOOPBACK) return false;
  try {
    const name = new URL(`http://${req.headers.host ?? ''}`).hostname;
    return !loopback(name === '[::1]' ? '::1' : name);
  } catch {
    return true;
  }
}
const MISDIRECTED = [421, 'MISDIRECTED_REQUEST', 'this gateway answers only requests to this machine'];
/** Why a request is refused before the gateway reads it ([status, code, message]), or null. */
const refusalOf = req => (misdirected(req) ? MISDIRECTED : bodyRefusal(req));
const server = createServer((req, res) => {
  const refusal = refusalOf(req);
  if (refusal == null) gateway(req, res);
  else if (Number(req.headers['content-length']) > DRAIN_BYTES) refuseBody(res, ...refusal);
  else refuseAfterReading(req, res, ...refusal);
});
// A client that asks first (`expect: 100-continue`, as curl does for large bodies) is told at
// once and sends nothing.
server.on('checkContinue', (req, res) => {
  const refusal = refusalOf(req);
  if (refusal != null) {
    refuseBody(res, ...refusal);
    return;
  }
  res.writeContinue();
  gateway(req, res);
});
// An idle client connection stays open longer than any client or proxy keeps one idle (Node
// closes after 5 s): the server closing first races a request sent on it. Headers may take
// no longer than that (Node wants headersTimeout above keepAliveTimeout).
server.keepAliveTimeout = 75_000;
server.headersTimeout = 76_000;

// WebSocket upgrades on the GraphQL path only (noServer: the HTTP server's own errors, such as
// EADDRINUSE, are then reported once below instead of also through graphql-ws).
// Browsers apply no CORS to a WebSocket: a page on any site may open one (and, on a developer's
// machine, subscribe with an admin token signed with the public development secret). A browser
// says which page opens it (Origin): the origins CORS allows and the gateway's own pages (the
// GraphQL IDE) may; other clients send no Origin.
function upgradeOriginAllowed(req) {
  const origin = req.headers.origin;
  if (origin == null || originAllowed(origin)) return true;
  const url = urlOrNull(origin);
  return url != null && url.host === req.headers.host;
}
const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_BODY_BYTES });
server.on('upgrade', (req, socket, head) => {
  if (new URL(req.url ?? '/', 'http://localhost').pathname !== gateway.graphqlEndpoint) {
    socket.destroy();
    return;
  }
  if (misdirected(req)) {
    socket.end('HTTP/1.1 421 Misdirected Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    return;
  }
  if (!upgradeOriginAllowed(req)) {
    socket.end('HTTP/1.1 403 Forbidden\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, ws => wss.emit('connection', ws, req));
});
useServer(
  getGraphQLWSOptions(gateway, async ctx => {
    await gateway.getSchema(); // HTTP requests wait for a (re)loading supergraph; so must WS
    return {
      req: ctx.extra.request,
      socket: ctx.extra.socket,
      // Without a WHATWG request on the context, propagateHeaders does not run for
      // subscriptions and entity fields fetched per event would lose the token.
      request: normalizeNodeRequest(ctx.extra.request, gateway.fetchAPI),
    };
  }),
  wss,
);

let stopping = false;
async function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  const force = setTimeout(() => process.exit(0), 3000);
  force.unref();
  try {
    for (const client of wss.clients) client.close(1001, 'Going Away');
    wss.close();
    server.close();
    server.closeAllConnections?.();
    await gateway.dispose();
  } catch (err) {
    console.error(`wastex gateway: error during ${signal} shutdown:`, err);
  }
  process.exit(0);
}
process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));
process.on('SIGHUP', () => {
  console.log(`wastex gateway: SIGHUP, reloading ${SUPERGRAPH}`);
  gateway.invalidateUnifiedGraph();
});

server.on('error', err => {
  console.error(`wastex gateway: cannot listen on ${HOST}:${PORT}: ${err.message}`);
  process.exit(1);
});
server.listen(PORT, HOST, () => {
  const shownHost = HOST.includes(':') ? `[${HOST}]` : HOST;
  console.log(`wastex gateway listening on http://${shownHost}:${PORT}${gateway.graphqlEndpoint}`);
});
