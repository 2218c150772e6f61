/**
 * CSV directories, strict (src/sync/csv.ts): real-world shaped exports (Outlook in
 * Windows-1252, Google Contacts in UTF-8 with ` ::: ` multi-values, Excel "Unicode text" in
 * UTF-16LE) through a real runtime; every malformed row reported with its line and nothing
 * changed; wrong encodings, binary files, header-only and empty files, missing columns refused
 * with what to do; an encoding correction updates contacts in place; and a fuzzer: mutated
 * and random files only ever fail as a CsvError.
 */
import { spawnSync } from 'node:child_process';
import { truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import iconv from 'iconv-lite';
import { afterEach, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/runtime/runtime.js';
import type { LiveResource } from '../../src/runtime/types.js';
import { CSV_MAX_BYTES, CSV_MAX_FIELD, CsvError, firstInvalidUtf8, parseCsvBytes, readCsvFile, type CsvOptions } from '../../src/sync/csv.js';
import { contactsOf, sourceRow } from '../../src/sync/directory.js';
import { planContacts, runDirectory } from '../../src/sync/directory-run.js';
import { lookupCaller } from '../../src/sync/lookup.js';
import { liveDialPlan } from '../../src/sync/run.js';
import { changeSet, creates, open, quickstart, tempDir } from '../runtime/helpers.js';
import { prng } from '../prng.js';

// ---------------------------------------------------------------------------------------
// Real-world shaped exports

/** Outlook's "Comma Separated Values" export header (Outlook 2016+, English UI), every column. */
const OUTLOOK_HEADER = [
  'Title', 'First Name', 'Middle Name', 'Last Name', 'Suffix', 'Company', 'Department', 'Job Title',
  'Business Street', 'Business Street 2', 'Business Street 3', 'Business City', 'Business State', 'Business Postal Code', 'Business Country/Region',
  'Home Street', 'Home Street 2', 'Home Street 3', 'Home City', 'Home State', 'Home Postal Code', 'Home Country/Region',
  'Other Street', 'Other Street 2', 'Other Street 3', 'Other City', 'Other State', 'Other Postal Code', 'Other Country/Region',
  "Assistant's Phone", 'Business Fax', 'Business Phone', 'Business Phone 2', 'Callback', 'Car Phone', 'Company Main Phone', 'Home Fax', 'Home Phone', 'Home Phone 2',
  'ISDN', 'Mobile Phone', 'Other Fax', 'Other Phone', 'Pager', 'Primary Phone', 'Radio Phone', 'TTY/TDD Phone', 'Telex',
  'Account', 'Anniversary', "Assistant's Name", 'Billing Information', 'Birthday', 'Business Address PO Box', 'Categories', 'Children', 'Directory Server',
  'E-mail Address', 'E-mail Type', 'E-mail Display Name', 'E-mail 2 Address', 'E-mail 2 Type', 'E-mail 2 Display Name', 'E-mail 3 Address', 'E-mail 3 Type', 'E-mail 3 Display Name',
  'Gender', 'Government ID Number', 'Hobby', 'Home Address PO Box', 'Initials', 'Internet Free Busy', 'Keywords', 'Language', 'Location', "Manager's Name", 'Mileage', 'Notes',
  'Office Location', 'Organizational ID Number', 'Other Address PO Box', 'Priority', 'Private', 'Profession', 'Referred By', 'Sensitivity', 'Spouse', 'User 1', 'User 2', 'User 3', 'User 4', 'Web Page',
];

/** One Outlook row: every field quoted, empty ones `""`, as Outlook writes them. */
function outlookRow(v: Record<string, string>): string {
  const defaults: Record<string, string> = { Anniversary: '0/0/00', Birthday: '0/0/00', Gender: 'Unspecified', Priority: 'Normal', Private: 'False', Sensitivity: 'Normal', 'E-mail Type': 'SMTP' };
  return OUTLOOK_HEADER.map((h) => `"${(v[h] ?? defaults[h] ?? '').replace(/"/g, '""')}"`).join(',');
}

const OUTLOOK_ROWS = [
  outlookRow({
    'First Name': 'Élodie',
    'Last Name': 'Lœuvre',
    Company: 'Fournitures d’Île-de-France, SARL',
    'Business Street': '12 rue de la Paix\r\nBâtiment B, 2e étage',
    'Business Phone': '+33 1 40 00 00 01',
    'Mobile Phone': '06 11 22 33 44',
    'E-mail Address': 'elodie.loeuvre@fournitures.example',
    'E-mail Display Name': 'Élodie Lœuvre (elodie.loeuvre@fournitures.example)',
    Notes: 'Budget 2024: 15 000 €\r\nPréfère être appelée le matin, "pas après 18h"',
  }),
  outlookRow({ 'First Name': 'Noël', 'Last Name': "O'Brien", Company: 'Cœur & Co', 'Business Phone': '01 40 00 00 02', 'E-mail Address': 'noel@coeur.example' }),
  outlookRow({ 'First Name': 'Zoë', 'Last Name': 'Müller', 'Home Phone': '+49 30 1234 5678' }),
];

/** The file as Outlook writes it on a French Windows: Windows-1252, CRLF. */
const outlookFile = (rows = OUTLOOK_ROWS) => iconv.encode(`${OUTLOOK_HEADER.map((h) => `"${h}"`).join(',')}\r\n${rows.join('\r\n')}\r\n`, 'windows-1252');

const outlookDirectory = (over: Record<string, unknown> = {}) => ({
  domain: 'acme/paris',
  name: 'Outlook',
  serverType: 'CSV',
  priority: 3,
  connection: { path: 'contacts.csv', encoding: 'windows-1252' },
  fields: {
    lastName: 'Last Name',
    firstName: 'First Name',
    company: 'Company',
    businessPhone: 'Business Phone',
    mobilePhone: 'Mobile Phone',
    homePhone: 'Home Phone',
    email1: 'E-mail Address',
    private0: 'Business Street|a',
    private1: 'Notes',
  },
  ...over,
});

/** Google Contacts' "Google CSV" export header, every column of a one-phone-type, one-address contact. */
const GOOGLE_HEADER =
  'Name,Given Name,Additional Name,Family Name,Yomi Name,Given Name Yomi,Additional Name Yomi,Family Name Yomi,Name Prefix,Name Suffix,Initials,Nickname,Short Name,Maiden Name,Birthday,Gender,Location,Billing Information,Directory Server,Mileage,Occupation,Hobby,Sensitivity,Priority,Subject,Notes,Language,Photo,Group Membership,E-mail 1 - Type,E-mail 1 - Value,Phone 1 - Type,Phone 1 - Value,Phone 2 - Type,Phone 2 - Value,Address 1 - Type,Address 1 - Formatted,Address 1 - Street,Address 1 - City,Address 1 - PO Box,Address 1 - Region,Address 1 - Postal Code,Address 1 - Country,Address 1 - Extended Address,Organization 1 - Type,Organization 1 - Name,Organization 1 - Yomi Name,Organization 1 - Title,Organization 1 - Department,Organization 1 - Symbol,Organization 1 - Location,Organization 1 - Job Description';
const GOOGLE_COLUMNS = GOOGLE_HEADER.split(',');
function googleRow(v: Record<string, string>): string {
  return GOOGLE_COLUMNS.map((h) => {
    const x = v[h] ?? '';
    return /[",\n]/.test(x) ? `"${x.replace(/"/g, '""')}"` : x;
  }).join(',');
}
const GOOGLE_ROWS = [
  googleRow({
    Name: 'Jean-Luc Picard',
    'Given Name': 'Jean-Luc',
    'Family Name': 'Picard',
    Notes: 'Capitaine, "Enterprise"',
    Photo: 'https://lh3.googleusercontent.com/contacts/ABC123=s100',
    'Group Membership': '* myContacts ::: Clients',
    'E-mail 1 - Type': '* Work',
    'E-mail 1 - Value': 'jl.picard@starfleet.example',
    'Phone 1 - Type': 'Work',
    'Phone 1 - Value': '+33 1 40 00 00 10 ::: +33 1 40 00 00 11',
    'Phone 2 - Type': 'Mobile',
    'Phone 2 - Value': '+33 6 00 00 00 10',
    'Address 1 - Type': 'Work',
    'Address 1 - Formatted': '1 avenue des Étoiles\n75008 Paris\nFR',
    'Organization 1 - Name': 'Starfleet, Inc.',
  }),
  googleRow({ Name: 'Beverly Crusher', 'Given Name': 'Beverly', 'Family Name': 'Crusher', 'E-mail 1 - Value': 'b.crusher@starfleet.example', 'Phone 1 - Type': 'Work', 'Phone 1 - Value': '+33 1 40 00 00 12' }),
];
const googleFile = (rows = GOOGLE_ROWS) => Buffer.from(`${GOOGLE_HEADER}\n${rows.join('\n')}\n`, 'utf8');
const googleDirectory = (over: Record<string, unknown> = {}) => ({
  domain: 'acme/paris',
  name: 'Google',
  serverType: 'CSV',
  priority: 4,
  connection: { path: 'google.csv', valueSeparator: ' ::: ' },
  fields: {
    lastName: 'Family Name',
    firstName: 'Given Name',
    company: 'Organization 1 - Name',
    photo: 'Photo',
    businessPhone: 'Phone 1 - Value',
    mobilePhone: 'Phone 2 - Value',
    email1: 'E-mail 1 - Value',
    private0: 'Address 1 - Formatted|a',
  },
  ...over,
});

// ---------------------------------------------------------------------------------------
// Runtime helpers

const opened: Runtime[] = [];
afterEach(async () => {
  for (const rt of opened.splice(0)) await rt.close();
});

async function runtimeWith(directories: Record<string, unknown>[]): Promise<Runtime> {
  const rt = await open(tempDir(), { startEngines: false });
  opened.push(rt);
  expect(rt.apply(changeSet(0, creates(quickstart())))).toMatchObject({ ok: true });
  const r = rt.apply(changeSet(rt.revision(), directories.map((body) => ({ action: 'create' as const, kind: 'Directory' as const, id: `${String(body.domain)}/${String(body.name)}`, body }))));
  expect(r).toMatchObject({ ok: true });
  return rt;
}
function setDirectory(rt: Runtime, body: Record<string, unknown>): void {
  const id = `${String(body.domain)}/${String(body.name)}`;
  expect(rt.apply(changeSet(rt.revision(), [{ action: 'update', kind: 'Directory', id, body }]))).toMatchObject({ ok: true });
}
const contacts = (rt: Runtime, name: string): LiveResource[] => rt.state().resources.filter((r) => r.kind === 'Contact' && r.body.directory === name);
const fieldsOf = (c: LiveResource) => c.body.fields as Record<string, string>;
const byLast = (rt: Runtime, name: string, last: string) => contacts(rt, name).find((c) => fieldsOf(c).lastName === last);

// ---------------------------------------------------------------------------------------

describe('real-world exports through a real runtime', () => {
  it('Outlook, Windows-1252: ’ € œ come out right; quoted commas, quotes and line breaks stay in their field', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'contacts.csv'), outlookFile());
    const rt = await runtimeWith([outlookDirectory()]);
    const r = await runDirectory(rt, 'acme/paris/Outlook', { filesDir: dir });
    expect(r).toMatchObject({ outcome: 'applied', sourceEntries: 3, counts: { created: 3 } });
    expect(r.notes).toEqual([]);
    expect(fieldsOf(byLast(rt, 'Outlook', 'Lœuvre')!)).toEqual({
      lastName: 'Lœuvre',
      firstName: 'Élodie',
      company: 'Fournitures d’Île-de-France, SARL',
      businessPhone: '+33 1 40 00 00 01',
      mobilePhone: '06 11 22 33 44',
      email1: 'elodie.loeuvre@fournitures.example',
      private0: '12 rue de la Paix\r\nBâtiment B, 2e étage',
      private1: 'Budget 2024: 15 000 €\r\nPréfère être appelée le matin, "pas après 18h"',
    });
    expect(fieldsOf(byLast(rt, 'Outlook', "O'Brien")!)).toMatchObject({ firstName: 'Noël', company: 'Cœur & Co' });
    expect(fieldsOf(byLast(rt, 'Outlook', 'Müller')!)).toEqual({ lastName: 'Müller', firstName: 'Zoë', homePhone: '+49 30 1234 5678' });
  });

  it('Google Contacts, UTF-8 with " ::: " multi-values: every number identifies the caller', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'google.csv'), googleFile());
    const rt = await runtimeWith([googleDirectory()]);
    const r = await runDirectory(rt, 'acme/paris/Google', { filesDir: dir });
    expect(r).toMatchObject({ outcome: 'applied', counts: { created: 2 } });
    const picard = byLast(rt, 'Google', 'Picard')!;
    expect(picard.body).toMatchObject({
      fields: { firstName: 'Jean-Luc', company: 'Starfleet, Inc.', businessPhone: '+33 1 40 00 00 10', mobilePhone: '+33 6 00 00 00 10', photo: 'https://lh3.googleusercontent.com/contacts/ABC123=s100', private0: '1 avenue des Étoiles\n75008 Paris\nFR' },
      additionalPhones: { businessPhone: ['+33 1 40 00 00 11'] },
    });
    const state = rt.state({ company: 'acme' });
    const compiled = liveDialPlan(state.resources, 'acme/paris')!;
    const second = lookupCaller(compiled, state.resources, 'acme/paris', '01 40 00 00 11');
    expect(second.matches.map((m) => [m.id, m.field, m.number])).toEqual([[picard.id, 'businessPhone', '+33 1 40 00 00 11']]);
    // Without valueSeparator the cell is one value that is no phone number: left out, with a warning.
    const plain = parseCsvBytes(googleFile(), { name: 'google.csv', delimiter: ',', encoding: 'utf-8', columns: [{ name: 'Phone 1 - Value', by: 'fields.businessPhone' }] });
    const { contacts: one, notes } = contactsOf({ domain: 'acme/paris', name: 'G', fields: { businessPhone: 'Phone 1 - Value' } }, plain.rows);
    expect(one).toHaveLength(1);
    expect(notes.map((n) => n.message)).toEqual(['google.csv line 2: businessPhone "+33 1 40 00 00 10 ::: +33 1 40 00 00 11" is not a phone number (digits, spaces and + ( ) . - / * # only): left out']);
  });

  it('Excel "Unicode text" (UTF-16LE with a byte order mark, tab-delimited) with encoding: utf-16le', () => {
    const text = '\ufeffNom\tPrénom\tTél\r\nŒuvre\tAnaïs\t01 40 00 00 20\r\n';
    const read = parseCsvBytes(Buffer.from(text, 'utf16le'), { name: 'u.txt', delimiter: '\t', encoding: 'utf-16le', columns: [{ name: 'Nom', by: 'fields.lastName' }, { name: 'Prénom', by: 'fields.firstName' }] });
    expect(read.rows[0]!.values.get('Nom')).toEqual(['Œuvre']);
    expect(read.rows[0]!.values.get('Prénom')).toEqual(['Anaïs']);
  });
});

const opts = (over: Partial<CsvOptions> = {}): CsvOptions => ({ name: 'c.csv', delimiter: ',', encoding: 'utf-8', columns: [{ name: 'a', by: 'fields.lastName' }, { name: 'b', by: 'fields.firstName' }], ...over });
const problemsOf = (bytes: Buffer | string, over: Partial<CsvOptions> = {}): string[] => {
  try {
    parseCsvBytes(typeof bytes === 'string' ? Buffer.from(bytes) : bytes, opts(over));
  } catch (e) {
    expect(e).toBeInstanceOf(CsvError);
    return [...(e as CsvError).problems];
  }
  throw new Error('expected a CsvError');
};

describe('malformed rows: every one reported with its line, none used', () => {
  it.each([
    ['a stray quote', 'a,b,c\n1,2,3\n4,5"x,6\n7,8,9\n', ['1 malformed row, so none is used', 'line 3: a quote (") inside a field that does not start with one — quote the whole field and double the quotes inside ("a ""b"" c")']],
    ['an unquoted comma', 'a,b,c\n1,2,3\nDupont, Jean,5,6\n', ['1 malformed row, so none is used', 'line 3 has 4 fields, the header has 3 — an unquoted "," inside a value? quote values that contain it']],
    ['a missing field', 'a,b,c\n1,2\n', ['1 malformed row, so none is used', 'line 2 has 2 fields, the header has 3']],
    ['two bad rows', 'a,b,c\n1,2,3,4\n5,6\n7,8,9\n', ['2 malformed rows, so none is used', 'line 2 has 4 fields, the header has 3 — an unquoted "," inside a value? quote values that contain it', 'line 3 has 2 fields, the header has 3']],
  ])('%s', (_name, text, expected) => {
    expect(problemsOf(text)).toEqual(expected);
  });

  it('a quote never closed is reported with where it opened, not read as a field swallowing the rest of the file', () => {
    expect(problemsOf('a,b,c\n1,2,3\n1,"2,3\n4,5,6\n7,8,9\n')).toEqual(['1 malformed row, so none is used', 'the row starting on line 3 opens a quote that is never closed (the file ends inside it): look for a stray quote (")']);
  });

  it('text after a closing quote', () => {
    expect(problemsOf('a,b,c\n"x"y,2,3\n4,5,6\n')).toContain('line 2: text right after a closing quote — quote the whole field and double the quotes inside');
  });

  it('lines are counted from the start of each record, quoted line breaks included', () => {
    const r = parseCsvBytes(Buffer.from('a,b\n"x\ny",1\n"p\nq\nr",2\n3,4\n'), opts());
    expect(r.rows.map((x) => x.where)).toEqual(['c.csv line 2', 'c.csv line 4', 'c.csv line 7']);
    expect(problemsOf('a,b\n"x\ny",1\n"p\nq\nr",2\n3,4,5\n')).toContain('line 7 has 3 fields, the header has 2 — an unquoted "," inside a value? quote values that contain it');
    // CRLF line breaks, inside quoted fields too (Outlook), and blank lines between rows.
    const crlf = parseCsvBytes(Buffer.from('a,b\r\n"x\r\ny",1\r\n\r\n"p\r\nq",2\r\n3,4\r\n'), opts());
    expect(crlf.rows.map((x) => x.where)).toEqual(['c.csv line 2', 'c.csv line 5', 'c.csv line 7']);
    expect(problemsOf('a,b\r\n"x\r\ny",1\r\n\r\n3,4,5\r\n')).toContain('line 5 has 3 fields, the header has 2 — an unquoted "," inside a value? quote values that contain it');
  });

  it('blank lines and a UTF-8 byte order mark are fine', () => {
    const r = parseCsvBytes(Buffer.from('\ufeffa,b\r\n\r\n1,2\r\n\r\n'), opts());
    expect(r.rows.map((x) => [...x.values.entries()])).toEqual([[['a', ['1']], ['b', ['2']]]]);
  });

  it('a run over a malformed file changes nothing and says which lines', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'contacts.csv'), outlookFile());
    const rt = await runtimeWith([outlookDirectory()]);
    await runDirectory(rt, 'acme/paris/Outlook', { filesDir: dir });
    const revision = rt.revision();
    const before = contacts(rt, 'Outlook');
    // Someone edited the export by hand: a stray quote and an unquoted comma.
    const edited = [OUTLOOK_ROWS[0]!, OUTLOOK_ROWS[1]!.replace('"Cœur & Co"', '"Cœur "& Co"'), OUTLOOK_ROWS[2]!.replace('"Müller"', 'Müller, Jr')];
    writeFileSync(path.join(dir, 'contacts.csv'), outlookFile(edited));
    const r = await runDirectory(rt, 'acme/paris/Outlook', { filesDir: dir });
    expect(r.outcome).toBe('failed');
    expect(r.message).toMatch(/^reading the source failed: contacts\.csv: 2 malformed rows, so none is used; line (\d+): text right after a closing quote.*; line \d+ has 93 fields, the header has 92.*; nothing was changed$/);
    expect(rt.revision()).toBe(revision);
    expect(contacts(rt, 'Outlook')).toEqual(before);
  });
});

describe('bounds and the CLI', () => {
  it('at most 20 malformed rows are listed, then how many more; every one is in the error', () => {
    const text = `a,b\n${Array.from({ length: 26 }, (_, i) => `${i},x,y`).join('\n')}\n`;
    const err = (() => {
      try {
        parseCsvBytes(Buffer.from(text), opts());
      } catch (e) {
        return e as CsvError;
      }
      throw new Error('expected a CsvError');
    })();
    expect(err.problems).toHaveLength(27);
    expect(err.message).toMatch(/^c\.csv: 26 malformed rows, so none is used; line 2 has 3 fields.*; line 20 has 3 fields[^;]*; and 7 more$/);
  });

  it(`a field longer than ${CSV_MAX_FIELD} characters, a file over ${CSV_MAX_BYTES / 1048576} MiB`, () => {
    expect(problemsOf(`a,b\n1,"${'x'.repeat(CSV_MAX_FIELD + 10)}"\n`).join('\n')).toMatch(/a field longer than 100000 characters — a quote that never closes\?/);
    const big = path.join(tempDir(), 'big.csv');
    writeFileSync(big, 'a,b\n');
    truncateSync(big, CSV_MAX_BYTES + 1); // sparse: nothing is written
    expect(() => readCsvFile(big, opts())).toThrow(/the file is 101 MiB, over the 100 MiB limit for a CSV directory/);
  });

  it('switchboard sync run on a malformed file: exit 1, the lines, nothing written', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'contacts.csv'), outlookFile([OUTLOOK_ROWS[0]!, OUTLOOK_ROWS[1]!.replace('"Cœur & Co"', 'Cœur, & Co')]));
    const data = path.join(dir, 'data');
    const rt = await open(data, { startEngines: false });
    expect(rt.apply(changeSet(0, [...creates(quickstart()), { action: 'create', kind: 'Directory', id: 'acme/paris/Outlook', body: outlookDirectory() }]))).toMatchObject({ ok: true });
    const revision = rt.revision();
    await rt.close();
    const r = spawnSync(process.execPath, [path.resolve('bin/switchboard.js'), 'sync', 'run', 'Directory/Outlook', '--data-dir', data, '--files-dir', '.'], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(r.status).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/contacts\.csv: 1 malformed row, so none is used; line 5 has 93 fields, the header has 92 — an unquoted "," inside a value\? quote values that contain it; nothing was changed/);
    const after = await open(data, { startEngines: false });
    opened.push(after);
    expect(after.revision()).toBe(revision);
  });
});

describe('files that are not the CSV they claim to be', () => {
  it('an .xlsx workbook renamed .csv (a ZIP archive)', () => {
    const xlsx = Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x06, 0x00, 0x08, 0x00]), Buffer.from('[Content_Types].xml'), Buffer.alloc(64, 0xa5)]);
    expect(problemsOf(xlsx)).toEqual(['the file is a ZIP archive — an Excel (.xlsx) or OpenDocument (.ods) workbook renamed .csv? Open it and save it as "CSV UTF-8 (comma delimited)"']);
  });
  it('an Excel 97–2003 workbook, a PDF, random binary', () => {
    expect(problemsOf(Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0, 0]))[0]).toMatch(/Excel 97–2003 workbook/);
    expect(problemsOf(Buffer.from('%PDF-1.7\n%âãÏÓ\n'))[0]).toMatch(/a PDF document/);
    expect(problemsOf(Buffer.from([0x61, 0x2c, 0x62, 0x0a, 0x00, 0x01, 0x02]))[0]).toMatch(/line 2 holds a NUL byte: the file is binary or UTF-16/);
  });
  it('an empty file, a header-only file, a file with no header', async () => {
    expect(problemsOf('')).toEqual(['the file is empty: a CSV directory needs a header line and rows']);
    expect(problemsOf('\n\n')).toEqual(['the file has no header line']);
    expect(parseCsvBytes(Buffer.from('a,b\r\n'), opts())).toEqual({ rows: [], notes: [], empty: 'c.csv has a header line and no rows' });
    const dir = tempDir();
    writeFileSync(path.join(dir, 'contacts.csv'), outlookFile());
    const rt = await runtimeWith([outlookDirectory()]);
    await runDirectory(rt, 'acme/paris/Outlook', { filesDir: dir });
    writeFileSync(path.join(dir, 'contacts.csv'), outlookFile([]));
    const r = await runDirectory(rt, 'acme/paris/Outlook', { filesDir: dir });
    expect(r).toMatchObject({ outcome: 'refused', sourceEntries: 0, managed: 3 });
    expect(r.message).toMatch(/^the source returned no entries \(contacts\.csv has a header line and no rows\): .* nothing was changed/);
  });
  it('a mapped column missing from the header: which, the did-you-mean, and the columns there are', () => {
    const p = problemsOf('First Name,Last Nme,Mail\nA,B,C\n', { columns: [{ name: 'First Name', by: 'fields.firstName' }, { name: 'Last Name', by: 'fields.lastName' }, { name: 'E-mail', by: 'fields.email1' }] });
    expect(p).toEqual(['the header has no column "Last Name" (fields.lastName); did you mean "Last Nme"?', 'the header has no column "E-mail" (fields.email1); did you mean "Mail"?', 'the header\'s columns are "First Name", "Last Nme", "Mail"']);
  });
  it('the wrong delimiter: the header is one column, and the error says which delimiter to set', () => {
    const p = problemsOf('Nom;Prénom\nDupont;Jean\n');
    expect(p.at(-1)).toBe('the header is one single column: the file is probably delimited by ";" — set delimiter: ";"');
  });
  it('a column twice in the header', () => {
    expect(problemsOf('a,b,a\n1,2,3\n')[0]).toBe('column "a" (fields.lastName) appears 2 times in the header: rename one');
  });
  it('a case-insensitive match is used when it is the only one', () => {
    expect(parseCsvBytes(Buffer.from('A,B\n1,2\n'), opts()).rows[0]!.values.get('a')).toEqual(['1']);
  });
});

describe('encodings: nothing is ever replaced', () => {
  const frenchCp1252 = iconv.encode('Nom,Société\r\nLœuvre,Fournitures d’Île — 15 €\r\n', 'windows-1252');
  const frenchColumns = { columns: [{ name: 'Nom', by: 'fields.lastName' }, { name: 'Société', by: 'fields.company' }] };

  it('a Windows-1252 file read as UTF-8 (the default) is refused: its line, and "set encoding: windows-1252"', () => {
    const p = problemsOf(frenchCp1252, frenchColumns);
    expect(p).toEqual(['line 1 is not valid UTF-8 (byte 0xE9): the file is probably Windows-1252, as Excel and Outlook save it — set encoding: windows-1252 on the directory\'s connection, or save the file as "CSV UTF-8"']);
  });
  it('with encoding: windows-1252, ’ € œ — come out right (iconv-lite; Node\'s TextDecoder would give latin1 control characters)', () => {
    const r = parseCsvBytes(frenchCp1252, opts({ encoding: 'windows-1252', ...frenchColumns }));
    expect(r.rows[0]!.values.get('Société')).toEqual(['Fournitures d’Île — 15 €']);
    expect(r.rows[0]!.values.get('Nom')).toEqual(['Lœuvre']);
  });
  it('a UTF-8 file declared windows-1252 or latin1 is refused rather than stored garbled', () => {
    const utf8 = Buffer.from('Nom,Société\nLœuvre,Café\n');
    expect(problemsOf(utf8, { encoding: 'windows-1252', ...frenchColumns })[0]).toMatch(/^the file is UTF-8 \(line 1 holds a UTF-8 accented character\), not windows-1252: set encoding: utf-8/);
    expect(problemsOf(utf8, { encoding: 'latin1', ...frenchColumns })[0]).toMatch(/not latin1: set encoding: utf-8/);
  });
  it('latin1 with Windows-1252 bytes (’ is 0x92): refused, "set encoding: windows-1252"', () => {
    expect(problemsOf(frenchCp1252, { encoding: 'latin1', ...frenchColumns })).toEqual(['line 2 holds byte 0x9C, a control character in latin1 but a character (’ € œ …) in Windows-1252: set encoding: windows-1252']);
  });
  it('bytes that are no Windows-1252 character; UTF-16 files read as UTF-8; odd-length UTF-16', () => {
    expect(problemsOf(Buffer.from([0x61, 0x2c, 0x62, 0x0a, 0x81, 0x2c, 0x32, 0x0a]), { encoding: 'windows-1252' })).toEqual(['line 2 holds byte 0x81, which is no character in Windows-1252: is the file in another encoding?']);
    expect(problemsOf(Buffer.from('\ufeffa,b\n1,2\n', 'utf16le'))[0]).toMatch(/UTF-16 \(it starts with a UTF-16 byte order mark\): set encoding: utf-16le/);
    expect(problemsOf(Buffer.from('a,b\n1,2\n', 'utf16le'))[0]).toMatch(/holds a NUL byte: .*UTF-16: set encoding: utf-16le/);
    expect(problemsOf(Buffer.from('a,b\n1,2\n!'), { encoding: 'utf-16le' })[0]).toMatch(/odd number of bytes/);
  });
  it('firstInvalidUtf8 follows RFC 3629 (overlong forms, surrogates, beyond U+10FFFF, truncation)', () => {
    expect(firstInvalidUtf8(Buffer.from('aé€😀'))).toBe(-1);
    expect(firstInvalidUtf8(Buffer.from([0x61, 0xc0, 0xaf]))).toBe(1); // overlong '/'
    expect(firstInvalidUtf8(Buffer.from([0xed, 0xa0, 0x80]))).toBe(0); // surrogate
    expect(firstInvalidUtf8(Buffer.from([0xf4, 0x90, 0x80, 0x80]))).toBe(0); // > U+10FFFF
    expect(firstInvalidUtf8(Buffer.from([0x61, 0x62, 0xe2, 0x82]))).toBe(2); // truncated
    expect(firstInvalidUtf8(Buffer.from([0x92]))).toBe(0);
  });

  it('correcting a directory\'s encoding updates its contacts in place: no delete, no create', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'contacts.csv'), outlookFile());
    const rt = await runtimeWith([outlookDirectory({ connection: { path: 'contacts.csv' } })]);
    // The file is Windows-1252 and the directory says nothing (UTF-8): refused, nothing created.
    const refused = await runDirectory(rt, 'acme/paris/Outlook', { filesDir: dir });
    expect(refused.outcome).toBe('failed');
    expect(refused.message).toMatch(/set encoding: windows-1252/);
    expect(contacts(rt, 'Outlook')).toHaveLength(0);
    // Contacts an earlier version stored from the same file: invalid bytes replaced by U+FFFD
    // (what a non-strict UTF-8 read did), and ids from the digest of those garbled names.
    const garbled = iconv.decode(outlookFile(), 'windows-1252').replace(/[^\x00-\x7f]/g, '\ufffd');
    const stale = contactsOf(outlookDirectory(), parseCsvBytes(Buffer.from(garbled), { name: 'contacts.csv', delimiter: ',', encoding: 'utf-8', columns: Object.values(outlookDirectory().fields).map((f) => ({ name: f.split('|')[0]!, by: 'f' })) }).rows).contacts;
    expect(stale.map((c) => c.fields.lastName)).toEqual(['L\ufffduvre', "O'Brien", 'M\ufffdller']);
    const seeded = planContacts('acme/paris', 'Outlook', stale, rt.state().resources);
    expect(rt.apply(changeSet(rt.revision(), seeded.changes, 'sync', 'directory:Outlook'))).toMatchObject({ ok: true });
    const ids = contacts(rt, 'Outlook').map((c) => c.id).sort();
    expect(ids).toHaveLength(3);
    // The administrator sets the right encoding: the same three contacts are updated.
    setDirectory(rt, outlookDirectory());
    const fixed = await runDirectory(rt, 'acme/paris/Outlook', { filesDir: dir });
    expect(fixed).toMatchObject({ outcome: 'applied', counts: { created: 0, deleted: 0, updated: 3, unchanged: 0 } });
    expect(contacts(rt, 'Outlook').map((c) => c.id).sort()).toEqual(ids);
    expect(contacts(rt, 'Outlook').map((c) => fieldsOf(c).lastName).sort()).toEqual(['Lœuvre', 'Müller', "O'Brien"]);
    // And it stays put: the next run changes nothing.
    expect(await runDirectory(rt, 'acme/paris/Outlook', { filesDir: dir })).toMatchObject({ outcome: 'unchanged', counts: { unchanged: 3 } });
  });

  it('mojibake (UTF-8 stored as Windows-1252 by an earlier version) is paired the same way', () => {
    const body = { domain: 'acme/paris', name: 'D', fields: { lastName: 'n', firstName: 'p', email1: 'm' } };
    const good = contactsOf(body, [sourceRow('l2', { n: 'Müller', p: 'Zoë', m: 'zoe@x.example' })]).contacts;
    const moji = contactsOf(body, [sourceRow('l2', { n: 'MÃ¼ller', p: 'ZoÃ«', m: 'zoe@x.example' })]).contacts;
    expect(good[0]!.identifier).not.toBe(moji[0]!.identifier);
    const live: LiveResource[] = planContacts('acme/paris', 'D', moji, []).changes.map((c) => ({ kind: 'Contact', id: c.id, body: (c as { body: Record<string, unknown> }).body, manager: 'directory:D', revision: 1, updatedAt: '', updatedBy: '', updatedVia: 'sync' }));
    const plan = planContacts('acme/paris', 'D', good, live);
    expect(plan.counts).toMatchObject({ created: 0, deleted: 0, updated: 1 });
    expect(plan.changes).toEqual([{ action: 'update', kind: 'Contact', id: live[0]!.id, body: expect.objectContaining({ identifier: moji[0]!.identifier, fields: good[0]!.fields }) }]);
    // Two leftovers that read alike are not guessed between: delete and create.
    const twins = [...live, { ...live[0]!, id: `${live[0]!.id}x`, body: { ...live[0]!.body, identifier: `${String(live[0]!.body.identifier)}x`, fields: { ...(live[0]!.body.fields as object), lastName: 'MÃ©ller' } } }];
    expect(planContacts('acme/paris', 'D', good, twins).counts).toMatchObject({ created: 1, deleted: 2, updated: 0 });
  });
});

// ---------------------------------------------------------------------------------------
// Fuzzing

describe('fuzzing: mutated and random files only ever fail as a CsvError, and what is read is never shifted', () => {
  const columns = { columns: OUTLOOK_HEADER.slice(0, 8).map((name) => ({ name, by: 'f' })) };
  const seeds = Array.from({ length: 6 }, (_, i) => i + 1);
  it.each(seeds)('seed %i: 400 mutated Outlook exports in each encoding', (seed) => {
    const rand = prng(seed);
    const pieces = [0x22, 0x2c, 0x0a, 0x0d, 0x3b, 0x00, 0x92, 0xe9, 0xc3, 0xff, 0x80];
    for (const encoding of ['utf-8', 'windows-1252', 'latin1', 'utf-16le'] as const) {
      const base = encoding === 'utf-16le' ? Buffer.from(iconv.decode(outlookFile(), 'windows-1252'), 'utf16le') : encoding === 'utf-8' ? Buffer.from(iconv.decode(outlookFile(), 'windows-1252')) : outlookFile();
      for (let n = 0; n < 100; n++) {
        const bytes = [...base];
        const edits = 1 + Math.floor(rand() * 6);
        for (let e = 0; e < edits; e++) {
          const at = Math.floor(rand() * bytes.length);
          const op = rand();
          if (op < 0.4) bytes.splice(at, 1);
          else if (op < 0.8) bytes.splice(at, 0, pieces[Math.floor(rand() * pieces.length)]!);
          else bytes[at] = Math.floor(rand() * 256);
        }
        try {
          const r = parseCsvBytes(Buffer.from(bytes), { name: 'f.csv', delimiter: ',', encoding, ...columns });
          // Read rows keep the header's shape: never more values than the mapped columns.
          for (const row of r.rows) expect(row.values.size).toBeLessThanOrEqual(16);
        } catch (e) {
          expect(e).toBeInstanceOf(CsvError);
          expect((e as CsvError).problems.length).toBeGreaterThan(0);
        }
      }
    }
  });
  it('random bytes', () => {
    const rand = prng(42);
    for (let n = 0; n < 300; n++) {
      const bytes = Buffer.from(Array.from({ length: Math.floor(rand() * 400) }, () => Math.floor(rand() * 256)));
      for (const encoding of ['utf-8', 'windows-1252', 'latin1', 'utf-16le'] as const) {
        try {
          parseCsvBytes(bytes, { name: 'r.csv', delimiter: ',', encoding, columns: [{ name: 'a', by: 'f' }] });
        } catch (e) {
          expect(e).toBeInstanceOf(CsvError);
        }
      }
    }
  });
});
