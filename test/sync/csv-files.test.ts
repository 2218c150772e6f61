// A CSV directory reads its file only from the folder the runtime reads CSV files from
// (DATA_DIR/files, or --files-dir): a Directory is configuration any company administrator may
// write through the API, and `path: /etc/passwd` must not import a server file as contacts.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { Runtime } from '../../src/runtime/runtime.js';
import { runDirectory } from '../../src/sync/directory-run.js';
import { changeSet, creates, open, quickstart, tempDir } from '../runtime/helpers.js';
import { header, short, validateFiles, yaml } from '../helpers.js';

const SECRET_LINE = 'root-secret-line';

const directory = (p: string) => ({
  domain: 'acme/paris',
  name: 'Suppliers',
  serverType: 'CSV',
  connection: { path: p },
  fields: { identifier: 'Id', lastName: 'Nom', businessPhone: 'Tel' },
});

const opened: Runtime[] = [];
afterEach(async () => {
  for (const rt of opened.splice(0)) await rt.close();
});

/** A runtime whose files folder holds suppliers.csv; outside it, a file that must stay unread. */
async function setUp(p: string) {
  const base = tempDir();
  const files = path.join(base, 'files');
  mkdirSync(files);
  writeFileSync(path.join(files, 'suppliers.csv'), 'Id,Nom,Tel\n1,Martin,0140000001\n');
  writeFileSync(path.join(base, 'secret.csv'), `Id,Nom,Tel\n1,${SECRET_LINE},0140000009\n`);
  const rt = await open(path.join(base, 'data'), { startEngines: false, filesDir: files });
  opened.push(rt);
  expect(rt.apply(changeSet(0, creates(quickstart())))).toMatchObject({ ok: true });
  return { base, files, rt, create: () => rt.apply(changeSet(rt.revision(), [{ action: 'create', kind: 'Directory', id: 'acme/paris/Suppliers', body: directory(p) }])) };
}

describe('CSV directories are confined to the files folder', () => {
  it('reads a file inside it', async () => {
    const { rt, create } = await setUp('suppliers.csv');
    expect(create()).toMatchObject({ ok: true });
    expect(await runDirectory(rt, 'acme/paris/Suppliers')).toMatchObject({ outcome: 'applied', counts: { created: 1 } });
  });

  it.each([['an absolute path', '/etc/passwd'], ['.. climbing out', '../secret.csv'], ['.. in the middle', 'a/../../secret.csv']])('the runtime refuses %s in a change set', async (_name, p) => {
    const { create, rt } = await setUp(p);
    const r = create();
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems!.map((x) => [x.code, x.path])).toEqual([['csv-path-invalid', 'connection.path']]);
    expect(rt.state().resources.some((x) => x.kind === 'Contact')).toBe(false);
  });

  it('a symbolic link inside the folder that leads out is refused when the file is read, and nothing is imported', async () => {
    const { base, files, rt, create } = await setUp('linked.csv');
    symlinkSync(path.join(base, 'secret.csv'), path.join(files, 'linked.csv'));
    expect(create()).toMatchObject({ ok: true });
    const run = await runDirectory(rt, 'acme/paris/Suppliers');
    expect(run.outcome).toBe('failed');
    expect(JSON.stringify(run)).toContain('leads outside');
    expect(JSON.stringify(run)).not.toContain(SECRET_LINE);
    expect(JSON.stringify(rt.state())).not.toContain(SECRET_LINE);
  });

  it('a pipe is refused at once (reading it would block the engine)', async () => {
    const { files, rt, create } = await setUp('pipe.csv');
    expect(spawnSync('mkfifo', [path.join(files, 'pipe.csv')]).status).toBe(0);
    expect(create()).toMatchObject({ ok: true });
    const run = await runDirectory(rt, 'acme/paris/Suppliers');
    expect(run.outcome).toBe('failed');
    expect(JSON.stringify(run)).toContain('not a regular file');
  });

  it('the default folder is DATA_DIR/files', async () => {
    const rt = await open(path.join(tempDir(), 'data'), { startEngines: false });
    opened.push(rt);
    expect(rt.filesDir).toBe(path.join(rt.dataDir, 'files'));
  });
});

describe('validate reports an escaping CSV path at the field', () => {
  it.each([['/etc/passwd', 'is an absolute path'], ['../x.csv', 'climbs out with ".."'], ['C:\\\\exports\\\\x.csv', 'is an absolute path']])('%s', (p, reason) => {
    const r = validateFiles({
      'c.yaml': `${header('Company')}name: acme\n---\n${header('Domain')}company: acme\nname: paris\n`,
      'd.yaml':
        header('Directory') +
        yaml`
          domain: acme/paris
          name: Suppliers
          serverType: CSV
          connection:
            path: "${p}"
          fields:
            lastName: Nom
        `,
    });
    expect(r.diagnostics.map(short)).toEqual(['d.yaml:7:9 csv-path-invalid']);
    expect(r.diagnostics[0]!.message).toContain(reason);
  });
});
