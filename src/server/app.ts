/**
 * The HTTP API of the runtime (`switchboard serve`): a fastify server over a {@link RuntimeCore}.
 *
 * Design notes:
 * - Every request but the two probes is authenticated in an `onRequest` hook, before its
 *   body is read and before routing answers 404: without a valid token nothing else is said.
 *   The same hook applies the rate limits (rate-limit.ts): an address that keeps failing to
 *   authenticate is refused 429 before its token is even looked at, then per address, per
 *   token and per sensitive route (fingerprints, token creation).
 * - Tenancy is checked here, on every endpoint, from the principal and the company of each id
 *   (`RuntimeCore.companyOf`), and the runtime re-checks change sets itself. Reads are filtered
 *   by the runtime for the principal and filtered again here (defence in depth).
 * - `?company=C` gives one company's view; for a company admin it must be one of theirs (403
 *   otherwise); without it a company admin gets the union of their companies.
 * - The runtime is synchronous (better-sqlite3): a change set is applied inside one request
 *   handler without interleaving, so "the change set in flight" at shutdown is whichever
 *   handler is running, and `close()` waits for it.
 * - Request bodies are validated against `schemas.ts` (400 with every problem); resource bodies
 *   are the runtime's to check (422 with problems). Before either, the JSON parser refuses a
 *   body nested more than MAX_JSON_DEPTH levels (400): `JSON.parse` takes any depth, but every
 *   walk after it (schema validation, `JSON.stringify`, `structuredClone`) would overflow the
 *   stack. Query strings are flat (fastify's parser builds no nested objects).
 * - Logs: one line per request (method, route, status, duration, username): never a header,
 *   a body, a token or a secret.
 */
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { KIND_NAMES, isKindName, kindInfo, type KindName } from '../model/kinds.js';
import type { CommittedEvent, Principal, RuntimeCore } from '../runtime/core.js';
import type { AuditEntry, Change, ChangeProblem, ChangeSet, ChangeSetResult, ChangeVia, LiveResource, RefusalCode } from '../runtime/types.js';
import { describeJsonPath, MAX_JSON_DEPTH, tooDeepAt } from '../runtime/json-depth.js';
import { authenticate, type Authenticated, companiesOfChange, companyList, idOfBody, principalOf, requireCompany, requireSuperUser } from './auth.js';
import { HttpError, errorBody } from './errors.js';
import { jsonSyntaxError, lineColumn } from './json-syntax.js';
import { ServerMetrics } from './metrics.js';
import { openapiText } from './openapi.js';
import { RateLimiter, resolveRateLimits, type RateLimits } from './rate-limit.js';
import { BUILT_IN_ADMIN, isReservedUsername, type TokenStore } from './tokens.js';
import { checkBody } from './validate.js';

export interface ApiServerOptions {
  readonly runtime: RuntimeCore;
  readonly tokens: TokenStore;
  readonly logger: Logger;
  /** Largest request body, bytes (default 64 MiB: a 10,000-user change set is a few MiB). */
  readonly bodyLimit?: number;
  /** Interval of SSE heartbeat comments (default 15 s). */
  readonly heartbeatMs?: number;
  /** Unread bytes after which an event stream is dropped (default {@link MAX_UNREAD_EVENTS_BYTES}, 8 MiB). */
  readonly maxUnreadEventBytes?: number;
  /** Whether engines have started (for /readyz); default: no engine is still `starting`. */
  readonly ready?: () => boolean;
  /** Include Node process metrics in /metrics (default true). */
  readonly processMetrics?: boolean;
  /** Rate limits; each one not given is its default ({@link DEFAULT_RATE_LIMITS}, docs/runtime.md "Rate limits"). */
  readonly rateLimits?: Partial<RateLimits>;
}

export interface ApiServer {
  readonly app: FastifyInstance<Server, IncomingMessage, ServerResponse, Logger>;
  readonly metrics: ServerMetrics;
  /** The rate limits in force (the defaults, with the options given). */
  readonly rateLimits: RateLimits;
  /** Every route the server answers (method and URL template; HEAD routes left out): what the OpenAPI document must describe. */
  readonly routes: readonly { readonly method: string; readonly url: string }[];
  /** Listen on host:port (port 0: any free port); resolves to the base URL. */
  listen(host: string, port: number): Promise<string>;
  /** Stop accepting, end event streams, wait for requests in flight. Does not close the runtime. */
  close(): Promise<void>;
}

const DEFAULT_BODY_LIMIT = 64 * 1024 * 1024;
/** Unread bytes after which an event stream is dropped (the client reconnects and re-reads the state). */
export const MAX_UNREAD_EVENTS_BYTES = 8 * 1024 * 1024;
/** Default interval of the event streams' `: heartbeat` comments. */
export const HEARTBEAT_MS = 15_000;

/** HTTP status of a refused change set. */
export function refusalStatus(code: RefusalCode): number {
  switch (code) {
    case 'invalid':
      return 422;
    case 'forbidden':
      return 403;
    default:
      // stale, exists, not-found, not-managed: the change set conflicts with the live state.
      return 409;
  }
}

function refusal(code: RefusalCode, message: string, revision: number, problems: readonly ChangeProblem[] = []): ChangeSetResult {
  return { ok: false, code, message, revision, problems };
}

export async function createApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const { runtime, tokens } = options;
  const metrics = new ServerMetrics(runtime, { processMetrics: options.processMetrics });
  const principals = new WeakMap<FastifyRequest, Principal>();
  const started = new WeakMap<FastifyRequest, bigint>();
  const streams = new Set<(shutdown?: boolean) => void>();
  let closing = false;

  const app = Fastify({
    loggerInstance: options.logger,
    // One line per request is written by the onResponse hook below, with the fields we choose.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { maxParamLength: 2048, ignoreTrailingSlash: true },
  });
  const limiter = await RateLimiter.create(app, resolveRateLimits(options.rateLimits));
  const routes: { method: string; url: string }[] = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) if (method !== 'HEAD') routes.push({ method, url: r.url });
  });

  const principalOfRequest = (req: FastifyRequest): Principal => {
    const p = principals.get(req);
    if (!p) throw new HttpError(401, 'unauthorized', 'not authenticated');
    return p;
  };

  // Fail closed: everything but the two probes needs a token, unknown paths included. The
  // probes are never rate limited either: a misbehaving client must not fail them.
  app.addHook('onRequest', async (req) => {
    started.set(req, process.hrtime.bigint());
    const path = req.url.split('?')[0]!.replace(/\/+$/, '');
    if (path === '/healthz' || path === '/readyz') return;
    await limiter.beforeAuthentication(req);
    let authenticated: Authenticated;
    try {
      authenticated = authenticate(req.headers.authorization, tokens, runtime);
    } catch (e) {
      if (e instanceof HttpError && e.status === 401) await limiter.authenticationFailed(req);
      throw e;
    }
    principals.set(req, authenticated.principal);
    await limiter.authenticated(req, { id: authenticated.tokenId, username: authenticated.principal.username });
  });

  app.addHook('onResponse', async (req, reply) => {
    const t0 = started.get(req);
    const seconds = t0 === undefined ? 0 : Number(process.hrtime.bigint() - t0) / 1e9;
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.request(req.method, route, reply.statusCode, seconds);
    req.log.info(
      { method: req.method, route, path: req.url.split('?')[0], status: reply.statusCode, ms: Math.round(seconds * 1000), user: principals.get(req)?.username },
      'request',
    );
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    let e: HttpError;
    if (err instanceof HttpError) e = err;
    // Never echo a parser's message: some quote the body, and a body may hold a secret.
    else if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') e = new HttpError(400, 'bad-request', 'the request body is empty: send a JSON document');
    else if (err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError) e = new HttpError(400, 'bad-request', 'the request body is not valid JSON');
    else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') e = new HttpError(413, 'payload-too-large', `the request body is over the limit of ${options.bodyLimit ?? DEFAULT_BODY_LIMIT} bytes`);
    else if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') e = new HttpError(415, 'unsupported-media-type', 'send the body as Content-Type: application/json');
    else if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) e = new HttpError(400, 'bad-request', `bad request (${err.code ?? err.statusCode})`);
    else {
      req.log.error({ err: { type: err.name, message: err.message, stack: err.stack } }, 'request failed');
      e = new HttpError(500, 'internal', 'internal error: see the server log');
    }
    void reply.code(e.status).headers(e.headers).send(errorBody(e));
  });

  // JSON only: no text/plain bodies. Fastify's own JSON parser (empty body, syntax, prototype
  // poisoning), then the depth check: a deeper body is refused before anything walks it.
  app.removeContentTypeParser('text/plain');
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    parseJson(req, body as string, (err: Error | null, value?: unknown) => {
      if (err) return done(whyNotJson(body as string) ?? err, undefined);
      const at = tooDeepAt(value, MAX_JSON_DEPTH);
      if (!at) return done(null, value);
      done(new HttpError(400, 'bad-request', `the request body nests more than ${MAX_JSON_DEPTH} levels deep (at ${describeJsonPath(at)}): no request of this API does; send resources as their schemas describe them`), undefined);
    });
  });

  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(errorBody(new HttpError(404, 'not-found', `no endpoint ${req.method} ${req.url.split('?')[0]}: see docs/runtime.md, "HTTP API"`)));
  });

  // --- probes and metrics ---------------------------------------------------------------

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_req, reply) => {
    const reason = notReadyReason();
    if (reason) return reply.code(503).send({ status: 'not-ready', reason });
    return { status: 'ready' };
  });

  function notReadyReason(): string | undefined {
    if (closing) return 'shutting down';
    try {
      runtime.revision();
    } catch {
      return 'the store is not open';
    }
    if (options.ready) return options.ready() ? undefined : 'engines are starting';
    const starting = runtime.status().engines.filter((e) => e.state === 'starting');
    return starting.length > 0 ? `engines starting: ${starting.map((e) => e.name).join(', ')}` : undefined;
  }

  // The OpenAPI document of this API (the one in docs/openapi.json), built once on first use.
  // Authenticated like everything but the probes: it is public in the repository anyway.
  let openapi: string | undefined;
  app.get('/openapi.json', async (_req, reply) => {
    openapi ??= openapiText();
    return reply.header('content-type', 'application/json; charset=utf-8').send(openapi);
  });

  app.get('/metrics', async (req, reply) => {
    requireSuperUser(principalOfRequest(req), 'reading metrics');
    return reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  // --- views: ?company=C ----------------------------------------------------------------

  /** The principal whose view a request asks for: theirs, or one company's (403 if not theirs). */
  function viewOf(req: FastifyRequest, what: string): { principal: Principal; view: Principal; company?: string } {
    const principal = principalOfRequest(req);
    const company = queryString(req, 'company');
    if (company === undefined) return { principal, view: principal };
    requireCompany(runtime, principal, company, what);
    return { principal, view: { username: principal.username, superUser: false, companies: [company] }, company };
  }

  const visible = (view: Principal, kind: KindName, id: string): boolean => view.superUser || runtime.canAccessCompany(view, runtime.companyOf(kind, id));

  // --- state, fingerprints, impact ------------------------------------------------------

  app.get('/v1/state', async (req) => {
    const { view, company } = viewOf(req, 'read the state of');
    const state = runtime.state(company === undefined ? { principal: view } : { company, principal: view });
    if (view.superUser) return state;
    return { revision: state.revision, resources: state.resources.filter((r) => visible(view, r.kind, r.id)) };
  });

  app.post('/v1/fingerprints', async (req) => {
    principalOfRequest(req);
    const { values } = checkBody<{ values: string[] }>('FingerprintRequest', req.body);
    // Each value is a guess the caller can test against fingerprints it reads: count them.
    limiter.fingerprintValues(req, values.length);
    return { fingerprints: runtime.fingerprint(values) };
  });

  app.post('/v1/impact', async (req) => {
    const principal = principalOfRequest(req);
    const { changes } = checkBody<{ changes: Change[] }>('ImpactRequest', req.body);
    const forbidden = forbiddenProblems(principal, changes);
    if (forbidden.length > 0) throw new HttpError(403, 'forbidden', forbidden[0]!.message + (forbidden.length > 1 ? ` (and ${forbidden.length - 1} more)` : ''));
    return runtime.impact(changes);
  });

  // --- change sets ----------------------------------------------------------------------

  function forbiddenProblems(principal: Principal, changes: readonly Change[]): ChangeProblem[] {
    if (principal.superUser) return [];
    const problems: ChangeProblem[] = [];
    changes.forEach((c, i) => {
      for (const company of companiesOfChange(runtime, c)) {
        if (runtime.canAccessCompany(principal, company)) continue;
        const target = company === undefined ? 'a server-wide resource' : `company '${company}'`;
        problems.push({ code: 'forbidden', kind: c.kind, id: c.id, path: `changes.${i}`, message: `${c.kind} '${c.id}' belongs to ${target}: '${principal.username}' administers ${companyList(principal)} only` });
        break;
      }
    });
    return problems;
  }

  /** Apply with the principal as actor; tenancy is checked first. */
  function apply(principal: Principal, changeSet: ChangeSet): ChangeSetResult {
    const forbidden = forbiddenProblems(principal, changeSet.changes);
    const result =
      forbidden.length > 0
        ? refusal('forbidden', `${forbidden.length} of ${changeSet.changes.length} changes touch companies '${principal.username}' does not administer; nothing was applied`, runtime.revision(), forbidden)
        : runtime.apply({ ...changeSet, origin: { ...changeSet.origin, actor: principal.username } }, principal);
    metrics.changeSet(result, changeSet.origin.via);
    if (result.ok) app.log.info({ revision: result.revision, applied: result.applied, via: changeSet.origin.via, user: principal.username }, 'change set applied');
    else app.log.info({ code: result.code, problems: result.problems.length, revision: result.revision, via: changeSet.origin.via, user: principal.username }, 'change set refused');
    return result;
  }

  app.post('/v1/changesets', async (req, reply) => {
    const principal = principalOfRequest(req);
    const changeSet = checkBody<ChangeSet>('ChangeSet', req.body);
    const result = apply(principal, changeSet);
    return reply.code(result.ok ? 200 : refusalStatus(result.code)).send(result);
  });

  // --- per-resource CRUD ----------------------------------------------------------------

  function kindParam(req: FastifyRequest): KindName {
    const kind = (req.params as { kind: string }).kind;
    if (!isKindName(kind)) throw new HttpError(404, 'not-found', `unknown kind '${kind}': one of ${KIND_NAMES.join(', ')}`);
    return kind;
  }

  function idParam(req: FastifyRequest): string {
    const id = (req.params as { '*': string })['*'];
    if (!id) throw new HttpError(404, 'not-found', 'no resource id in the path: /v1/resources/KIND/ID');
    return id;
  }

  function resourceBody(req: FastifyRequest): Record<string, unknown> {
    const body = req.body;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'bad-request', 'the request body must be the resource as a JSON object');
    return body as Record<string, unknown>;
  }

  /** The revision of `If-Match: "N"`, when given. */
  function ifMatch(req: FastifyRequest): number | undefined {
    const h = req.headers['if-match'];
    if (h === undefined) return undefined;
    const m = /^\s*(?:W\/)?"?(\d+)"?\s*$/.exec(String(h));
    if (!m) throw new HttpError(400, 'bad-request', 'If-Match must be the ETag of the resource, e.g. "42"');
    return Number(m[1]);
  }

  function checkIfMatch(req: FastifyRequest, current: LiveResource | undefined): void {
    const expected = ifMatch(req);
    if (expected === undefined) return;
    if (!current || current.revision !== expected) {
      throw new HttpError(412, 'precondition-failed', `the resource changed since revision ${expected}${current ? ` (it is now at revision ${current.revision})` : ' (it no longer exists)'}: read it again`);
    }
  }

  /**
   * Apply one change through the API, at the current revision. Another process on the same
   * store may commit in between (then `stale`): retried a few times, re-checking If-Match.
   */
  function applyOne(req: FastifyRequest, principal: Principal, make: (current: LiveResource | undefined) => Change, kind: KindName, id: string): ChangeSetResult {
    let result: ChangeSetResult | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      const current = runtime.get(kind, id);
      checkIfMatch(req, current);
      result = apply(principal, { baseRevision: runtime.revision(), changes: [make(current)], origin: { via: 'api', summary: `${req.method} ${kind} ${id}` } });
      if (result.ok || result.code !== 'stale') return result;
    }
    return result!;
  }

  const resourceUrl = (kind: KindName, id: string) => `/v1/resources/${kind}/${encodeURIComponent(id)}`;

  function sendResource(reply: FastifyReply, status: number, resource: LiveResource | undefined, result: ChangeSetResult) {
    if (!resource) return reply.code(status).send(result);
    return reply.code(status).header('etag', `"${resource.revision}"`).send(resource);
  }

  app.get('/v1/resources/:kind', async (req) => {
    const kind = kindParam(req);
    const { view, company } = viewOf(req, 'read resources of');
    const state = runtime.state(company === undefined ? { principal: view } : { company, principal: view });
    return state.resources.filter((r) => r.kind === kind && visible(view, r.kind, r.id));
  });

  app.get('/v1/resources/:kind/*', async (req, reply) => {
    const kind = kindParam(req);
    const id = idParam(req);
    requireCompany(runtime, principalOfRequest(req), runtime.companyOf(kind, id), 'read resources of');
    const resource = runtime.get(kind, id);
    if (!resource) throw new HttpError(404, 'not-found', `no ${kind} '${id}'`);
    return reply.header('etag', `"${resource.revision}"`).send(resource);
  });

  app.post('/v1/resources/:kind', async (req, reply) => {
    const principal = principalOfRequest(req);
    const kind = kindParam(req);
    const body = resourceBody(req);
    const id = idOfBody(kind, body);
    if (id === undefined) {
      const identity = kindInfo(kind).identity.join(', ');
      const result = refusal('invalid', `a ${kind} is identified by ${identity}: the body lacks a usable value for one of them`, runtime.revision(), [
        { code: 'invalid', kind, message: `missing or empty identity fields (${identity})` },
      ]);
      return reply.code(422).send(result);
    }
    const result = applyOne(req, principal, () => ({ action: 'create', kind, id, body, manager: 'api' }), kind, id);
    if (!result.ok) return reply.code(refusalStatus(result.code)).send(result);
    return sendResource(reply.header('location', resourceUrl(kind, id)), 201, runtime.get(kind, id), result);
  });

  app.put('/v1/resources/:kind/*', async (req, reply) => {
    const principal = principalOfRequest(req);
    const kind = kindParam(req);
    const id = idParam(req);
    requireCompany(runtime, principal, runtime.companyOf(kind, id), 'change resources of');
    const body = resourceBody(req);
    const bodyId = idOfBody(kind, body);
    if (bodyId !== id) {
      const identity = kindInfo(kind).identity.join(', ');
      const message =
        bodyId === undefined
          ? `a ${kind} is identified by ${identity}: the body lacks a usable value for one of them`
          : `the body describes ${kind} '${bodyId}', not '${id}': ${identity} identify a ${kind} and cannot change (delete it and create the new one)`;
      return reply.code(422).send(refusal('invalid', message, runtime.revision(), [{ code: 'invalid', kind, id, message }]));
    }
    let created = false;
    const result = applyOne(
      req,
      principal,
      (current) => {
        created = current === undefined;
        return current ? { action: 'update', kind, id, body } : { action: 'create', kind, id, body, manager: 'api' };
      },
      kind,
      id,
    );
    if (!result.ok) return reply.code(refusalStatus(result.code)).send(result);
    if (created) reply.header('location', resourceUrl(kind, id));
    return sendResource(reply, created ? 201 : 200, runtime.get(kind, id), result);
  });

  app.delete('/v1/resources/:kind/*', async (req, reply) => {
    const principal = principalOfRequest(req);
    const kind = kindParam(req);
    const id = idParam(req);
    requireCompany(runtime, principal, runtime.companyOf(kind, id), 'change resources of');
    if (!runtime.get(kind, id)) throw new HttpError(404, 'not-found', `no ${kind} '${id}'`);
    const result = applyOne(req, principal, () => ({ action: 'delete', kind, id }), kind, id);
    return reply.code(result.ok ? 200 : refusalStatus(result.code)).send(result);
  });

  // --- audit, status --------------------------------------------------------------------

  app.get('/v1/audit', async (req) => {
    const { view } = viewOf(req, 'read the audit log of');
    const limit = queryInt(req, 'limit', 1, 10_000);
    const sinceRevision = queryInt(req, 'sinceRevision', 0, Number.MAX_SAFE_INTEGER);
    const via = queryString(req, 'via');
    if (via !== undefined && via !== 'plan' && via !== 'api' && via !== 'sync') throw new HttpError(400, 'bad-request', `via must be plan, api or sync, not '${via}'`);
    const entries = runtime.audit({ limit, sinceRevision, via: via as ChangeVia | undefined, principal: view });
    if (view.superUser) return entries;
    return entries.flatMap((e): AuditEntry[] => {
      const changes = e.changes.filter((c) => visible(view, c.kind, c.id));
      return changes.length === 0 ? [] : [{ ...e, changes }];
    });
  });

  // --- sync runs and caller lookup (docs/sync.md) ---------------------------------------

  // Run a user import or directory synchronization now (manual §7.2, §8): the same run as
  // `switchboard sync run`, one change set or nothing. Body: {"dryRun": true} to only list.
  app.post('/v1/sync/:kind/*', async (req) => {
    const kind = kindParam(req);
    if (kind !== 'UserImport' && kind !== 'Directory') throw new HttpError(404, 'not-found', `only UserImport and Directory resources can be run, not ${kind}`);
    const id = idParam(req);
    requireCompany(runtime, principalOfRequest(req), runtime.companyOf(kind, id), 'run the synchronizations of');
    if (!runtime.get(kind, id)) throw new HttpError(404, 'not-found', `no ${kind} '${id}'`);
    const body = (req.body ?? {}) as { dryRun?: unknown };
    if (body === null || typeof body !== 'object' || Array.isArray(body) || (body.dryRun !== undefined && typeof body.dryRun !== 'boolean')) {
      throw new HttpError(400, 'bad-request', 'the body must be {} or {"dryRun": true|false}');
    }
    const { Runtime } = await import('../runtime/runtime.js');
    if (!(runtime instanceof Runtime)) throw new HttpError(404, 'not-found', 'this runtime runs no synchronization');
    const dryRun = body.dryRun === true;
    if (kind === 'UserImport') return (await import('../sync/run.js')).runUserImport(runtime, id, { dryRun });
    return (await import('../sync/directory-run.js')).runDirectory(runtime, id, { dryRun });
  });

  // Who is calling: the user or contact a caller number belongs to, through the domain's
  // incoming dial plan and inverse length (as `switchboard lookup`).
  app.get('/v1/lookup', async (req) => {
    const domain = queryString(req, 'domain');
    const number = queryString(req, 'number');
    if (!domain || !number) throw new HttpError(400, 'bad-request', 'give ?domain=COMPANY/DOMAIN&number=NUMBER');
    const company = domain.split('/')[0]!;
    requireCompany(runtime, principalOfRequest(req), company, 'look up callers of');
    const state = runtime.state({ company });
    if (!state.resources.some((r) => r.kind === 'Domain' && r.id === domain)) throw new HttpError(404, 'not-found', `no domain '${domain}'`);
    const { liveDialPlan } = await import('../sync/run.js');
    const { lookupCaller } = await import('../sync/lookup.js');
    const compiled = liveDialPlan(state.resources, domain);
    if (!compiled) throw new HttpError(422, 'invalid', `the dial plan of ${domain} does not compile`);
    return lookupCaller(compiled, state.resources, domain, number);
  });

  app.get('/v1/status', async (req) => {
    const { view } = viewOf(req, 'read the status of');
    return runtime.status(view);
  });

  // The licence screen (manual §3.3.2): counted over the resources the view may read.
  app.get('/v1/licences', async (req) => {
    const { view, company } = viewOf(req, 'read the licences of');
    return runtime.licences(company === undefined ? { principal: view } : { company, principal: view });
  });

  // PBX links (manual §10.4) and supervised extensions (§10.5), as the running engine sees them.
  app.get('/v1/links', async (req) => {
    const { view } = viewOf(req, 'read the links of');
    return runtime.links(view);
  });

  app.get('/v1/extensions', async (req) => {
    const { view } = viewOf(req, 'read the extensions of');
    const limitText = queryString(req, 'limit');
    const limit = limitText === undefined ? undefined : Number(limitText);
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new HttpError(400, 'bad-request', `limit must be a positive integer, not '${limitText}'`);
    const [from, to, link] = [queryString(req, 'from'), queryString(req, 'to'), queryString(req, 'link')];
    return runtime.extensions({ ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}), ...(link !== undefined ? { link } : {}), ...(limit !== undefined ? { limit } : {}) }, view);
  });

  // --- events ---------------------------------------------------------------------------

  app.get('/v1/events', async (req, reply) => {
    const { principal, view, company } = viewOf(req, 'follow the events of');
    const raw = reply.raw;
    reply.hijack();
    // `Connection: close`: the socket goes with the stream, so shutting down never waits for a
    // client to drop an idle keep-alive socket that served an event stream.
    raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'close', 'x-accel-buffering': 'no' });
    raw.write(`retry: 3000\n: connected at revision ${runtime.revision()}\n\n`);
    req.log.info({ route: '/v1/events', user: principal.username, company }, 'event stream opened');

    // The account may change while the stream is open: re-read it at each event.
    const currentView = (): Principal | undefined => {
      if (principal.superUser && principal.username === BUILT_IN_ADMIN) return view;
      const now = principalOf(principal.username, runtime);
      if (!now) return undefined;
      if (company !== undefined) return now.superUser || now.companies.includes(company) ? view : undefined;
      return now;
    };

    let ended = false;
    /** End the stream; at shutdown also drop its socket, so closing never waits on the client. */
    const end = (shutdown = false) => {
      if (ended) return;
      ended = true;
      unsubscribe();
      clearInterval(heartbeat);
      streams.delete(end);
      if (shutdown) raw.write(': server shutting down\n\n');
      raw.end();
      if (shutdown) raw.socket?.destroySoon();
    };
    const unsubscribe = runtime.subscribe((event: CommittedEvent) => {
      if (ended) return;
      const v = currentView();
      if (!v) {
        raw.write(`event: error\ndata: ${JSON.stringify({ message: `'${principal.username}' may no longer follow these events` })}\n\n`);
        end();
        return;
      }
      const changes = v.superUser ? event.changes : event.changes.filter((c) => runtime.canAccessCompany(v, c.company ?? runtime.companyOf(c.kind, c.id)));
      if (changes.length === 0) return;
      raw.write(`id: ${event.revision}\nevent: change\ndata: ${JSON.stringify(changes === event.changes ? event : { ...event, changes })}\n\n`);
      // A client that does not read must not grow the server's memory without bound.
      if (raw.writableLength > (options.maxUnreadEventBytes ?? MAX_UNREAD_EVENTS_BYTES)) {
        req.log.warn({ route: '/v1/events', user: principal.username, unread: raw.writableLength }, 'event stream dropped: the client does not read');
        end();
      }
    });
    const heartbeat = setInterval(() => raw.write(': heartbeat\n\n'), options.heartbeatMs ?? HEARTBEAT_MS);
    heartbeat.unref();
    streams.add(end);
    raw.on('close', () => end());
    if (closing) end(true);
  });

  // --- tokens ---------------------------------------------------------------------------

  app.post('/v1/tokens', async (req, reply) => {
    const principal = principalOfRequest(req);
    requireSuperUser(principal, 'creating tokens');
    const { username } = checkBody<{ username: string }>('TokenRequest', req.body);
    if (isReservedUsername(username)) throw new HttpError(422, 'invalid', `'${username}' is reserved: the built-in super-admin token is in <data-dir>/admin.token`);
    if (!runtime.get('AdminAccount', username)) throw new HttpError(422, 'invalid', `no AdminAccount '${username}': create the administrator first, then its token`);
    const created = tokens.create(username);
    req.log.info({ tokenId: created.id, for: username, user: principal.username }, 'token created');
    return reply.code(201).send({ id: created.id, username: created.username, token: created.token, createdAt: created.createdAt });
  });

  app.get('/v1/tokens', async (req) => {
    requireSuperUser(principalOfRequest(req), 'listing tokens');
    return tokens.list();
  });

  app.delete('/v1/tokens/:id', async (req, reply) => {
    const principal = principalOfRequest(req);
    requireSuperUser(principal, 'revoking tokens');
    const id = (req.params as { id: string }).id;
    if (!tokens.revoke(id)) throw new HttpError(404, 'not-found', `no token with id '${id}'`);
    req.log.info({ tokenId: id, user: principal.username }, 'token revoked');
    return reply.code(204).send();
  });

  // Sockets and their requests in flight. At shutdown, idle keep-alive sockets are closed at
  // once and busy ones as soon as their last response is sent: Node's own idle detection misses
  // some (seen with requests made while an event stream is open), and a client would then hold
  // the shutdown for its keep-alive timeout.
  const inFlight = new Map<Socket, number>();
  app.server.on('connection', (socket: Socket) => {
    inFlight.set(socket, 0);
    socket.once('close', () => inFlight.delete(socket));
  });
  app.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    res.once('close', () => {
      const n = Math.max(0, (inFlight.get(socket) ?? 1) - 1);
      inFlight.set(socket, n);
      if (closing && n === 0) socket.destroySoon();
    });
  });

  await app.ready();

  return {
    app,
    metrics,
    rateLimits: limiter.limits,
    routes,
    async listen(host, port) {
      await app.listen({ host, port });
      const address = app.server.address();
      if (address === null || typeof address === 'string') throw new Error(`unexpected listen address ${String(address)}`);
      const h = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return `http://${h}:${address.port}`;
    },
    async close() {
      closing = true;
      for (const end of [...streams]) end(true);
      for (const [socket, n] of inFlight) if (n === 0) socket.destroy();
      await app.close();
    },
  };
}

/**
 * Why fastify's JSON parser refused a body, with the place (line and column, what was expected)
 * but never the text around it: a body may hold a secret. Undefined for an empty body
 * (fastify's own error says so).
 */
function whyNotJson(text: string): HttpError | undefined {
  if (text.length === 0) return undefined;
  const error = jsonSyntaxError(text);
  if (error) {
    const { line, column } = lineColumn(text, error.at);
    return new HttpError(400, 'bad-request', `the request body is not valid JSON: at line ${line}, column ${column}, expected ${error.expected}`);
  }
  // Valid JSON that fastify refused: a prototype-poisoning key.
  return new HttpError(400, 'bad-request', 'the request body has a "__proto__" key or a "constructor" key holding "prototype": such keys are refused');
}

function queryString(req: FastifyRequest, name: string): string | undefined {
  const v = (req.query as Record<string, unknown> | undefined)?.[name];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') throw new HttpError(400, 'bad-request', `give the query parameter ${name} once`);
  return v;
}

function queryInt(req: FastifyRequest, name: string, min: number, max: number): number | undefined {
  const v = queryString(req, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new HttpError(400, 'bad-request', `${name} must be an integer from ${min} to ${max}, not '${v}'`);
  return Number(v);
}
