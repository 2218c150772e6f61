/** Pieces of the small valid configurations the validation tests start from. */
import { header, yaml } from '../helpers.js';

/** Files to add or replace (a string) or remove (null). */
export type Files = Record<string, string | null>;

/** `base` with `over` applied. */
export function overlay(base: Readonly<Record<string, string>>, over: Files = {}): Record<string, string> {
  const files: Record<string, string> = { ...base };
  for (const [name, text] of Object.entries(over)) {
    if (text === null) delete files[name];
    else files[name] = text;
  }
  return files;
}

/** Company acme with domain acme/paris. */
export const ACME_PARIS =
  header('Company') +
  yaml`
    name: acme
    ---
    apiVersion: switchboard/v1
    kind: Domain
    company: acme
    name: paris
  `;

/** The CSTA link `pbx` of acme/paris. */
export const PBX_LINK =
  header('PbxLink') +
  yaml`
    domain: acme/paris
    name: pbx
    protocol: csta
    port: 3211
    ip: 192.0.2.10
  `;

/** The CSTA link `pbx` of acme/paris with credentials, the password given (its value at line 8, column 11). */
export const pbxLinkWithPassword = (password: string) =>
  header('PbxLink') +
  yaml`
    domain: acme/paris
    name: pbx
    protocol: csta
    port: 3211
    username: tws
    password: ${password}
    ip: 192.0.2.10
  `;

/** Users alice (1001) and bruno (1002) of acme/paris on link pbx. */
export const ALICE_BRUNO =
  header('User') +
  yaml`
    domain: acme/paris
    items:
      - username: alice
        devices:
          - number: "1001"
            protocol: CSTA
            link: pbx
      - username: bruno
        devices:
          - number: "1002"
            protocol: CSTA
            link: pbx
  `;

/** Group All of acme/paris with alice and bruno. */
export const GROUP_ALL =
  header('Group') +
  yaml`
    domain: acme/paris
    name: All
    members: [alice, bruno]
  `;
