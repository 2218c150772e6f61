// Rules across resources (src/validate/rules.ts) and duplicate ids (validate.ts): for every
// rule id, a valid input that does not trigger it and an invalid one with the exact diagnostic.
//
// Every case starts from the same small valid configuration (BASE, modelled on
// examples/quickstart) and adds, replaces or removes a few files. Expected positions are
// counted by hand from the YAML below: `file:line:column code`, 1-based, a value's column is
// where the value starts, a key-level diagnostic points at the key, a list item at its first key.
import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '../../src/diagnostics.js';
import { header, short, validateFiles, yaml } from '../helpers.js';
import { ALICE_BRUNO, GROUP_ALL, overlay, PBX_LINK, type Files } from './base.js';


/**
 * The base: company acme with domains paris and nice, a CSTA link in paris, users alice
 * (1001) and bruno (1002) in group All, and the Alerter (5 licences) granted to All.
 * The base grants the Alerter, not the Caller: as soon as one Caller authorization exists in
 * a company, every user with an extension and no Caller gets a caller-unavailable warning,
 * which would add noise to every case that declares a user.
 */
const BASE: Record<string, string> = {
  'company.yaml':
    header('Company') +
    yaml`
      name: acme
      ---
      apiVersion: switchboard/v1
      kind: Domain
      company: acme
      name: paris
      ---
      apiVersion: switchboard/v1
      kind: Domain
      company: acme
      name: nice
    `,
  'licences.yaml':
    header('License') +
    yaml`
      company: acme
      items:
        - application: Alerter
          available: 5
    `,
  'links.yaml': PBX_LINK,
  'users.yaml': ALICE_BRUNO,
  'groups.yaml': GROUP_ALL,
  'authorizations.yaml':
    header('Authorization') +
    yaml`
      domain: acme/paris
      object:
        application: Alerter
      grantee:
        group: All
    `,
};
// Positions in BASE used below:
//   users.yaml:5:5    alice (item)        users.yaml:7:17  alice's number "1001"
//   users.yaml:10:15  bruno's username    users.yaml:12:17 bruno's number "1002"
//   licences.yaml:6:16 Alerter available  authorizations.yaml:5:16 application: Alerter

/** The base with files added, replaced, or removed (null). */
function config(over: Files = {}): Record<string, string> {
  return overlay(BASE, over);
}

function run(over: Files = {}, env: Record<string, string> = {}): readonly Diagnostic[] {
  return validateFiles(config(over), env).diagnostics;
}

const list = (ds: readonly Diagnostic[]) => ds.map(short);

// Reusable additions.

/** Company globex with domain globex/paris (another tenant). */
const GLOBEX =
  header('Company') +
  yaml`
    name: globex
    ---
    apiVersion: switchboard/v1
    kind: Domain
    company: globex
    name: paris
  `;

/** carol, a user of acme/nice without extension. */
const CAROL =
  header('User') +
  yaml`
    domain: acme/nice
    username: carol
  `;

/** A SIP connection in a domain. */
const sipLink = (domain: string, name = 'sip') =>
  header('PbxLink') +
  yaml`
    domain: ${domain}
    name: ${name}
    protocol: sip
    ip: 192.0.2.20
  `;

/** Intercom group Hotline of acme/paris, one device (line 6 = number). */
const hotline = (number: string, count?: number) =>
  header('IntercomGroup') +
  yaml`
    domain: acme/paris
    name: Hotline
    devices:
      - number: "${number}"
        protocol: CSTA
  ` +
  (count === undefined ? '' : `    count: ${count}\n`);

/** A user of acme/paris named chloe with one device (number at users2.yaml:6:13, protocol 7:15). */
const chloe = (number: string, protocol = 'CSTA', more = '') =>
  header('User') +
  yaml`
    domain: acme/paris
    username: chloe
    devices:
      - number: "${number}"
        protocol: ${protocol}
  ` +
  more;

const ADMIN_ENV = { ADMIN_PASSWORD: 'x' };

interface Case {
  /** The rule id the case is about. */
  rule: string;
  name: string;
  files: Files;
  env?: Record<string, string>;
  /** Every diagnostic of the run, as `file:line:col code` (sorted as the validator sorts them). */
  expect: string[];
  /** Substrings of the message of the first diagnostic whose code is `rule`. */
  message?: string[];
}

describe('the base configuration', () => {
  it('is valid: no diagnostic at all', () => {
    expect(list(run())).toEqual([]);
  });
});

const cases: Case[] = [
  // -------------------------------------------------------------------------------------
  // duplicate-id
  {
    rule: 'duplicate-id',
    name: 'the same username in another domain is another user',
    files: { 'users2.yaml': header('User') + yaml`
      domain: acme/nice
      username: alice
    ` },
    expect: [],
  },
  {
    rule: 'duplicate-id',
    name: 'a user declared again in another file points at the second one and names the first',
    files: { 'users2.yaml': header('User') + yaml`
      domain: acme/paris
      username: alice
    ` },
    expect: ['users2.yaml:1:1 duplicate-id'],
    message: ["User 'acme/paris/alice' is declared twice (identified by domain + username)", '(first declared at users.yaml:5:5)'],
  },
  {
    rule: 'duplicate-id',
    name: 'a list item declared twice in one list points at the second item',
    files: { 'groups.yaml': header('Group') + yaml`
      domain: acme/paris
      items:
        - name: All
          members: [alice, bruno]
        - name: All
    ` },
    expect: ['groups.yaml:7:5 duplicate-id'],
    message: ["Group 'acme/paris/All' is declared twice", '(first declared at groups.yaml:5:5)'],
  },

  // -------------------------------------------------------------------------------------
  // unresolved-reference
  {
    rule: 'unresolved-reference',
    name: 'a member written domain/username resolves in another domain of the company',
    files: {
      'groups.yaml': header('Group') + yaml`
        domain: acme/paris
        name: All
        members: [alice, bruno, nice/carol]
      `,
      'users-nice.yaml': CAROL,
    },
    expect: [],
  },
  {
    rule: 'unresolved-reference',
    name: 'a misspelt group member, with a suggestion',
    files: { 'groups.yaml': header('Group') + yaml`
      domain: acme/paris
      name: All
      members: [alice, bruno, alics]
    ` },
    expect: ['groups.yaml:5:25 unresolved-reference'],
    message: ["user 'alics' does not exist (looked for User 'acme/paris/alics'): declare it or fix the name. Did you mean 'alice'?"],
  },
  {
    rule: 'unresolved-reference',
    name: 'a member of another domain is looked up in that domain only',
    files: { 'groups.yaml': header('Group') + yaml`
      domain: acme/paris
      name: All
      members: [alice, bruno, nice/alice]
    ` },
    expect: ['groups.yaml:5:25 unresolved-reference'],
    message: ["user 'nice/alice' does not exist (looked for User 'acme/nice/alice')"],
  },
  {
    rule: 'unresolved-reference',
    name: 'a misspelt PBX link of a device',
    files: { 'users2.yaml': chloe('1003', 'CSTA', '    link: pbxx\n') },
    expect: ['users2.yaml:8:11 unresolved-reference'],
    message: ["PBX link 'pbxx' does not exist (looked for PbxLink 'acme/paris/pbxx'): declare it or fix the name. Did you mean 'pbx'?"],
  },
  {
    rule: 'unresolved-reference',
    name: 'a misspelt grantee group (case differs), with a suggestion',
    files: { 'authorizations.yaml': header('Authorization') + yaml`
      domain: acme/paris
      object:
        application: Alerter
      grantee:
        group: all
    ` },
    expect: ['authorizations.yaml:7:10 unresolved-reference'],
    message: ["group 'all' does not exist (looked for Group 'acme/paris/all')", "Did you mean 'All'?"],
  },
  {
    rule: 'unresolved-reference',
    name: 'an undeclared domain inherited from a list document points at the document-level domain',
    files: { 'users2.yaml': header('User') + yaml`
      domain: acme/pariss
      items:
        - username: chloe
    ` },
    expect: ['users2.yaml:3:9 unresolved-reference'],
    message: ["domain 'acme/pariss' is not declared: add a Domain with company 'acme' and name 'pariss'. Did you mean 'paris'?"],
  },
  {
    rule: 'unresolved-reference',
    name: 'an undeclared company of a domain',
    files: { 'company2.yaml': header('Domain') + yaml`
      company: acmee
      name: lyon
    ` },
    expect: ['company2.yaml:3:10 unresolved-reference'],
    message: ["company 'acmee' is not declared: add a Company named 'acmee'"],
  },
  {
    rule: 'unresolved-reference',
    name: 'an undeclared company of an administrator',
    files: { 'admins.yaml': header('AdminAccount') + yaml`
      username: ops
      password: \${env:ADMIN_PASSWORD}
      companies: [acme, globex]
    ` },
    env: ADMIN_ENV,
    expect: ['admins.yaml:5:19 unresolved-reference'],
    message: ["company 'globex' is not declared: admin 'ops' cannot administer it"],
  },

  // -------------------------------------------------------------------------------------
  // scope-company: only reachable through parameter values (references elsewhere are
  // limited by the schemas to `name` or `domain/name`).
  {
    rule: 'scope-company',
    name: 'company/domain/name of the own company is accepted',
    files: { 'parameters.yaml': header('ApplicationParameter') + yaml`
      company: acme
      application: TWS Server
      name: AuthorizeShareRulesGroup
      default: acme/paris/All
    ` },
    expect: [],
  },
  {
    rule: 'scope-company',
    name: 'a group of another company',
    files: {
      'company2.yaml': GLOBEX,
      'parameters.yaml': header('ApplicationParameter') + yaml`
        company: acme
        application: TWS Server
        name: AuthorizeShareRulesGroup
        default: globex/paris/All
      `,
    },
    expect: ['parameters.yaml:6:10 scope-company'],
    message: ["AuthorizeShareRulesGroup names group 'globex/paris/All' is in company 'globex': nothing is shared across companies; reference a group of company 'acme'"],
  },

  // -------------------------------------------------------------------------------------
  // scope-domain
  {
    rule: 'scope-domain',
    name: 'statistics of a user of another domain may be granted',
    files: {
      'users-nice.yaml': CAROL,
      'authorizations2.yaml': header('Authorization') + yaml`
        domain: acme/paris
        object:
          statistics: nice/carol
        grantee:
          user: alice
      `,
    },
    expect: [],
  },
  {
    rule: 'scope-domain',
    name: 'the call log of a user of another domain',
    files: {
      'users-nice.yaml': CAROL,
      'authorizations2.yaml': header('Authorization') + yaml`
        domain: acme/paris
        object:
          callLog: nice/carol
        grantee:
          user: alice
      `,
    },
    expect: ['authorizations2.yaml:5:12 scope-domain'],
    message: ["user (call log) 'nice/carol' is in domain 'acme/nice'", "declare this authorization in domain 'acme/nice'"],
  },
  {
    rule: 'scope-domain',
    name: 'a call queue granted to a user of another domain',
    files: {
      'users-nice.yaml': CAROL,
      'queues.yaml': header('CallQueue') + yaml`
        domain: acme/paris
        name: Accueil
        number: "6000"
        protocol: CSTA
      `,
      'authorizations2.yaml': header('Authorization') + yaml`
        domain: acme/paris
        object:
          callQueue: Accueil
        grantee:
          user: nice/carol
      `,
    },
    expect: ['authorizations2.yaml:7:9 scope-domain'],
    message: ["user 'nice/carol' is in domain 'acme/nice': a call queue is only granted to users and groups of its own domain 'acme/paris'; grant it to a user or group of domain 'acme/paris' instead"],
  },

  // -------------------------------------------------------------------------------------
  // sip-link-per-domain
  {
    rule: 'sip-link-per-domain',
    name: 'one SIP connection in each of two domains',
    files: { 'links2.yaml': sipLink('acme/paris') + '---\n' + sipLink('acme/nice') },
    expect: [],
  },
  {
    rule: 'sip-link-per-domain',
    name: 'a second SIP connection in a domain points at its protocol and names the first',
    files: { 'links2.yaml': header('PbxLink') + yaml`
      domain: acme/paris
      items:
        - name: sip1
          protocol: sip
          ip: 192.0.2.20
        - name: sip2
          protocol: sip
          ip: 192.0.2.21
    ` },
    expect: ['links2.yaml:9:15 sip-link-per-domain'],
    message: ["domain 'acme/paris' already has a SIP connection ('sip1')", '(first SIP connection at links2.yaml:5:5)'],
  },

  // -------------------------------------------------------------------------------------
  // vtixml-port
  {
    rule: 'vtixml-port',
    name: 'a VTI-XML link on the default port 3199',
    files: { 'links2.yaml': header('PbxLink') + yaml`
      domain: acme/nice
      name: vti
      protocol: vtixml
      ip: 192.0.2.30
      port: 3199
    ` },
    expect: [],
  },
  {
    rule: 'vtixml-port',
    name: 'a VTI-XML link on another port (warning)',
    files: { 'links2.yaml': header('PbxLink') + yaml`
      domain: acme/nice
      name: vti
      protocol: vtixml
      ip: 192.0.2.30
      port: 3200
    ` },
    expect: ['links2.yaml:7:7 vtixml-port'],
    message: ['VTI-XML link uses port 3200', 'default 3199'],
  },

  // -------------------------------------------------------------------------------------
  // csta-link-ip
  {
    rule: 'csta-link-ip',
    name: 'a snom DEVICE link goes without ip (the phones connect to the server)',
    files: { 'links.yaml': header('PbxLink') + yaml`
      domain: acme/paris
      name: pbx
      protocol: csta
      port: 6010
      pbxType: snom DEVICE
    ` },
    expect: [],
  },
  {
    rule: 'csta-link-ip',
    name: 'a CSTA link to a PBX without its address, at its port',
    files: { 'links.yaml': header('PbxLink') + yaml`
      domain: acme/paris
      name: pbx
      protocol: csta
      port: 3211
      pbxType: A5000
    ` },
    expect: ['links.yaml:6:7 csta-link-ip'],
    message: ["CSTA link 'pbx' has no ip", "give the PBX's address"],
  },

  // -------------------------------------------------------------------------------------
  // csta-credentials
  {
    rule: 'csta-credentials',
    name: 'username and password together',
    files: { 'links.yaml': PBX_LINK + 'username: tws\npassword: ${env:CSTA_PASSWORD}\n' },
    env: { CSTA_PASSWORD: 'x-Pa55' },
    expect: [],
  },
  {
    rule: 'csta-credentials',
    name: 'a username without password, at the username',
    files: { 'links.yaml': PBX_LINK + 'username: tws\n' },
    expect: ['links.yaml:8:11 csta-credentials'],
    message: ["CSTA link 'pbx' has a username but no password", 'give both, or neither'],
  },

  // -------------------------------------------------------------------------------------
  // link-capacity
  {
    rule: 'link-capacity',
    name: 'a link carrying exactly its capacity',
    files: { 'links.yaml': PBX_LINK + 'capacity: 2\n' },
    expect: [],
  },
  {
    rule: 'link-capacity',
    name: 'a link carrying more than its capacity names the extensions left out (warning)',
    files: { 'links.yaml': PBX_LINK + 'capacity: 1\n' },
    expect: ['links.yaml:8:11 link-capacity'],
    message: ["PBX link 'pbx' carries 2 extensions but its capacity is 1: 1 will not be supervised (1002, the highest numbers)", 'raise capacity'],
  },

  // -------------------------------------------------------------------------------------
  // device-link-protocol
  {
    rule: 'device-link-protocol',
    name: 'a CSTA device on the CSTA link',
    files: { 'users2.yaml': chloe('1003', 'CSTA', '    link: pbx\n') },
    expect: [],
  },
  {
    rule: 'device-link-protocol',
    name: 'a SIP device on the CSTA link',
    files: { 'users2.yaml': chloe('1003', 'SIP', '    link: pbx\n') },
    expect: ['users2.yaml:7:15 device-link-protocol'],
    message: ["device 1003 has protocol SIP but PBX link 'pbx' speaks CSTA"],
  },

  // -------------------------------------------------------------------------------------
  // bot-needs-sip
  {
    rule: 'bot-needs-sip',
    name: 'a bot group in a domain with a SIP connection',
    files: {
      'links2.yaml': sipLink('acme/paris'),
      'bots.yaml': header('BotGroup') + yaml`
        domain: acme/paris
        name: Rules bots
        firstNumber: "7900"
      `,
    },
    expect: [],
  },
  {
    rule: 'bot-needs-sip',
    name: 'a bot group whose domain has no SIP connection (only another domain has one)',
    files: {
      'links2.yaml': sipLink('acme/paris'),
      'bots.yaml': header('BotGroup') + yaml`
        domain: acme/nice
        name: Rules bots
        firstNumber: "7900"
      `,
    },
    expect: ['bots.yaml:3:9 bot-needs-sip'],
    message: ["bot group 'Rules bots' needs the SIP connection of domain 'acme/nice'"],
  },

  // -------------------------------------------------------------------------------------
  // extension-conflict
  {
    rule: 'extension-conflict',
    name: 'distinct numbers for users, an intercom group of 3, a call queue and bots',
    files: {
      'users2.yaml': chloe('1003'),
      'intercom.yaml': hotline('2000', 3),
      'queues.yaml': header('CallQueue') + yaml`
        domain: acme/nice
        name: Accueil
        number: "2003"
        protocol: CSTA
      `,
      'links2.yaml': sipLink('acme/paris'),
      'bots.yaml': header('BotGroup') + yaml`
        domain: acme/paris
        name: Rules bots
        firstNumber: "2004"
        count: 2
      `,
    },
    expect: [],
  },
  {
    rule: 'extension-conflict',
    name: 'the same number in another company is no conflict',
    files: {
      'company2.yaml': GLOBEX,
      'users2.yaml': header('User') + yaml`
        domain: globex/paris
        username: zoe
        devices:
          - number: "1001"
            protocol: CSTA
      `,
    },
    expect: [],
  },
  {
    rule: 'extension-conflict',
    name: 'two users of one domain',
    files: { 'users2.yaml': chloe('1001') },
    expect: ['users2.yaml:6:13 extension-conflict'],
    message: [
      "extension 1001 (user acme/paris/chloe) is already used by user acme/paris/alice in company 'acme': extension numbers are unique within a company",
      '(first used at users.yaml:7:17)',
    ],
  },
  {
    rule: 'extension-conflict',
    name: 'two users of two domains of one company',
    files: { 'users2.yaml': header('User') + yaml`
      domain: acme/nice
      username: carol
      devices:
        - number: "1002"
          protocol: CSTA
    ` },
    expect: ['users2.yaml:6:13 extension-conflict'],
    message: ["extension 1002 (user acme/nice/carol) is already used by user acme/paris/bruno in company 'acme'", '(first used at users.yaml:12:17)'],
  },
  {
    rule: 'extension-conflict',
    name: 'an intercom group of 3 numbers from 1000 overlaps 1001 and 1002',
    files: { 'intercom.yaml': hotline('1000', 3) },
    expect: ['intercom.yaml:6:13 extension-conflict', 'intercom.yaml:6:13 extension-conflict'],
    message: ['extension 1001 (intercom group acme/paris/Hotline, expanded from 1000 × 3) is already used by user acme/paris/alice'],
  },
  {
    rule: 'extension-conflict',
    name: 'a call queue of another domain',
    files: { 'queues.yaml': header('CallQueue') + yaml`
      domain: acme/nice
      name: Accueil
      number: "1002"
      protocol: CSTA
    ` },
    expect: ['queues.yaml:5:9 extension-conflict'],
    message: ['extension 1002 (call queue acme/nice/Accueil) is already used by user acme/paris/bruno'],
  },
  {
    rule: 'extension-conflict',
    name: 'bots 0999 × 3 (leading zero kept) reach 1001',
    files: {
      'links2.yaml': sipLink('acme/paris'),
      'bots.yaml': header('BotGroup') + yaml`
        domain: acme/paris
        name: Rules bots
        firstNumber: "0999"
        count: 3
      `,
    },
    expect: ['bots.yaml:5:14 extension-conflict'],
    message: ['extension 1001 (bot group acme/paris/Rules bots, expanded from 0999 × 3) is already used by user acme/paris/alice'],
  },
  {
    rule: 'extension-conflict',
    name: 'a bot number inside an intercom range',
    files: {
      'intercom.yaml': hotline('3000', 5),
      'links2.yaml': sipLink('acme/paris'),
      'bots.yaml': header('BotGroup') + yaml`
        domain: acme/paris
        name: Rules bots
        firstNumber: "3004"
      `,
    },
    expect: ['bots.yaml:5:14 extension-conflict'],
    message: ['extension 3004 (bot group acme/paris/Rules bots) is already used by intercom group acme/paris/Hotline, expanded from 3000 × 5', '(first used at intercom.yaml:6:13)'],
  },

  // -------------------------------------------------------------------------------------
  // extension-count
  {
    rule: 'extension-count',
    name: 'a non-numeric number without count',
    files: { 'intercom.yaml': hotline('*12') },
    expect: [],
  },
  {
    rule: 'extension-count',
    name: 'an intercom device with count 2 and a non-numeric first number',
    files: { 'intercom.yaml': hotline('*12', 2) },
    expect: ['intercom.yaml:6:13 extension-count'],
    message: ["intercom group acme/paris/Hotline: count 2 needs a numeric first number to expand, found '*12': write the first number as digits"],
  },
  {
    rule: 'extension-count',
    name: 'a bot group with count 2 and a non-numeric first number',
    files: {
      'links2.yaml': sipLink('acme/paris'),
      'bots.yaml': header('BotGroup') + yaml`
        domain: acme/paris
        name: Rules bots
        firstNumber: "#79"
        count: 2
      `,
    },
    expect: ['bots.yaml:5:14 extension-count'],
    message: ["bot group acme/paris/Rules bots: count 2 needs a numeric first number to expand, found '#79'"],
  },

  // -------------------------------------------------------------------------------------
  // grantee-not-allowed
  {
    rule: 'grantee-not-allowed',
    name: 'a directory granted to an intercom group',
    files: {
      'intercom.yaml': hotline('3000'),
      'directories.yaml': header('Directory') + yaml`
        domain: acme/paris
        name: Annuaire
        serverType: TWSUsers
      `,
      'authorizations2.yaml': header('Authorization') + yaml`
        domain: acme/paris
        object:
          directory: Annuaire
        grantee:
          intercomGroup: Hotline
      `,
    },
    expect: [],
  },
  {
    rule: 'grantee-not-allowed',
    name: 'an application granted to an intercom group points at the grantee key',
    files: {
      'intercom.yaml': hotline('3000'),
      'authorizations2.yaml': header('Authorization') + yaml`
        domain: acme/paris
        object:
          application: Alerter
        grantee:
          intercomGroup: Hotline
      `,
    },
    expect: ['authorizations2.yaml:7:3 grantee-not-allowed'],
    message: ['an intercom group can only be granted a directory (§9.1.7, §9.2.2), not application'],
  },
  {
    rule: 'grantee-not-allowed',
    name: 'a call log granted to a call queue',
    files: {
      'queues.yaml': header('CallQueue') + yaml`
        domain: acme/paris
        name: Accueil
        number: "6000"
        protocol: CSTA
      `,
      'authorizations2.yaml': header('Authorization') + yaml`
        domain: acme/paris
        object:
          callLog: alice
        grantee:
          callQueue: Accueil
      `,
    },
    expect: ['authorizations2.yaml:7:3 grantee-not-allowed'],
    message: ['a call queue can only be granted a directory', 'not callLog'],
  },

  // -------------------------------------------------------------------------------------
  // license-exceeded
  {
    rule: 'license-exceeded',
    name: 'as many licences as distinct users (group All and alice again: 2 users)',
    files: {
      'licences.yaml': header('License') + yaml`
        company: acme
        items:
          - application: Alerter
            available: 2
      `,
      'authorizations2.yaml': header('Authorization') + yaml`
        domain: acme/paris
        object:
          application: Alerter
        grantee:
          user: alice
      `,
    },
    expect: [],
  },
  {
    rule: 'license-exceeded',
    name: 'group members are counted (2 users, 1 licence)',
    files: { 'licences.yaml': header('License') + yaml`
      company: acme
      items:
        - application: Alerter
          available: 1
    ` },
    expect: ['licences.yaml:6:16 license-exceeded'],
    message: ["2 distinct users of company 'acme' are authorized for Alerter (groups expanded), but the licence allows 1: raise 'available' or authorize fewer users"],
  },
  {
    rule: 'license-exceeded',
    name: 'a user granted twice (directly and through a group) counts once',
    files: {
      'licences.yaml': header('License') + yaml`
        company: acme
        items:
          - application: Alerter
            available: 1
      `,
      'authorizations2.yaml': header('Authorization') + yaml`
        domain: acme/paris
        object:
          application: Alerter
        grantee:
          user: alice
      `,
    },
    expect: ['licences.yaml:6:16 license-exceeded'],
    message: ['2 distinct users', 'the licence allows 1'],
  },
  {
    rule: 'license-exceeded',
    name: 'members of another domain count for the company',
    files: {
      'users-nice.yaml': CAROL,
      'groups.yaml': header('Group') + yaml`
        domain: acme/paris
        name: All
        members: [alice, bruno, nice/carol]
      `,
      'licences.yaml': header('License') + yaml`
        company: acme
        items:
          - application: Alerter
            available: 2
      `,
    },
    expect: ['licences.yaml:6:16 license-exceeded'],
    message: ['3 distinct users', 'the licence allows 2'],
  },
  {
    rule: 'license-exceeded',
    name: 'a member that does not exist is reported where it is named and uses no licence',
    files: {
      'groups.yaml': header('Group') + yaml`
        domain: acme/paris
        name: All
        members: [alice, bruno, ghost]
      `,
      'licences.yaml': header('License') + yaml`
        company: acme
        items:
          - application: Alerter
            available: 2
      `,
    },
    expect: ['groups.yaml:5:25 unresolved-reference'],
  },
  {
    rule: 'license-exceeded',
    name: 'no License declared: at the first authorization granting the application',
    files: { 'licences.yaml': null },
    expect: ['authorizations.yaml:5:16 license-exceeded'],
    message: ["2 distinct users of company 'acme' are authorized for Alerter (groups expanded), but no License for it is declared"],
  },

  // -------------------------------------------------------------------------------------
  // caller-unavailable (warnings)
  {
    rule: 'caller-unavailable',
    name: 'every user with an extension is authorized for the Caller',
    files: { 'caller.yaml': header('License') + yaml`
      company: acme
      application: Caller
      available: 10
      ---
      apiVersion: switchboard/v1
      kind: Authorization
      domain: acme/paris
      object:
        application: Caller
      grantee:
        group: All
    ` },
    expect: [],
  },
  {
    rule: 'caller-unavailable',
    name: 'a user authorized for the Caller without extension',
    files: { 'caller.yaml': header('License') + yaml`
      company: acme
      application: Caller
      available: 10
      ---
      apiVersion: switchboard/v1
      kind: Authorization
      domain: acme/paris
      object:
        application: Caller
      grantee:
        group: All
      ---
      apiVersion: switchboard/v1
      kind: User
      domain: acme/nice
      username: carol
      ---
      apiVersion: switchboard/v1
      kind: Authorization
      domain: acme/nice
      object:
        application: Caller
      grantee:
        user: carol
    ` },
    expect: ['caller.yaml:18:11 caller-unavailable'],
    message: ["user 'acme/nice/carol' is authorized for the Caller but has no extension: they cannot start it (§10.8.1)"],
  },
  {
    rule: 'caller-unavailable',
    name: 'a user with an extension but no Caller while others have it',
    files: { 'caller.yaml': header('License') + yaml`
      company: acme
      application: Caller
      available: 10
      ---
      apiVersion: switchboard/v1
      kind: Authorization
      domain: acme/paris
      object:
        application: Caller
      grantee:
        user: alice
    ` },
    expect: ['users.yaml:10:15 caller-unavailable'],
    message: ["user 'acme/paris/bruno' has extension 1002 but no Caller authorization: they cannot start the Caller (§10.8.1)"],
  },

  // -------------------------------------------------------------------------------------
  // softphone-unauthorized (warning)
  {
    rule: 'softphone-unauthorized',
    name: 'a soft phone of a user authorized for the Softphone',
    files: {
      'users2.yaml': chloe('1003', 'SIP', '    softphone:\n      sipUser: "1003"\n'),
      'softphone.yaml': header('License') + yaml`
        company: acme
        application: Softphone
        available: 1
        ---
        apiVersion: switchboard/v1
        kind: Authorization
        domain: acme/paris
        object:
          application: Softphone
        grantee:
          user: chloe
      `,
    },
    expect: [],
  },
  {
    rule: 'softphone-unauthorized',
    name: 'a soft phone without Softphone authorization points at the softphone key',
    files: { 'users2.yaml': chloe('1003', 'SIP', '    softphone:\n      sipUser: "1003"\n') },
    expect: ['users2.yaml:8:5 softphone-unauthorized'],
    message: ["device 1003 is a soft phone but user 'acme/paris/chloe' has no Softphone authorization"],
  },

  // -------------------------------------------------------------------------------------
  // softphone-number-unknown (§9.3 "One Number")
  {
    rule: 'softphone-number-unknown',
    name: "a soft phone associated with alice's extension 1001",
    files: { 'users2.yaml': chloe('1003', 'SIP', '    softphone:\n      associatedNumber: "1001"\n') },
    expect: ['users2.yaml:8:5 softphone-unauthorized'],
  },
  {
    rule: 'softphone-number-unknown',
    name: 'a soft phone associated with a number no device has, at the number',
    files: { 'users2.yaml': chloe('1003', 'SIP', '    softphone:\n      associatedNumber: "1999"\n') },
    expect: ['users2.yaml:8:5 softphone-unauthorized', 'users2.yaml:9:25 softphone-number-unknown'],
    message: ["soft phone 1003 of user 'acme/paris/chloe' is associated with 1999 (\"One Number\", §9.3), which is no extension of domain 'acme/paris': give the number of a device declared in that domain, or remove associatedNumber"],
  },

  // -------------------------------------------------------------------------------------
  // sms-provider-per-domain (§9.1.9: a single SMS provider)
  {
    rule: 'sms-provider-per-domain',
    name: 'one SMS provider in the domain',
    files: { 'sms.yaml': header('SmsProvider') + yaml`
      domain: acme/paris
      name: J2S
      url: http://www.ecosms.fr/ecosms.wsdl
      key: \${env:J2S_SMS_KEY}
    ` },
    env: { J2S_SMS_KEY: 'x' },
    expect: [],
  },
  {
    rule: 'sms-provider-per-domain',
    name: 'a second SMS provider in the same domain, at its name',
    files: { 'sms.yaml': header('SmsProvider') + yaml`
      domain: acme/paris
      name: J2S
      url: http://www.ecosms.fr/ecosms.wsdl
      key: \${env:J2S_SMS_KEY}
      ---
      apiVersion: switchboard/v1
      kind: SmsProvider
      domain: acme/paris
      name: Other
      url: http://sms.example.com/ws
      key: \${env:J2S_SMS_KEY}
    ` },
    env: { J2S_SMS_KEY: 'x' },
    expect: ['sms.yaml:11:7 sms-provider-per-domain'],
    message: ["domain 'acme/paris' already has an SMS provider ('J2S'); the server works with a single SMS provider (§9.1.9): keep one of them, or move this one to another domain"],
  },

  // -------------------------------------------------------------------------------------
  // parameter-value (HH:MM parameters)
  {
    rule: 'parameter-value',
    name: 'times written HH:MM',
    files: { 'parameters.yaml': header('ApplicationParameter') + yaml`
      company: acme
      application: TWS Server
      name: CallLog-StartCleaningHour
      default: "02:30"
      overrides:
        - domain: nice
          value: "23:59"
    ` },
    expect: [],
  },
  {
    rule: 'parameter-value',
    name: 'a default without leading zero and an override at 24:00',
    files: { 'parameters.yaml': header('ApplicationParameter') + yaml`
      company: acme
      application: TWS Server
      name: Stats-StartCleaningHour
      default: "2:30"
      overrides:
        - domain: nice
          value: "24:00"
    ` },
    expect: ['parameters.yaml:6:10 parameter-value', 'parameters.yaml:9:12 parameter-value'],
    message: ['Stats-StartCleaningHour must be a time HH:MM (24-hour), found "2:30": write it quoted, as \"07:30\"'],
  },
  {
    rule: 'parameter-value',
    name: 'a number where a time is expected',
    files: { 'parameters.yaml': header('ApplicationParameter') + yaml`
      company: acme
      application: TWS Server
      name: timeSynchronizationDirectories
      default: 230
    ` },
    expect: ['parameters.yaml:6:10 parameter-value'],
    message: ['timeSynchronizationDirectories must be a time HH:MM (24-hour), found 230'],
  },

  // -------------------------------------------------------------------------------------
  // parameter-level
  {
    rule: 'parameter-level',
    name: 'SupervisionInformationGroup as a default and per domain',
    files: {
      'intercom.yaml': hotline('3000'),
      'parameters.yaml': header('ApplicationParameter') + yaml`
        company: acme
        application: TWS Server
        name: SupervisionInformationGroup
        default: Hotline
        overrides:
          - domain: nice
            value: ""
      `,
    },
    expect: [],
  },
  {
    rule: 'parameter-level',
    name: 'SupervisionInformationGroup per group points at the override item',
    files: {
      'intercom.yaml': hotline('3000'),
      'parameters.yaml': header('ApplicationParameter') + yaml`
        company: acme
        application: TWS Server
        name: SupervisionInformationGroup
        default: Hotline
        overrides:
          - domain: nice
            value: ""
          - group: paris/All
            value: Hotline
      `,
    },
    expect: ['parameters.yaml:10:5 parameter-level'],
    message: ['SupervisionInformationGroup can only be set as a default or per domain (§9.1.7), not per group'],
  },
  {
    rule: 'parameter-level',
    name: 'SupervisionInformationGroup per user',
    files: {
      'intercom.yaml': hotline('3000'),
      'parameters.yaml': header('ApplicationParameter') + yaml`
        company: acme
        application: TWS Server
        name: SupervisionInformationGroup
        overrides:
          - user: paris/alice
            value: Hotline
      `,
    },
    expect: ['parameters.yaml:7:5 parameter-level'],
    message: ['not per user'],
  },

  // -------------------------------------------------------------------------------------
  // parameter-conflict (warning)
  {
    rule: 'parameter-conflict',
    name: 'a user in two groups that set the same value',
    files: {
      'groups.yaml': header('Group') + yaml`
        domain: acme/paris
        items:
          - name: All
            members: [alice, bruno]
          - name: Sales
            members: [alice]
      `,
      'parameters.yaml': header('ApplicationParameter') + yaml`
        company: acme
        application: TWS Caller
        name: AuthorizeChat
        overrides:
          - group: paris/All
            value: true
          - group: paris/Sales
            value: true
      `,
    },
    expect: [],
  },
  {
    rule: 'parameter-conflict',
    name: 'a user in two groups that set different values: at the override that loses',
    files: {
      'groups.yaml': header('Group') + yaml`
        domain: acme/paris
        items:
          - name: All
            members: [alice, bruno]
          - name: Sales
            members: [alice]
      `,
      'parameters.yaml': header('ApplicationParameter') + yaml`
        company: acme
        application: TWS Caller
        name: AuthorizeChat
        overrides:
          - group: paris/All
            value: true
          - group: paris/Sales
            value: false
      `,
    },
    expect: ['parameters.yaml:9:5 parameter-conflict'],
    message: [
      "AuthorizeChat: 1 user(s) (e.g. 'acme/paris/alice') are in groups 'acme/paris/All' and 'acme/paris/Sales', which set different values; the override listed first ('acme/paris/All') wins",
    ],
  },

  // -------------------------------------------------------------------------------------
  // connector-name-conflict
  {
    rule: 'connector-name-conflict',
    name: 'two connectors with different names',
    files: { 'connectors.yaml': header('Connector') + yaml`
      company: acme
      items:
        - name: sms
          subtype: SMS
        - name: sms2
          subtype: SMS
    ` },
    expect: [],
  },
  {
    rule: 'connector-name-conflict',
    name: 'two connectors whose names differ only in case',
    files: { 'connectors.yaml': header('Connector') + yaml`
      company: acme
      items:
        - name: sms
          subtype: SMS
        - name: SMS
          subtype: SMS
    ` },
    expect: ['connectors.yaml:7:11 connector-name-conflict'],
    message: ["connector name 'SMS' is already used by connector 'acme/sms'", '(first used at connectors.yaml:5:5)'],
  },

  // -------------------------------------------------------------------------------------
  // exchange-online-password (checked on the resolved secret)
  {
    rule: 'exchange-online-password',
    name: 'a resolved password without forbidden characters',
    files: { 'connectors.yaml': exchangeOnline() },
    env: { EXO_PASSWORD: 'Correct-Horse-9' },
    expect: [],
  },
  {
    rule: 'exchange-online-password',
    name: 'a resolved password containing <',
    files: { 'connectors.yaml': exchangeOnline() },
    env: { EXO_PASSWORD: 'Tr0ub<dor' },
    expect: ['connectors.yaml:9:13 exchange-online-password'],
    message: [`the Exchange Online password must not contain < & > " '`],
  },
  {
    rule: 'exchange-online-password',
    name: 'the OAuth2 form has no password to check',
    files: { 'connectors.yaml': header('Connector') + yaml`
      company: acme
      name: exo
      subtype: ExchangeOnline
      parameters:
        tenantId: 0b7f3c2e-5f1e-4f43-9a41-6f0d2b7c1a11
        clientId: switchboard
        secret: \${env:EXO_PASSWORD}
    ` },
    env: { EXO_PASSWORD: 'a<b&c' },
    expect: [],
  },

  // -------------------------------------------------------------------------------------
  // admin-super-user-companies, admin-no-company (warnings)
  {
    rule: 'admin-super-user-companies',
    name: 'a super user without companies',
    files: { 'admins.yaml': header('AdminAccount') + yaml`
      username: root
      password: \${env:ADMIN_PASSWORD}
      superUser: true
    ` },
    env: ADMIN_ENV,
    expect: [],
  },
  {
    rule: 'admin-super-user-companies',
    name: 'a super user with a companies list points at the companies key',
    files: { 'admins.yaml': header('AdminAccount') + yaml`
      username: root
      password: \${env:ADMIN_PASSWORD}
      superUser: true
      companies: [acme]
    ` },
    env: ADMIN_ENV,
    expect: ['admins.yaml:6:1 admin-super-user-companies'],
    message: ["admin 'root' is a super user (all companies): the companies list has no effect"],
  },
  {
    rule: 'admin-no-company',
    name: 'an administrator of one company',
    files: { 'admins.yaml': header('AdminAccount') + yaml`
      username: ops
      password: \${env:ADMIN_PASSWORD}
      companies: [acme]
    ` },
    env: ADMIN_ENV,
    expect: [],
  },
  {
    rule: 'admin-no-company',
    name: 'an administrator with neither super user nor companies',
    files: { 'admins.yaml': header('AdminAccount') + yaml`
      username: ops
      password: \${env:ADMIN_PASSWORD}
      superUser: false
      companies: []
    ` },
    env: ADMIN_ENV,
    expect: ['admins.yaml:3:11 admin-no-company'],
    message: ["admin 'ops' is neither a super user nor given any company: they can administer nothing; list their companies, or remove the account"],
  },
];

/** An Exchange Online connector with basic authentication (password at line 9, column 13). */
function exchangeOnline(): string {
  return (
    header('Connector') +
    yaml`
      company: acme
      name: exo
      subtype: ExchangeOnline
      parameters:
        authentication: basic
        username: svc@acme.example
        password: \${env:EXO_PASSWORD}
    `
  );
}

describe('rules: a passing and a failing case for every rule id', () => {
  it.each(cases)('$rule: $name', ({ rule, files, env, expect: expected, message }) => {
    const ds = run(files, env);
    expect(list(ds)).toEqual(expected);
    const hit = ds.find((d) => d.code === rule);
    if (expected.some((e) => e.endsWith(` ${rule}`))) {
      expect(hit).toBeDefined();
      for (const m of message ?? []) expect(hit!.message).toContain(m);
    } else {
      expect(hit).toBeUndefined();
    }
  });

  it('every rule id has at least one passing and one failing case', () => {
    const ids = [
      'duplicate-id',
      'unresolved-reference',
      'scope-company',
      'scope-domain',
      'sip-link-per-domain',
      'vtixml-port',
      'device-link-protocol',
      'bot-needs-sip',
      'extension-conflict',
      'extension-count',
      'grantee-not-allowed',
      'license-exceeded',
      'caller-unavailable',
      'softphone-unauthorized',
      'softphone-number-unknown',
      'sms-provider-per-domain',
      'parameter-value',
      'parameter-level',
      'parameter-conflict',
      'connector-name-conflict',
      'exchange-online-password',
      'admin-super-user-companies',
      'admin-no-company',
    ];
    for (const id of ids) {
      const mine = cases.filter((c) => c.rule === id);
      expect(mine.some((c) => c.expect.some((e) => e.endsWith(` ${id}`))), `${id}: failing case`).toBe(true);
      expect(mine.some((c) => !c.expect.some((e) => e.endsWith(` ${id}`))), `${id}: passing case`).toBe(true);
    }
  });
});

describe('severities', () => {
  it.each([
    ['vtixml-port', 'warning'],
    ['caller-unavailable', 'warning'],
    ['softphone-unauthorized', 'warning'],
    ['parameter-conflict', 'warning'],
    ['admin-super-user-companies', 'warning'],
    ['admin-no-company', 'warning'],
    ['extension-conflict', 'error'],
    ['license-exceeded', 'error'],
    ['exchange-online-password', 'error'],
  ])('%s is reported as a %s', (code, severity) => {
    const c = cases.find((k) => k.rule === code && k.expect.some((e) => e.endsWith(` ${code}`)))!;
    const result = validateFiles(config(c.files), c.env ?? {});
    expect(result.diagnostics.find((d) => d.code === code)?.severity).toBe(severity);
    expect(result.ok).toBe(severity === 'warning');
  });
});

describe('exchange-online-password never reveals the password', () => {
  it('no message, path or field of any diagnostic contains the resolved value', () => {
    const secret = 'Tr0ub<dor';
    const ds = run({ 'connectors.yaml': exchangeOnline() }, { EXO_PASSWORD: secret });
    expect(ds.map((d) => d.code)).toEqual(['exchange-online-password']);
    expect(JSON.stringify(ds)).not.toContain(secret);
    expect(JSON.stringify(ds)).not.toContain('Tr0ub');
  });

  it('a literal password with & is refused and not echoed either', () => {
    const ds = run({
      'connectors.yaml': header('Connector') + yaml`
        company: acme
        name: exo
        subtype: ExchangeOnline
        parameters:
          authentication: basic
          username: svc@acme.example
          password: "fish&chips"
      `,
    });
    expect(list(ds)).toEqual(['connectors.yaml:9:13 exchange-online-password', 'connectors.yaml:9:13 secret-literal']);
    expect(JSON.stringify(ds)).not.toContain('fish');
  });
});

describe('known bugs (it.fails: turn into it() once fixed)', () => {
  // rules.ts checkParameters resolves SupervisionInformationGroup / AuthorizeShareRulesGroup
  // values with domainFor(), i.e. in the first declared domain of the company, even for an
  // override that applies to another domain: a valid per-domain value is reported unresolved
  // ("looked for IntercomGroup 'acme/paris/NiceLine'").
  it('a per-domain SupervisionInformationGroup value is looked up in that domain', () => {
    const ds = run({
      'intercom.yaml': header('IntercomGroup') + yaml`
        domain: acme/nice
        name: NiceLine
      `,
      'parameters.yaml': header('ApplicationParameter') + yaml`
        company: acme
        application: TWS Server
        name: SupervisionInformationGroup
        overrides:
          - domain: nice
            value: NiceLine
      `,
    });
    expect(list(ds)).toEqual([]);
  });
});

describe('fixes from review', () => {
  it('scope-company: a group member in another company is refused as crossing companies', () => {
    const ds = run({
      'globex.yaml': GLOBEX,
      'groups.yaml': header('Group') + yaml`
        domain: acme/paris
        name: All
        members: [alice, bruno, globex/paris/zoe]
      `,
    });
    expect(list(ds)).toEqual(['groups.yaml:5:25 scope-company']);
    expect(ds[0]!.message).toContain('nothing is shared across companies');
  });

  it("scope-domain: a device supervised by another domain's link", () => {
    const ds = run({
      'links-nice.yaml': header('PbxLink') + yaml`
        domain: acme/nice
        name: pbx
        protocol: csta
        port: 3211
        ip: 192.0.2.11
      `,
      'users.yaml': header('User') + yaml`
        domain: acme/paris
        items:
          - username: alice
            devices:
              - number: "1001"
                protocol: CSTA
                link: nice/pbx
          - username: bruno
      `,
    });
    expect(list(ds)).toEqual(['users.yaml:9:15 scope-domain']);
    expect(ds[0]!.message).toContain("use a link of domain 'acme/paris' (declare one if needed), or declare the user in domain 'acme/nice'");
  });

  it('counts above 1000 are refused by the schema before any expansion', () => {
    const ds = run({
      'intercom.yaml': header('IntercomGroup') + yaml`
        domain: acme/paris
        name: big
        devices:
          - number: "5000"
            protocol: CSTA
            count: 100000000
      `,
    });
    expect(list(ds)).toEqual(['intercom.yaml:8:12 out-of-range']);
  });

  it('did-you-mean counts a swap of two letters as one edit', () => {
    const ds = run({ 'groups.yaml': header('Group') + yaml`
      domain: acme/paris
      name: All
      members: [alcie, bruno]
    ` });
    expect(ds[0]!.message).toContain("Did you mean 'alice'?");
  });

  it('a License that fails its schema does not also raise license-exceeded', () => {
    const ds = run({ 'licences.yaml': header('License') + yaml`
      company: acme
      items:
        - application: Alerter
          available: -1
    ` });
    expect(list(ds)).toEqual(['licences.yaml:6:16 out-of-range']);
  });

  it('a Caller granted to an empty group warns nobody', () => {
    const ds = run({
      'licences.yaml': header('License') + yaml`
        company: acme
        items:
          - application: Alerter
            available: 5
          - application: Caller
            available: 5
      `,
      'empty.yaml': header('Group') + yaml`
        domain: acme/paris
        name: Nobody
        members: []
        ---
        apiVersion: switchboard/v1
        kind: Authorization
        domain: acme/paris
        object: { application: Caller }
        grantee: { group: Nobody }
      `,
    });
    expect(list(ds)).toEqual([]);
  });
});
