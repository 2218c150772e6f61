/**
 * The OpenAPI 3.1 description of the runtime's HTTP API, from the same schemas the code uses:
 * the kind schemas in schemas/ (resource bodies) and the API schemas of schemas.ts (request
 * and response bodies). `switchboard serve` publishes it at `GET /openapi.json`;
 * `npm run gen:openapi` (scripts/openapi.ts) writes it to docs/openapi.json, and
 * test/server/openapi.test.ts fails when that file is stale.
 */
import { readFileSync } from 'node:fs';
import type { AnySchemaObject } from 'ajv';
import { KIND_NAMES, kindInfo } from '../model/kinds.js';
import { SCHEMA_DIR, kindSchemas } from '../schema/registry.js';
import { API_SCHEMAS } from './schemas.js';

type Schema = Record<string, unknown>;


const LINK_STATE = { enum: ['stopped', 'connecting', 'starting', 'up', 'backoff', 'unavailable'], description: '`unavailable`: no protocol driver for this link (VTI-XML, SIP, snom DEVICE); see `message`.' };
const LINK_STATUS = {
  type: 'object',
  required: ['id', 'company', 'domain', 'name', 'protocol', 'connected', 'current', 'wanted', 'state', 'since'],
  properties: {
    id: { type: 'string' },
    company: { type: 'string' },
    domain: { type: 'string' },
    name: { type: 'string' },
    protocol: { enum: ['csta', 'vtixml', 'sip'] },
    host: { type: 'string' },
    port: { type: 'integer' },
    siteCluster: { type: 'string' },
    connected: { type: 'boolean' },
    current: { type: 'integer', description: 'Extensions supervised now.' },
    total: { type: 'integer', description: 'Capacity.' },
    wanted: { type: 'integer', description: 'Extensions the configuration puts on this link.' },
    state: LINK_STATE,
    since: { type: 'string', format: 'date-time' },
    message: { type: 'string' },
    pending: { type: 'integer' },
    refused: { type: 'integer' },
    overCapacity: { type: 'integer' },
    connects: { type: 'integer' },
    events: { type: 'integer' },
    nextAttemptAt: { type: 'string', format: 'date-time' },
    reachable: { type: 'boolean', description: 'Probe-only links: whether the PBX accepted a TCP connection.' },
    probedAt: { type: 'string', format: 'date-time' },
  },
};
const LICENCE_STATUS = {
  type: 'object',
  required: ['company', 'application', 'available', 'used', 'free'],
  properties: {
    company: { type: 'string' },
    application: { type: 'string', description: 'As in the License and the authorizations, e.g. `Caller`.' },
    available: { type: 'integer', description: 'From the License of this company and application; 0 without one.' },
    used: { type: 'integer', description: 'Distinct users authorized for the application, directly or through a group (§7.4.1): the count plan and the runtime refuse by.' },
    free: { type: 'integer', description: '`available - used`; negative only if use already exceeds the licence.' },
  },
};
const EXTENSION_STATUS = {
  type: 'object',
  required: ['extension', 'company', 'domain', 'type', 'owner', 'supervision', 'callState'],
  properties: {
    extension: { type: 'string' },
    company: { type: 'string' },
    domain: { type: 'string' },
    link: { type: 'string' },
    siteCluster: { type: 'string', description: 'Site and cluster of its VTI-XML link.' },
    protocol: { enum: ['csta', 'vtixml', 'sip'] },
    type: { enum: ['CTI', 'VOIP', 'unknown'] },
    owner: { type: 'string', description: '`Kind id` of the resource the extension comes from.' },
    supervision: { enum: ['pending', 'monitored', 'refused', 'over-capacity', 'disconnected'] },
    callState: { enum: ['idle', 'dialing', 'ringing', 'calling', 'busy', 'held', 'unknown'] },
    lastEvent: { type: 'object', properties: { name: { type: 'string' }, at: { type: 'string', format: 'date-time' }, cause: { type: 'string' } } },
    error: { type: 'string' },
  },
};

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Schema) => ({ 'application/json': { schema } });
const response = (description: string, schema?: Schema) => (schema ? { description, content: json(schema) } : { description });

/** `#/$defs/X` (how the server's validator sees them) → `#/components/schemas/X`. */
function toComponents(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toComponents);
  if (!node || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node).map(([k, v]) => [k, k === '$ref' && typeof v === 'string' ? v.replace(/^#\/\$defs\//, '#/components/schemas/') : toComponents(v)]),
  );
}

/**
 * The kind schemas (and defs.schema.json) as OpenAPI components: `<Kind>` for a kind,
 * `<Kind>.<def>` for its `$defs`, `defs.<def>` for the shared definitions, every `$ref`
 * rewritten to point at them. Every secret field becomes its value (to set it) or the
 * fingerprint of the current value (to keep it; what reads return); examples of secrets are
 * dropped: they show `${env:…}` references, which only YAML resolves.
 */
function kindComponents(): Record<string, Schema> {
  const schemas = kindSchemas(SCHEMA_DIR);
  const prefixOf = (file: string): string => {
    if (file === 'defs.schema.json') return 'defs';
    const kind = file.replace(/\.schema\.json$/, '');
    if (!(KIND_NAMES as readonly string[]).includes(kind)) throw new Error(`unexpected $ref into ${file}`);
    return kind;
  };
  const walk = (node: unknown, prefix: string): unknown => {
    if (Array.isArray(node)) return node.map((n) => walk(n, prefix));
    if (!node || typeof node !== 'object') return node;
    const n = node as Schema;
    if (n['x-secret'] === true) {
      return {
        'x-secret': true,
        description: `${String(n.description ?? 'A secret.')} Over the API: the value to set it, or the fingerprint of the current value to keep it; reads always return the fingerprint.`,
        oneOf: [{ type: 'string', minLength: 1 }, ref('SecretFingerprint')],
      };
    }
    const out: Schema = {};
    for (const [k, v] of Object.entries(n)) {
      if (k === '$id' || k === '$schema' || k === '$defs') continue;
      if (k === '$ref' && typeof v === 'string') {
        const [file = '', pointer = ''] = v.split('#');
        const target = file ? prefixOf(file) : prefix;
        const m = /^(?:\/\$defs\/([^/]+))?$/.exec(pointer);
        if (!m) throw new Error(`unsupported $ref ${v}`);
        out[k] = `#/components/schemas/${m[1] ? `${target}.${m[1]}` : target}`;
      } else out[k] = walk(v, prefix);
    }
    return out;
  };
  const out: Record<string, Schema> = {};
  const add = (prefix: string, schema: AnySchemaObject, self: boolean) => {
    if (self) out[prefix] = walk(schema, prefix) as Schema;
    for (const [name, def] of Object.entries((schema.$defs as Record<string, unknown> | undefined) ?? {})) out[`${prefix}.${name}`] = walk(def, prefix) as Schema;
  };
  for (const kind of KIND_NAMES) add(kind, schemas.get(`${kind}.schema.json`)!, true);
  add('defs', schemas.get('defs.schema.json')!, false);
  return out;
}

const security = [{ bearerAuth: [] }];
const use = (section: 'responses' | 'parameters', name: string): Schema => ({ $ref: `#/components/${section}/${name}` });

/** Responses and parameters shared by many operations (components, referenced by name). */
const RESPONSES: Record<string, Schema> = {
  BadRequest: response('The request is malformed: bad JSON, JSON nested more than 64 levels deep, wrong shape, bad query parameter.', ref('Error')),
  Unauthorized: response('No token, or a token the runtime does not know.', ref('Error')),
  TooManyRequests: {
    ...response(
      'Over a rate limit: per token, per client address, per address after too many requests refused 401, and stricter ones on POST /v1/fingerprints (requests and values) and POST /v1/tokens. See docs/runtime.md, "Rate limits".',
      ref('Error'),
    ),
    headers: { 'Retry-After': { description: 'Seconds until the window of the limit ends.', schema: { type: 'integer', minimum: 1 } } },
  },
  Forbidden: response("The token's administrator may not do this (another company, or a super-user operation).", ref('Error')),
  NotFound: response('No such resource.', ref('Error')),
  PreconditionFailed: response('If-Match does not match the current revision of the resource.', ref('Error')),
  RefusedForbidden: response('Refused: a change touches a company the administrator does not administer. Nothing applied.', ref('ChangeSetResult')),
  RefusedConflict: response('Refused: stale (the live revision is not baseRevision), or conflicting with the live state (exists, not-found, not-managed). Nothing applied.', ref('ChangeSetResult')),
  RefusedInvalid: response('Refused: the resources break an invariant (schema, references, uniqueness, scoping, licences); `problems` lists each. Nothing applied.', ref('ChangeSetResult')),
};
const PARAMETERS: Record<string, Schema> = {
  company: {
    name: 'company',
    in: 'query',
    required: false,
    schema: { type: 'string' },
    description: "Only this company's view. A company admin must name one of their companies (403 otherwise); without it they get all of their companies.",
  },
  ifMatch: { name: 'If-Match', in: 'header', required: false, schema: { type: 'string' }, description: 'The ETag of the resource as read ("42"): refused with 412 if it changed since.' },
};
const companyParam = use('parameters', 'company');
const errors = { 400: use('responses', 'BadRequest'), 401: use('responses', 'Unauthorized'), 403: use('responses', 'Forbidden') };
const refusals = { 403: use('responses', 'RefusedForbidden'), 409: use('responses', 'RefusedConflict'), 422: use('responses', 'RefusedInvalid') };
const notFound = { 404: use('responses', 'NotFound') };
const preconditionFailed = { 412: use('responses', 'PreconditionFailed') };

function resourcePaths(): Record<string, Schema> {
  const paths: Record<string, Schema> = {};
  for (const kind of KIND_NAMES) {
    const info = kindInfo(kind);
    const idParam = {
      name: 'id',
      in: 'path',
      required: true,
      schema: { type: 'string' },
      description: `The ${kind} id (${info.identity.join(' + ')} joined with '/'), URL-encoded as one segment (acme%2Fparis%2Fjdoe); unencoded slashes are accepted too.`,
    };
    const ifMatch = use('parameters', 'ifMatch');
    const tags = [kind];
    paths[`/v1/resources/${kind}`] = {
      get: {
        summary: `List ${kind} resources`,
        tags,
        security,
        parameters: [companyParam],
        responses: { 200: response('The resources of this kind the administrator may see.', { type: 'array', items: ref('LiveResource') }), ...errors },
      },
      post: {
        summary: `Create a ${kind} (manager: api)`,
        tags,
        security,
        requestBody: { required: true, content: json(ref(kind)) },
        responses: {
          201: { ...response('Created; Location is its URL, ETag its revision.', ref('LiveResource')), headers: { Location: { schema: { type: 'string' } }, ETag: { schema: { type: 'string' } } } },
          ...errors,
          ...refusals,
        },
      },
    };
    paths[`/v1/resources/${kind}/{id}`] = {
      parameters: [idParam],
      get: {
        summary: `Read a ${kind}`,
        tags,
        security,
        responses: { 200: { ...response('The resource; secret fields hold fingerprints.', ref('LiveResource')), headers: { ETag: { schema: { type: 'string' } } } }, ...errors, ...notFound },
      },
      put: {
        summary: `Replace a ${kind}, or create it (manager: api)`,
        description: 'An out-of-band edit: a config-managed resource stays config-managed and is marked drifted. The body must describe this id.',
        tags,
        security,
        parameters: [ifMatch],
        requestBody: { required: true, content: json(ref(kind)) },
        responses: {
          200: response('Updated.', ref('LiveResource')),
          201: response('Created.', ref('LiveResource')),
          ...errors,
          ...refusals,
          ...preconditionFailed,
        },
      },
      delete: {
        summary: `Delete a ${kind}`,
        tags,
        security,
        parameters: [ifMatch],
        responses: {
          200: response('Deleted.', ref('ChangeSetResult')),
          ...errors,
          ...notFound,
          ...refusals,
          ...preconditionFailed,
        },
      },
    };
  }
  return paths;
}

/** Every operation that needs a token is rate limited: add its 429 answer. */
function withRateLimits(paths: Record<string, Record<string, unknown>>): Record<string, Record<string, unknown>> {
  for (const item of Object.values(paths)) {
    for (const op of Object.values(item)) {
      if (!op || typeof op !== 'object' || Array.isArray(op) || !('security' in op)) continue;
      const responses = (op as unknown as { responses: Record<string, unknown> }).responses;
      responses[429] ??= use('responses', 'TooManyRequests');
    }
  }
  return paths;
}

/** The OpenAPI document. */
export function openapiDocument(): Schema {
  const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return {
    openapi: '3.1.0',
    info: {
      title: 'Switchboard runtime API',
      version,
      description:
        'The HTTP API of `switchboard serve`: live state, change sets, per-resource edits, audit, status and events. Generated from schemas/ and src/server/schemas.ts by `npm run gen:openapi`; see docs/runtime.md, "HTTP API" and "Authentication".',
    },
    servers: [{ url: 'http://127.0.0.1:7480' }],
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'A Switchboard token (sbt_…): <data-dir>/admin.token, or one made by POST /v1/tokens or `switchboard token create`.' } },
      schemas: { ...(toComponents(API_SCHEMAS) as Schema), ...kindComponents() },
      responses: RESPONSES,
      parameters: PARAMETERS,
    },
    paths: withRateLimits({
      '/v1/state': {
        get: {
          summary: 'The live state with its revision',
          security,
          parameters: [companyParam],
          responses: { 200: response('Resources the administrator may see; secret fields hold fingerprints.', ref('LiveState')), ...errors },
        },
      },
      '/v1/changesets': {
        post: {
          summary: 'Apply a change set, all or nothing',
          description: "The audit log's actor is the token's administrator, whatever `origin.actor` says.",
          security,
          requestBody: { required: true, content: json(ref('ChangeSet')) },
          responses: { 200: response('Applied: the new revision.', ref('ChangeSetResult')), 400: errors[400], 401: errors[401], ...refusals },
        },
      },
      '/v1/fingerprints': {
        post: {
          summary: 'Keyed fingerprints of candidate secret values',
          security,
          requestBody: { required: true, content: json(ref('FingerprintRequest')) },
          responses: { 200: response('One fingerprint per value, in order.', ref('FingerprintResponse')), 400: errors[400], 401: errors[401] },
        },
      },
      '/v1/impact': {
        post: {
          summary: 'What each change would do to the running system, as the engines say',
          security,
          requestBody: { required: true, content: json(ref('ImpactRequest')) },
          responses: { 200: response('The impact of each change, by index.', { type: 'array', items: ref('ChangeImpact') }), ...errors },
        },
      },
      ...resourcePaths(),
      '/v1/audit': {
        get: {
          summary: 'The audit log, newest first',
          security,
          parameters: [
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 10000 } },
            { name: 'via', in: 'query', schema: ref('ChangeVia') },
            { name: 'sinceRevision', in: 'query', schema: { type: 'integer', minimum: 0 }, description: 'Only entries after this revision.' },
            companyParam,
          ],
          responses: { 200: response("Entries; a company admin sees only their companies' changes.", { type: 'array', items: ref('AuditEntry') }), ...errors },
        },
      },
      '/v1/status': {
        get: {
          summary: 'Status of engines: links, extensions supervised, sync runs',
          security,
          parameters: [companyParam],
          responses: { 200: response('The revision and the engines the administrator may see.', ref('RuntimeStatus')), ...errors },
        },
      },
      '/v1/links': {
        get: {
          summary: 'Connection status of every PBX link (manual §10.4)',
          description: 'As the running `pbx-links` engine sees it. See docs/links.md.',
          security,
          parameters: [companyParam],
          responses: { 200: response('The links the administrator may see.', { type: 'array', items: LINK_STATUS }), ...errors },
        },
      },
      '/v1/licences': {
        get: {
          summary: 'Available, used and free licences per application and company (manual §3.3.2)',
          description: 'One row per License, and per application used without one (available 0), sorted by company then application. See docs/runtime.md.',
          security,
          parameters: [companyParam],
          responses: { 200: response("The licences of the companies the administrator may see.", { type: 'array', items: LICENCE_STATUS }), ...errors },
        },
      },
      '/v1/extensions': {
        get: {
          summary: 'Supervision of the configured extensions (manual §10.5), in number order',
          description: 'Numbers compare numerically when both are digits. See docs/links.md.',
          security,
          parameters: [
            { name: 'from', in: 'query', schema: { type: 'string' }, description: 'First extension of the range.' },
            { name: 'to', in: 'query', schema: { type: 'string' }, description: 'Last extension of the range.' },
            { name: 'link', in: 'query', schema: { type: 'string' }, description: 'Only this link (company/domain/name).' },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1 } },
            companyParam,
          ],
          responses: { 200: response('The extensions the administrator may see.', { type: 'array', items: EXTENSION_STATUS }), ...errors },
        },
      },
      '/v1/sync/{kind}/{id}': {
        post: {
          summary: 'Run a user import or directory synchronization now',
          description: 'The same run as `switchboard sync run`: the whole source is read first, then one change set is committed or nothing (zero entries, over 30% removed, any LDAP or file error). `{"dryRun": true}` only lists the changes. See docs/sync.md.',
          security,
          parameters: [
            { name: 'kind', in: 'path', required: true, schema: { enum: ['UserImport', 'Directory'] } },
            { name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: 'URL-encoded id, e.g. `acme%2Fparis%2Fad`.' },
          ],
          requestBody: { required: false, content: { 'application/json': { schema: { type: 'object', properties: { dryRun: { type: 'boolean' } }, additionalProperties: false } } } },
          responses: { 200: response('The run record: start, end, outcome, counts (created, updated, disabled, deleted, ignored, errors, unchanged).', { type: 'object' }), ...errors },
        },
      },
      '/v1/lookup': {
        get: {
          summary: 'Who is calling: the user or contact a caller number belongs to',
          description: "The number goes through the domain's incoming dial plan and inverse length; matches users and stored contacts by directory priority; a red-listed number identifies the caller but is never shown.",
          security,
          parameters: [
            { name: 'domain', in: 'query', required: true, schema: { type: 'string' }, description: 'company/domain' },
            { name: 'number', in: 'query', required: true, schema: { type: 'string' } },
          ],
          responses: { 200: response('The lookup key and the matches.', { type: 'object' }), ...errors },
        },
      },
      '/v1/events': {
        get: {
          summary: 'Server-sent events of committed change sets',
          description: 'One `event: change` with `id: <revision>` and `data: <CommittedEvent JSON>` per committed change set the administrator may see (changes of other companies are removed; an event with none left is not sent); `: heartbeat` comments keep the connection open.',
          security,
          parameters: [companyParam],
          responses: { 200: { description: 'The event stream.', content: { 'text/event-stream': { schema: ref('CommittedEvent') } } }, ...errors },
        },
      },
      '/v1/tokens': {
        get: { summary: 'List tokens (super user)', security, responses: { 200: response('Tokens, without secrets.', { type: 'array', items: ref('TokenInfo') }), ...errors } },
        post: {
          summary: 'Create a token for an administrator (super user)',
          security,
          requestBody: { required: true, content: json(ref('TokenRequest')) },
          responses: { 201: response('The token, shown this once.', ref('TokenCreated')), ...errors, 422: response('No such AdminAccount.', ref('Error')) },
        },
      },
      '/v1/tokens/{id}': {
        delete: {
          summary: 'Revoke a token (super user)',
          security,
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { 204: { description: 'Revoked.' }, ...errors, 404: response('No such token.', ref('Error')) },
        },
      },
      '/healthz': { get: { summary: 'The process is up (no token)', responses: { 200: response('Up.', { type: 'object', properties: { status: { const: 'ok' } } }) } } },
      '/readyz': {
        get: {
          summary: 'The store is open and the engines have started (no token)',
          responses: {
            200: response('Ready.', { type: 'object', properties: { status: { const: 'ready' } } }),
            503: response('Not ready, or shutting down.', { type: 'object', properties: { status: { const: 'not-ready' }, reason: { type: 'string' } } }),
          },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics (super user)',
          security,
          responses: { 200: { description: 'Prometheus text format.', content: { 'text/plain': { schema: { type: 'string' } } } }, ...errors },
        },
      },
      '/openapi.json': {
        get: {
          summary: 'This document',
          description: 'The OpenAPI description of this API, as docs/openapi.json holds it. Needs a token, like everything but the probes.',
          security,
          responses: { 200: response('The OpenAPI 3.1 document.', { type: 'object' }), 401: errors[401] },
        },
      },
    }),
  };
}

export function openapiText(): string {
  return `${JSON.stringify(openapiDocument(), null, 2)}\n`;
}
