/**
 * Prometheus metrics of one server (its own registry, so several servers in one process — the
 * tests — never share counters). Labels hold routes, status codes, refusal codes, engine
 * names and PBX link ids (a handful per server): never a user id, a body or a token.
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
      name: 'switchboard_pbx_link_connected',
      help: 'PBX links: 1 while connected to the switch, 0 otherwise.',
      labelNames: ['link', 'protocol'],
      registers,
      collect() {
        this.reset();
        for (const l of runtime.links()) this.set({ link: l.id, protocol: l.protocol }, l.connected ? 1 : 0);
      },
    });
    new Gauge({
      name: 'switchboard_pbx_link_extensions',
      help: 'Extensions of each PBX link by supervision: monitored (the manual\'s "current"), pending, refused by the switch, over capacity, wanted (configured).',
      labelNames: ['link', 'supervision'],
      registers,
      collect() {
        this.reset();
        for (const l of runtime.links()) {
          this.set({ link: l.id, supervision: 'monitored' }, l.current);
          this.set({ link: l.id, supervision: 'pending' }, l.pending ?? 0);
          this.set({ link: l.id, supervision: 'refused' }, l.refused ?? 0);
          this.set({ link: l.id, supervision: 'over-capacity' }, l.overCapacity ?? 0);
          this.set({ link: l.id, supervision: 'wanted' }, l.wanted);
        }
      },
    });
    new Gauge({
      name: 'switchboard_pbx_link_events',
      help: 'CSTA events received on each link since it started (monotonic while the link runs).',
      labelNames: ['link'],
      registers,
      collect() {
        this.reset();
        for (const l of runtime.links()) if (l.events !== undefined) this.set({ link: l.id }, l.events);
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
