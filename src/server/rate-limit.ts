/**
 * Rate limits of the HTTP API (docs/runtime.md, "Rate limits"): they bound how fast a token
 * holder can test guesses against the fingerprint oracle, how fast anyone can guess tokens,
 * and how much one client can ask of the server.
 *
 * Design notes:
 * - Checked in the server's `onRequest` hook, before the body is read and before routing
 *   answers, in this order:
 *   1. `/healthz` and `/readyz` are never limited (an orchestrator must not see a healthy
 *      server fail its probes because a client misbehaves);
 *   2. an address that had `authFailures` requests refused 401 in the current window gets 429
 *      for every request until the window ends, whatever token it sends: guessing stops there,
 *      and the answer says nothing about the token or the path;
 *   3. the token is checked (a 401 counts against the address);
 *   4. requests per address, then per token;
 *   5. `POST /v1/fingerprints` and `POST /v1/tokens`: their own, stricter request limits, per
 *      token and per address.
 *   Once its body is read, `POST /v1/fingerprints` also counts values (per token and per
 *   address): one request may carry thousands of guesses.
 * - Windows are fixed (`windowMs`, one minute by default) and start at a key's first request.
 *   A refusal is 429 `too-many-requests` with `Retry-After` (seconds until the window ends).
 * - Request counters are `@fastify/rate-limit`'s (`createRateLimit`: in-memory LRU stores,
 *   used here without its route hooks, so that the order above holds and one request can count
 *   against several keys); the value budget is {@link ValueBudget}. Each limit tracks at most
 *   `tracked` keys (least recently seen dropped first): memory is bounded whatever the number of
 *   addresses or tokens. Counters live in the process: a restart starts them over.
 * - Keys are the token's public id (never the token) and the client address as the socket gives
 *   it (IPv4-mapped IPv6 as IPv4, IPv6 grouped by /64). Behind a reverse proxy every request
 *   comes from the proxy's address: the per-address limits then count all its clients together.
 */
import fastifyRateLimit, { normalizeIP, type CreateRateLimitOptions } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { HttpError } from './errors.js';

/** The limits, each per window; every count is a positive integer. */
export interface RateLimits {
  /** Length of the window every limit counts in, ms. */
  readonly windowMs: number;
  /** Requests from one token. */
  readonly perToken: number;
  /** Requests from one client address, every token together. */
  readonly perAddress: number;
  /** Requests refused 401 (no token, a malformed header, an unknown token) from one address before the address gets 429 until the window ends. */
  readonly authFailures: number;
  /** `POST /v1/fingerprints` requests, per token and per address. */
  readonly fingerprintRequests: number;
  /** Values sent to `POST /v1/fingerprints`, per token and per address: the guesses a token holder may test. */
  readonly fingerprintValues: number;
  /** `POST /v1/tokens` requests, per token and per address. */
  readonly tokenCreations: number;
  /** Tokens or addresses each limit remembers at once (least recently seen dropped first). */
  readonly tracked: number;
}

/**
 * The defaults (docs/runtime.md, "Rate limits"): far above what the CLI, a UI or a monitoring
 * system needs, far below what guessing needs. `fingerprintValues` lets a plan and an apply of
 * a configuration holding 10,000 distinct secret values run within one minute.
 */
export const DEFAULT_RATE_LIMITS: RateLimits = Object.freeze({
  windowMs: 60_000,
  perToken: 3_000,
  perAddress: 6_000,
  authFailures: 30,
  fingerprintRequests: 60,
  fingerprintValues: 20_000,
  tokenCreations: 10,
  tracked: 10_000,
});

/** `serve --rate-limit NAME=N` names, in the order the docs list them. */
const OPTION_NAMES: readonly (readonly [string, keyof RateLimits])[] = [
  ['window', 'windowMs'],
  ['per-token', 'perToken'],
  ['per-address', 'perAddress'],
  ['auth-failures', 'authFailures'],
  ['fingerprint-requests', 'fingerprintRequests'],
  ['fingerprint-values', 'fingerprintValues'],
  ['token-creations', 'tokenCreations'],
  ['tracked', 'tracked'],
];

/**
 * `serve --rate-limit` values (repeatable, or comma-separated): `per-token=600`,
 * `window=30` (seconds). Throws an Error whose message says what is wrong and what is allowed.
 */
export function parseRateLimits(specs: readonly string[]): Partial<RateLimits> {
  const out: { -readonly [K in keyof RateLimits]?: number } = {};
  const names = OPTION_NAMES.map(([n]) => n).join(', ');
  for (const item of specs.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z-]+)=(.*)$/.exec(item);
    if (!m) throw new Error(`--rate-limit takes NAME=NUMBER (e.g. per-token=600), not '${item}': NAME is one of ${names}`);
    const key = OPTION_NAMES.find(([n]) => n === m[1])?.[1];
    if (!key) throw new Error(`--rate-limit: unknown limit '${m[1]}': one of ${names}`);
    const n = /^\d{1,9}$/.test(m[2]!) ? Number(m[2]) : NaN;
    const max = key === 'windowMs' ? 86_400 : 1_000_000_000;
    if (!(n >= 1 && n <= max)) throw new Error(`--rate-limit ${m[1]} must be a whole number from 1 to ${max.toLocaleString('en-US')}${key === 'windowMs' ? ' (seconds)' : ''}, not '${m[2]}'`);
    out[key] = key === 'windowMs' ? n * 1000 : n;
  }
  return out;
}

/** Check the limits of an API option object; throws on a value that is not a positive integer. */
export function resolveRateLimits(given: Partial<RateLimits> = {}): RateLimits {
  const limits = { ...DEFAULT_RATE_LIMITS, ...given };
  for (const [name, key] of OPTION_NAMES) {
    const v = limits[key];
    if (!Number.isSafeInteger(v) || v < 1) throw new Error(`rate limit ${name} must be a positive integer, not ${String(v)}`);
  }
  return limits;
}

type App = FastifyInstance<Server, IncomingMessage, ServerResponse, Logger>;
type Counter = ReturnType<App['createRateLimit']>;

/** Who a request comes from, for the counters. */
interface Caller {
  readonly address: string;
  token?: { readonly id: string; readonly username: string };
}

/** The rate limits of one server (see the design notes above). */
export class RateLimiter {
  readonly #limits: RateLimits;
  readonly #callers = new WeakMap<FastifyRequest, Caller>();
  readonly #authFailures: Counter;
  readonly #perAddress: Counter;
  readonly #perToken: Counter;
  readonly #fingerprintsByToken: Counter;
  readonly #fingerprintsByAddress: Counter;
  readonly #tokenCreationsByToken: Counter;
  readonly #tokenCreationsByAddress: Counter;
  readonly #values: ValueBudget;

  private constructor(app: App, limits: RateLimits) {
    this.#limits = limits;
    const byAddress = (req: FastifyRequest) => this.#caller(req).address;
    const byToken = (req: FastifyRequest) => this.#caller(req).token?.id ?? `address ${this.#caller(req).address}`;
    // `cache` (keys per store) is read by the plugin's LocalStore though its types omit it.
    const counter = (max: number, keyGenerator: (req: FastifyRequest) => string): Counter =>
      app.createRateLimit({ max, timeWindow: limits.windowMs, keyGenerator, cache: limits.tracked } as CreateRateLimitOptions);
    this.#authFailures = counter(limits.authFailures, byAddress);
    this.#perAddress = counter(limits.perAddress, byAddress);
    this.#perToken = counter(limits.perToken, byToken);
    this.#fingerprintsByToken = counter(limits.fingerprintRequests, byToken);
    this.#fingerprintsByAddress = counter(limits.fingerprintRequests, byAddress);
    this.#tokenCreationsByToken = counter(limits.tokenCreations, byToken);
    this.#tokenCreationsByAddress = counter(limits.tokenCreations, byAddress);
    this.#values = new ValueBudget(limits.fingerprintValues, limits.windowMs, limits.tracked);
  }

  /** Register `@fastify/rate-limit` on `app` (without route hooks) and make the counters. */
  static async create(app: App, limits: RateLimits): Promise<RateLimiter> {
    // Awaited: the plugin decorates `app` with createRateLimit once it is loaded.
    await app.register(fastifyRateLimit, { global: false });
    return new RateLimiter(app, limits);
  }

  get limits(): RateLimits {
    return this.#limits;
  }

  #caller(req: FastifyRequest): Caller {
    let c = this.#callers.get(req);
    if (!c) {
      // IPv4-mapped IPv6 becomes IPv4; IPv6 is cut to its /64 (one host usually has a whole /64).
      const ip = normalizeIP(req.ip || 'unknown');
      c = { address: ip.includes(':') ? `${ip}/64` : ip };
      this.#callers.set(req, c);
    }
    return c;
  }

  /** Step 2: 429 while the request's address is over its failed-authentication limit. */
  async beforeAuthentication(req: FastifyRequest): Promise<void> {
    const r = await this.#authFailures(req, { increment: false });
    if (!r.isAllowed && r.remaining === 0 && r.ttl > 0) {
      throw tooMany(r.ttl, `too many requests with a missing or invalid token from ${this.#caller(req).address}: at most ${this.#limits.authFailures} ${this.#per()}; every request from this address is refused until then`);
    }
  }

  /** Step 3, refused: count a 401 against the address. */
  async authenticationFailed(req: FastifyRequest): Promise<void> {
    await this.#authFailures(req);
  }

  /** Steps 4 and 5, for an authenticated request. */
  async authenticated(req: FastifyRequest, token: { readonly id: string; readonly username: string }): Promise<void> {
    const caller = this.#caller(req);
    caller.token = token;
    const of = `token ${token.id} of '${token.username}'`;
    await this.#count(this.#perAddress, req, `too many requests from ${caller.address}`, this.#limits.perAddress);
    await this.#count(this.#perToken, req, `too many requests with ${of}`, this.#limits.perToken);
    const route = req.routeOptions.url;
    if (req.method === 'POST' && route === '/v1/fingerprints') {
      await this.#count(this.#fingerprintsByToken, req, `too many fingerprint requests with ${of}`, this.#limits.fingerprintRequests);
      await this.#count(this.#fingerprintsByAddress, req, `too many fingerprint requests from ${caller.address}`, this.#limits.fingerprintRequests);
    } else if (req.method === 'POST' && route === '/v1/tokens') {
      await this.#count(this.#tokenCreationsByToken, req, `too many token creations with ${of}`, this.#limits.tokenCreations);
      await this.#count(this.#tokenCreationsByAddress, req, `too many token creations from ${caller.address}`, this.#limits.tokenCreations);
    }
  }

  /** `POST /v1/fingerprints`, body read: take `count` values from the token's and the address's budgets, or 429. */
  fingerprintValues(req: FastifyRequest, count: number): void {
    const caller = this.#caller(req);
    const keys = [`token ${caller.token?.id ?? '-'}`, `address ${caller.address}`];
    const refused = this.#values.take(keys, count);
    if (!refused) return;
    const max = this.#limits.fingerprintValues;
    if (count > max) {
      throw tooMany(
        this.#limits.windowMs,
        `a request of ${count} values is over the limit of ${max} values to fingerprint ${this.#per()}: send fewer at a time, or raise the limit (switchboard serve --rate-limit fingerprint-values=N)`,
      );
    }
    const whose = refused.key.startsWith('token') ? `token ${caller.token?.id} of '${caller.token?.username}'` : caller.address;
    throw tooMany(refused.retryMs, `too many values to fingerprint for ${whose}: at most ${max} ${this.#per()} (${refused.left} left, this request has ${count})`);
  }

  async #count(counter: Counter, req: FastifyRequest, what: string, max: number): Promise<void> {
    const r = await counter(req);
    if (!r.isAllowed && r.isExceeded) throw tooMany(r.ttl, `${what}: at most ${max} ${this.#per()}`);
  }

  #per(): string {
    const s = this.#limits.windowMs / 1000;
    return s === 60 ? 'a minute' : `per ${s} s`;
  }
}

function tooMany(retryMs: number, message: string): HttpError {
  const seconds = Math.max(1, Math.ceil(retryMs / 1000));
  return new HttpError(429, 'too-many-requests', `${message}; retry in ${seconds} s`, { 'retry-after': String(seconds) });
}

/**
 * A budget of units per key and per fixed window (values to fingerprint), for requests that
 * cost more than one. At most `tracked` keys, least recently used dropped first.
 */
export class ValueBudget {
  readonly #windows = new Map<string, { start: number; used: number }>();

  constructor(
    readonly max: number,
    readonly windowMs: number,
    readonly tracked: number,
  ) {}

  /**
   * Take `count` from the budget of every key, or from none: undefined when taken, else the
   * first key short of it, what it has left and the ms until its window ends.
   */
  take(keys: readonly string[], count: number, now = Date.now()): { key: string; left: number; retryMs: number } | undefined {
    const windows = keys.map((key) => {
      let w = this.#windows.get(key);
      if (!w || now - w.start >= this.windowMs) w = { start: now, used: 0 };
      // Re-inserted: a Map iterates in insertion order, so the first key is the least recent.
      this.#windows.delete(key);
      this.#windows.set(key, w);
      return [key, w] as const;
    });
    while (this.#windows.size > this.tracked) this.#windows.delete(this.#windows.keys().next().value!);
    for (const [key, w] of windows) {
      if (w.used + count > this.max) return { key, left: Math.max(0, this.max - w.used), retryMs: w.start + this.windowMs - now };
    }
    for (const [, w] of windows) w.used += count;
    return undefined;
  }
}
