/**
 * Prometheus metrics of one server (its own registry, so several servers in one process — the
 * tests — never share counters). Labels hold routes, status codes, refusal codes and engine
 * names: never an id, a body or a token.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RuntimeCore } from '../runtime/core.js';
import type { ChangeSetResult } from '../runtime/types.js';

const ENGINE_STATES = ['starting', 'running', 'failed', 'backoff', 'stopped'] as const;

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly duration: Histogram<'method' | 'route'>;
  private readonly changeSets: Counter<'outcome' | 'code' | 'via'>;

  constructor(runtime: RuntimeCore, options: { readonly processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'switchboard_' });
    this.requests = new Counter({ name: 'switchboard_http_requests_total', help: 'HTTP requests by route template and status code.', labelNames: ['method', 'route', 'status'], registers });
    this.duration = new Histogram({
      name: 'switchboard_http_request_duration_seconds',
      help: 'HTTP request duration by route template.',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers,
    });
    this.changeSets = new Counter({
      name: 'switchboard_changesets_total',
      help: 'Change sets submitted through the API: outcome applied or refused, with the refusal code.',
      labelNames: ['outcome', 'code', 'via'],
      registers,
    });
    new Gauge({
      name: 'switchboard_revision',
      help: 'The live revision of the store.',
      registers,
      collect() {
        this.set(runtime.revision());
      },
    });
    new Gauge({
      name: 'switchboard_engine_state',
      help: 'Engine states: 1 for the state an engine is in, 0 for the others.',
      labelNames: ['engine', 'state'],
      registers,
      collect() {
        this.reset();
        for (const e of runtime.status().engines) for (const s of ENGINE_STATES) this.set({ engine: e.name, state: s }, e.state === s ? 1 : 0);
      },
    });
    new Gauge({
      name: 'switchboard_engine_restarts',
      help: 'Restarts of each engine since the server started.',
      labelNames: ['engine'],
      registers,
      collect() {
        this.reset();
        for (const e of runtime.status().engines) this.set({ engine: e.name }, e.restarts);
      },
    });
  }

  request(method: string, route: string, status: number, seconds: number): void {
    this.requests.inc({ method, route, status: String(status) });
    this.duration.observe({ method, route }, seconds);
  }

  changeSet(result: ChangeSetResult, via: string): void {
    this.changeSets.inc(result.ok ? { outcome: 'applied', code: '', via } : { outcome: 'refused', code: result.code, via });
  }
}
