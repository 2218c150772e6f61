/**
 * The {@link RuntimeClient} of a running `switchboard serve`, over its HTTP API (docs/runtime.md,
 * "HTTP API"), with `fetch`. The CLI picks it for `--runtime URL` or SWITCHBOARD_RUNTIME, with
 * SWITCHBOARD_TOKEN.
 *
 * A refused change set comes back as the server's {@link ChangeSetResult} (409 stale or
 * conflicting, 422 invalid, 403 forbidden), exactly as the embedded runtime returns it; every
 * other failure (unreachable, token refused, forbidden read, timeout, server error) throws a
 * {@link RuntimeHttpError} whose message names the runtime's URL and says what to do.
 * The token is sent only in the Authorization header and never appears in a message.
 * A request nested deeper than the server accepts is refused before it is sent, and an answer
 * nested deeper than any runtime's is refused before the caller walks it (json-depth.ts).
 */
import type { LicenceStatus } from '../model/licences.js';
import { describeJsonPath, MAX_JSON_DEPTH, tooDeepAt } from './json-depth.js';
import type { AuditEntry, Change, ChangeImpact, ChangeSet, ChangeSetResult, ChangeVia, LiveState, RuntimeClient, RuntimeStatus, LinkStatus, ExtensionQuery, ExtensionStatus } from './types.js';

export interface HttpClientOptions {
  /** Timeout of each request, ms (default 60 s; change sets: {@link applyTimeoutMs}). */
  readonly timeoutMs?: number;
  /** Timeout of a change set, ms (default 10 min: a 10,000-resource change set takes seconds, not minutes). */
  readonly applyTimeoutMs?: number;
  /** The fetch to use (default: the global one). */
  readonly fetch?: typeof fetch;
}

/** Why a call to a runtime over HTTP failed. `status` is the HTTP status when there was an answer. */
export class RuntimeHttpError extends Error {
  // The CLI reports errors named RuntimeError as "the runtime is unavailable" rather than crashing.
  override readonly name = 'RuntimeError';
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A client of the runtime served at `url` (e.g. `http://127.0.0.1:7480`), authenticated by `token`. */
export async function connectRuntime(url: string, token: string, options: HttpClientOptions = {}): Promise<RuntimeClient> {
  let base: URL;
  try {
    base = new URL(url);
  } catch {
    throw new RuntimeHttpError(`'${url}' is not a runtime URL: give one like http://127.0.0.1:7480`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new RuntimeHttpError(`'${url}' is not an http:// or https:// URL`);
  const location = base.href.replace(/\/+$/, '');
  if (!token.trim()) {
    throw new RuntimeHttpError(`runtime at ${location} needs a token: set SWITCHBOARD_TOKEN (the super-admin token is in <data-dir>/admin.token of the server; \`switchboard token create USERNAME\` makes one for an administrator)`);
  }
  return new HttpRuntimeClient(location, token.trim(), options);
}

type Query = Record<string, string | number | undefined>;

/** The deepest answer accepted: a request nests at most MAX_JSON_DEPTH levels, an answer wraps it in a few more. */
const MAX_ANSWER_DEPTH = 2 * MAX_JSON_DEPTH;

class HttpRuntimeClient implements RuntimeClient {
  private readonly fetch: typeof fetch;
  private readonly pending = new Set<AbortController>();

  constructor(
    readonly location: string,
    private readonly token: string,
    private readonly options: HttpClientOptions,
  ) {
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  state(filter?: { readonly company?: string }): Promise<LiveState> {
    return this.call<LiveState>('GET', '/v1/state', { query: { company: filter?.company } });
  }

  async fingerprint(values: readonly string[]): Promise<string[]> {
    const r = await this.call<{ fingerprints: string[] }>('POST', '/v1/fingerprints', { body: { values } });
    return r.fingerprints;
  }

  apply(changeSet: ChangeSet): Promise<ChangeSetResult> {
    return this.call<ChangeSetResult>('POST', '/v1/changesets', {
      body: changeSet,
      timeoutMs: this.options.applyTimeoutMs ?? 600_000,
      // A refused change set is an answer, not an error.
      accept: (status, body) => (status === 403 || status === 409 || status === 422) && isRefusal(body),
    });
  }

  impact(changes: readonly Change[]): Promise<ChangeImpact[]> {
    return this.call<ChangeImpact[]>('POST', '/v1/impact', { body: { changes } });
  }

  audit(query?: { readonly limit?: number; readonly via?: ChangeVia; readonly sinceRevision?: number }): Promise<AuditEntry[]> {
    return this.call<AuditEntry[]>('GET', '/v1/audit', { query: { limit: query?.limit, via: query?.via, sinceRevision: query?.sinceRevision } });
  }

  status(): Promise<RuntimeStatus> {
    return this.call<RuntimeStatus>('GET', '/v1/status');
  }

  links(): Promise<LinkStatus[]> {
    return this.call<LinkStatus[]>('GET', '/v1/links');
  }

  licences(filter?: { readonly company?: string }): Promise<LicenceStatus[]> {
    return this.call<LicenceStatus[]>('GET', '/v1/licences', { query: { company: filter?.company } });
  }

  extensions(query: ExtensionQuery = {}): Promise<ExtensionStatus[]> {
    return this.call<ExtensionStatus[]>('GET', '/v1/extensions', { query: { from: query.from, to: query.to, link: query.link, company: query.company, limit: query.limit } });
  }

  async close(): Promise<void> {
    for (const c of this.pending) c.abort(new Error('client closed'));
    this.pending.clear();
  }

  private async call<T>(
    method: 'GET' | 'POST',
    path: string,
    opts: { query?: Query; body?: unknown; timeoutMs?: number; accept?: (status: number, body: unknown) => boolean } = {},
  ): Promise<T> {
    const what = `${method} ${path}`;
    // JSON.stringify would overflow the stack on a value nested thousands of levels deep, and
    // the server refuses more than MAX_JSON_DEPTH anyway: say so here, before sending.
    const tooDeep = opts.body === undefined ? undefined : tooDeepAt(opts.body, MAX_JSON_DEPTH);
    if (tooDeep) throw new RuntimeHttpError(`cannot send ${what} to the runtime at ${this.location}: the request nests more than ${MAX_JSON_DEPTH} levels deep (at ${describeJsonPath(tooDeep)}); no resource does`);
    const url = new URL(this.location + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const timeoutMs = opts.timeoutMs ?? this.options.timeoutMs ?? 60_000;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new RuntimeHttpError(`runtime at ${this.location} timed out after ${timeoutMs / 1000} s (${what})`)), timeoutMs);
    this.pending.add(controller);
    try {
      let response: Response;
      try {
        response = await this.fetch(url, {
          method,
          headers: { authorization: `Bearer ${this.token}`, accept: 'application/json', ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }) },
          body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
          signal: controller.signal,
        });
      } catch (e) {
        if (controller.signal.aborted && controller.signal.reason instanceof RuntimeHttpError) throw controller.signal.reason;
        const cause = (e as { cause?: { code?: string; message?: string } }).cause;
        const detail = cause?.code ?? cause?.message ?? (e as Error).message;
        throw new RuntimeHttpError(`cannot reach the runtime at ${this.location}: ${detail} (is \`switchboard serve\` running there?)`, undefined, { cause: e });
      }
      const text = await response.text().catch((e: unknown) => {
        if (controller.signal.aborted && controller.signal.reason instanceof RuntimeHttpError) throw controller.signal.reason;
        throw new RuntimeHttpError(`runtime at ${this.location} broke off its answer to ${what}: ${(e as Error).message}`, response.status, { cause: e });
      });
      let body: unknown;
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch {
        throw new RuntimeHttpError(`runtime at ${this.location} answered ${what} with HTTP ${response.status} and a body that is not JSON: is this a Switchboard runtime?`, response.status);
      }
      // JSON.parse takes any depth; what the caller does next (render, stringify, clone) does
      // not. A runtime's answers nest a few levels more than the resources in them.
      const deep = tooDeepAt(body, MAX_ANSWER_DEPTH);
      if (deep) {
        throw new RuntimeHttpError(
          `runtime at ${this.location} answered ${what} with HTTP ${response.status} and JSON nested more than ${MAX_ANSWER_DEPTH} levels deep (at ${describeJsonPath(deep)}): is this a Switchboard runtime?`,
          response.status,
        );
      }
      if (response.ok) return body as T;
      if (opts.accept?.(response.status, body)) return body as T;
      throw this.failure(response.status, body, what);
    } finally {
      clearTimeout(timer);
      this.pending.delete(controller);
    }
  }

  private failure(status: number, body: unknown, what: string): RuntimeHttpError {
    const message = serverMessage(body) ?? `HTTP ${status}`;
    switch (status) {
      case 401:
        return new RuntimeHttpError(`runtime at ${this.location} refused the token: ${message}`, status);
      case 403:
        return new RuntimeHttpError(`runtime at ${this.location} refused ${what}: ${message}`, status);
      case 503:
        return new RuntimeHttpError(`runtime at ${this.location} is unavailable (${message}): retry in a moment`, status);
      default:
        return new RuntimeHttpError(`runtime at ${this.location} failed ${what} (HTTP ${status}): ${message}`, status);
    }
  }
}

function isRefusal(body: unknown): body is ChangeSetResult {
  return typeof body === 'object' && body !== null && (body as { ok?: unknown }).ok === false && typeof (body as { code?: unknown }).code === 'string';
}

function serverMessage(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const error = (body as { error?: { message?: unknown } }).error;
  if (error && typeof error.message === 'string') return error.message;
  const message = (body as { message?: unknown }).message;
  return typeof message === 'string' ? message : undefined;
}
