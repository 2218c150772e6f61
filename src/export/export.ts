/**
 * Export: the live state as configuration files in the same format `validate` reads — one
 * file per kind and scope, list documents sharing the scope — with every secret replaced by
 * an `${env:NAME}` placeholder and the list of variables to set. Pure: state → files.
 */
import { stringify } from 'yaml';
import { KIND_NAMES, kindInfo, RUNTIME_ONLY_KINDS, scopeKey, type KindName } from '../model/kinds.js';
import { API_VERSION } from '../config/parse.js';
import { belongsToCompany } from '../model/company-scope.js';
import type { LiveResource } from '../runtime/types.js';

export interface ExportOptions {
  /** Only this company's resources (and no server-wide ones). */
  readonly company?: string;
  /** Also export resources managed by sync engines (`import:*`, `directory:*`); off by default: they belong to their engine. */
  readonly includeSynced?: boolean;
}

export interface ExportedSecret {
  readonly variable: string;
  readonly kind: KindName;
  readonly id: string;
  readonly field: string;
}

export interface Export {
  /** Relative path → YAML text. */
  readonly files: ReadonlyMap<string, string>;
  readonly secrets: readonly ExportedSecret[];
  readonly resources: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * A portable file-name segment for a company or domain name. Names are free text: `..` must not
 * write outside the export folder, and a name the loader skips (a dot-name, `node_modules`) must
 * not make its resources vanish when the export is read back — such segments get a `_` in front.
 */
const segment = (s: string) => {
  const t = s.replace(/[^A-Za-z0-9._-]+/g, '_');
  return t.startsWith('.') || t === 'node_modules' ? `_${t}` : t;
};

function variableName(kind: KindName, id: string, field: string, used: Set<string>): string {
  const base = `SB_${kind}_${id}_${field}`
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toUpperCase();
  let name = base;
  for (let i = 2; used.has(name); i++) name = `${base}_${i}`;
  used.add(name);
  return name;
}

export function exportState(resources: readonly LiveResource[], options: ExportOptions = {}): Export {
  const used = new Set<string>();
  const secrets: ExportedSecret[] = [];
  const groups = new Map<string, { kind: KindName; scope?: string; items: Record<string, unknown>[] }>();
  let count = 0;
  const ordered = [...resources].sort((a, b) => KIND_NAMES.indexOf(a.kind) - KIND_NAMES.indexOf(b.kind) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const r of ordered) {
    if (!options.includeSynced && (r.manager.startsWith('import:') || r.manager.startsWith('directory:'))) continue;
    if (RUNTIME_ONLY_KINDS.has(r.kind)) continue; // contacts: YAML may not declare them (runtime-only-kind)
    const info = kindInfo(r.kind);
    if (options.company !== undefined && !belongsToCompany(r, options.company)) continue;
    const replaceSecrets = (v: unknown, field: string): unknown => {
      if (isObject(v) && typeof v.$secret === 'string') {
        const variable = variableName(r.kind, r.id, field, used);
        secrets.push({ variable, kind: r.kind, id: r.id, field });
        return `\${env:${variable}}`;
      }
      if (Array.isArray(v)) return v.map((x, i) => replaceSecrets(x, `${field}[${i}]`));
      if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, replaceSecrets(x, field ? `${field}.${k}` : k)]));
      return v;
    };
    const body = replaceSecrets(r.body, '') as Record<string, unknown>;
    const key = scopeKey(r.kind);
    const scope = key ? (body[key] as string | undefined) : undefined;
    const file =
      info.scope === 'server'
        ? `${r.kind === 'Company' ? `${segment(r.id)}/company` : 'admins'}.yaml`
        : info.scope === 'company'
          ? `${segment(scope ?? '_')}/${r.kind}.yaml`
          : `${segment((scope ?? '_/_').split('/')[0]!)}/${segment((scope ?? '_/_').split('/')[1] ?? '_')}/${r.kind}.yaml`;
    const groupKey = `${file}\u0000${r.kind}\u0000${scope ?? ''}`;
    let g = groups.get(groupKey);
    if (!g) groups.set(groupKey, (g = { kind: r.kind, ...(scope !== undefined ? { scope } : {}), items: [] }));
    if (key) delete body[key];
    g.items.push(body);
    count++;
  }
  const files = new Map<string, string>();
  for (const [groupKey, g] of groups) {
    const file = groupKey.split('\u0000')[0]!;
    const key = scopeKey(g.kind);
    const doc = g.items.length === 1 && !key ? { apiVersion: API_VERSION, kind: g.kind, ...g.items[0] } : { apiVersion: API_VERSION, kind: g.kind, ...(key && g.scope !== undefined ? { [key]: g.scope } : {}), items: g.items };
    const text = stringify(doc, { lineWidth: 0 });
    files.set(file, files.has(file) ? `${files.get(file)}---\n${text}` : text);
  }
  return { files, secrets, resources: count };
}
