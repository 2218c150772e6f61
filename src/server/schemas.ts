/**
 * JSON Schemas (2020-12) of the HTTP API's bodies: the request bodies the server validates
 * before anything reaches the runtime, and the response bodies documented in
 * docs/openapi.json. They restate the plain-JSON types of `runtime/types.ts` and
 * `runtime/core.ts`; resource bodies are not restated here: they are the kind schemas in
 * `schemas/`, which the runtime itself checks (a wrong field is a 422 with problems, not a 400).
 *
 * References between these schemas are `#/$defs/<Name>`: the validator compiles them as the
 * `$defs` of one root schema, and scripts/openapi.ts rewrites them to `#/components/schemas/<Name>`.
 */
import { KIND_NAMES } from '../model/kinds.js';

type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/$defs/${name}` });

/** The largest list a request may carry (changes, values): 100,000 items. */
export const MAX_LIST_ITEMS = 100_000;

const kind: Schema = { type: 'string', enum: [...KIND_NAMES], description: 'A resource kind, spelled as in YAML `kind:`.' };
const id: Schema = { type: 'string', minLength: 1, maxLength: 1024, description: 'The stable id of the resource, e.g. `acme/paris/jdoe` for a User.' };
const body: Schema = {
  type: 'object',
  description: 'The full resource body as its kind schema describes it. A secret field holds its value (set it) or the fingerprint of the current value (keep it).',
};
const manager: Schema = {
  type: 'string',
  pattern: '^(config|api|import:.+|directory:.+)$',
  description: 'Who manages the resource: `config`, `api`, `import:<name>` or `directory:<name>`.',
};
const via: Schema = { type: 'string', enum: ['plan', 'api', 'sync'], description: 'Through which path a change was made.' };

/** Every API schema, by component name. */
export const API_SCHEMAS: Readonly<Record<string, Schema>> = {
  Kind: kind,
  Manager: manager,
  ChangeVia: via,
  SecretFingerprint: {
    type: 'object',
    description: 'A secret as the runtime shows it: a keyed fingerprint (HMAC-SHA-256 under the runtime key), never the value.',
    required: ['$secret'],
    properties: { $secret: { type: 'string' } },
    additionalProperties: false,
  },
  Change: {
    description: 'One create, update or delete (chosen by `action`). A delete has no body.',
    type: 'object',
    required: ['action'],
    properties: { action: { enum: ['create', 'update', 'delete'] } },
    discriminator: { propertyName: 'action' },
    oneOf: [
      {
        type: 'object',
        title: 'create',
        required: ['action', 'kind', 'id', 'body'],
        properties: { action: { const: 'create' }, kind: ref('Kind'), id, body, manager: ref('Manager') },
        additionalProperties: false,
      },
      {
        type: 'object',
        title: 'update',
        required: ['action', 'kind', 'id', 'body'],
        properties: { action: { const: 'update' }, kind: ref('Kind'), id, body },
        additionalProperties: false,
      },
      {
        type: 'object',
        title: 'delete',
        required: ['action', 'kind', 'id'],
        properties: { action: { const: 'delete' }, kind: ref('Kind'), id },
        additionalProperties: false,
      },
    ],
  },
  ChangeOrigin: {
    type: 'object',
    description: 'Where a change set comes from, for the audit log. `actor` is ignored: the server takes it from the token.',
    required: ['via'],
    properties: {
      via: { type: 'string', enum: ['plan', 'api'], description: 'plan (switchboard apply) or api (any other client). `sync` is reserved to the engines inside the runtime.' },
      actor: { type: 'string', description: 'Ignored: replaced by the username of the token.' },
      planDigest: { type: 'string', maxLength: 256 },
      gitCommit: { type: 'string', maxLength: 256 },
      gitDirty: { type: 'boolean' },
      summary: { type: 'string', maxLength: 4096 },
    },
    additionalProperties: false,
  },
  ChangeSet: {
    type: 'object',
    description: 'An atomic, ordered list of changes planned against `baseRevision`: applied all or nothing, refused as stale when the live revision differs.',
    required: ['baseRevision', 'changes', 'origin'],
    properties: {
      baseRevision: { type: 'integer', minimum: 0 },
      changes: { type: 'array', maxItems: MAX_LIST_ITEMS, items: ref('Change') },
      origin: ref('ChangeOrigin'),
    },
    additionalProperties: false,
  },
  ChangeProblem: {
    type: 'object',
    required: ['code', 'message'],
    properties: { code: { type: 'string' }, message: { type: 'string' }, kind: ref('Kind'), id: { type: 'string' }, path: { type: 'string' } },
  },
  ChangeSetResult: {
    description: 'The outcome of a change set: applied at a new revision, or refused with the reasons (nothing applied).',
    oneOf: [
      {
        type: 'object',
        title: 'applied',
        required: ['ok', 'revision', 'applied'],
        properties: { ok: { const: true }, revision: { type: 'integer' }, applied: { type: 'integer' } },
      },
      {
        type: 'object',
        title: 'refused',
        required: ['ok', 'code', 'message', 'revision', 'problems'],
        properties: {
          ok: { const: false },
          code: { type: 'string', enum: ['stale', 'invalid', 'forbidden', 'not-found', 'exists', 'not-managed'] },
          message: { type: 'string' },
          revision: { type: 'integer', description: 'The live revision when it was refused.' },
          problems: { type: 'array', items: ref('ChangeProblem') },
        },
      },
    ],
  },
  LiveResource: {
    type: 'object',
    required: ['kind', 'id', 'body', 'manager', 'revision', 'updatedAt', 'updatedBy', 'updatedVia'],
    properties: {
      kind: ref('Kind'),
      id: { type: 'string' },
      body: { ...body, description: 'Fields as stored; every secret field holds a SecretFingerprint.' },
      manager: ref('Manager'),
      revision: { type: 'integer', description: 'Revision of the change set that last wrote it.' },
      updatedAt: { type: 'string', format: 'date-time' },
      updatedBy: { type: 'string' },
      updatedVia: ref('ChangeVia'),
      drifted: { type: 'boolean', description: 'A config-managed resource last written by something other than config.' },
    },
  },
  LiveState: {
    type: 'object',
    required: ['revision', 'resources'],
    properties: { revision: { type: 'integer' }, resources: { type: 'array', items: ref('LiveResource') } },
  },
  FingerprintRequest: {
    type: 'object',
    required: ['values'],
    properties: { values: { type: 'array', maxItems: MAX_LIST_ITEMS, items: { type: 'string' } } },
    additionalProperties: false,
  },
  FingerprintResponse: {
    type: 'object',
    required: ['fingerprints'],
    properties: { fingerprints: { type: 'array', items: { type: 'string' } } },
  },
  ImpactRequest: {
    type: 'object',
    required: ['changes'],
    properties: { changes: { type: 'array', maxItems: MAX_LIST_ITEMS, items: ref('Change') } },
    additionalProperties: false,
  },
  ImpactFact: {
    oneOf: [
      {
        type: 'object',
        required: ['type', 'engine', 'target', 'reason', 'extensionsInterrupted'],
        properties: { type: { const: 'restart' }, engine: { type: 'string' }, target: { type: 'string' }, reason: { type: 'string' }, extensionsInterrupted: { type: 'integer' } },
      },
      {
        type: 'object',
        required: ['type', 'engine', 'extensions'],
        properties: { type: { enum: ['supervision-start', 'supervision-stop'] }, engine: { type: 'string' }, extensions: { type: 'array', items: { type: 'string' } } },
      },
      {
        type: 'object',
        required: ['type', 'engine', 'extensions', 'reason'],
        properties: { type: { const: 'not-supervised' }, engine: { type: 'string' }, extensions: { type: 'array', items: { type: 'string' } }, reason: { type: 'string', description: 'Why nothing will supervise them: no driver for the link, over its capacity, no link.' } },
      },
      {
        type: 'object',
        required: ['type', 'engine', 'target', 'reason'],
        properties: { type: { enum: ['sync-rerun', 'sync-unsupported'] }, engine: { type: 'string' }, target: { type: 'string' }, reason: { type: 'string' } },
      },
    ],
  },
  ChangeImpact: {
    type: 'object',
    required: ['index', 'facts'],
    properties: { index: { type: 'integer', description: 'Index of the change in the request.' }, facts: { type: 'array', items: ref('ImpactFact') } },
  },
  AuditEntry: {
    type: 'object',
    required: ['revision', 'at', 'actor', 'via', 'changes'],
    properties: {
      revision: { type: 'integer' },
      at: { type: 'string', format: 'date-time' },
      actor: { type: 'string' },
      via: ref('ChangeVia'),
      planDigest: { type: 'string' },
      gitCommit: { type: 'string' },
      gitDirty: { type: 'boolean' },
      summary: { type: 'string' },
      changes: {
        type: 'array',
        description: 'Per resource: before and after, secrets replaced by "(sensitive)".',
        items: {
          type: 'object',
          required: ['action', 'kind', 'id'],
          properties: { action: { enum: ['create', 'update', 'delete'] }, kind: ref('Kind'), id: { type: 'string' }, before: {}, after: {} },
        },
      },
    },
  },
  EngineStatus: {
    type: 'object',
    required: ['name', 'state', 'restarts', 'since'],
    properties: {
      name: { type: 'string' },
      state: { enum: ['starting', 'running', 'failed', 'backoff', 'stopped'] },
      message: { type: 'string' },
      restarts: { type: 'integer' },
      since: { type: 'string', format: 'date-time' },
      details: { type: 'object', description: 'Engine-specific facts (links: connected, extensions supervised; sync engines: last run …).' },
    },
  },
  RuntimeStatus: {
    type: 'object',
    required: ['revision', 'engines'],
    properties: { revision: { type: 'integer' }, engines: { type: 'array', items: ref('EngineStatus') } },
  },
  CommittedEvent: {
    type: 'object',
    description: 'A committed change set, as sent on /v1/events (one `data:` line each).',
    required: ['revision', 'at', 'via', 'actor', 'changes'],
    properties: {
      revision: { type: 'integer' },
      at: { type: 'string', format: 'date-time' },
      via: ref('ChangeVia'),
      actor: { type: 'string' },
      changes: {
        type: 'array',
        items: {
          type: 'object',
          required: ['action', 'kind', 'id'],
          properties: { action: { enum: ['create', 'update', 'delete'] }, kind: ref('Kind'), id: { type: 'string' }, company: { type: 'string' } },
        },
      },
    },
  },
  TokenRequest: {
    type: 'object',
    required: ['username'],
    properties: { username: { type: 'string', minLength: 1, maxLength: 128, description: 'An AdminAccount username.' } },
    additionalProperties: false,
  },
  TokenCreated: {
    type: 'object',
    required: ['id', 'username', 'token', 'createdAt'],
    properties: {
      id: { type: 'string', description: 'The token id (the first 16 hex digits of its SHA-256): use it to revoke the token.' },
      username: { type: 'string' },
      token: { type: 'string', description: 'The bearer token. Shown once: the runtime keeps only its SHA-256.' },
      createdAt: { type: 'string', format: 'date-time' },
    },
  },
  TokenInfo: {
    type: 'object',
    required: ['id', 'username', 'createdAt', 'builtIn'],
    properties: {
      id: { type: 'string' },
      username: { type: 'string' },
      createdAt: { type: 'string', format: 'date-time' },
      builtIn: { type: 'boolean', description: 'The super-admin token of <data-dir>/admin.token.' },
    },
  },
  Error: {
    type: 'object',
    description: 'Any refusal that is not a ChangeSetResult.',
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        required: ['status', 'code', 'message'],
        properties: {
          status: { type: 'integer' },
          code: { type: 'string', description: 'Stable: bad-request, invalid, unauthorized, forbidden, not-found, precondition-failed, payload-too-large, unsupported-media-type, too-many-requests, internal.' },
          message: { type: 'string' },
        },
      },
    },
  },
};
