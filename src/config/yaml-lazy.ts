/**
 * The `yaml` package, loaded on first use: a valid tree is parsed with js-yaml alone, so a
 * plain `validate` never pays for loading the positional parser.
 */
import { createRequire } from 'node:module';
import type * as YamlModule from 'yaml';

let loaded: typeof YamlModule | undefined;

export function yaml(): typeof YamlModule {
  loaded ??= createRequire(import.meta.url)('yaml') as typeof YamlModule;
  return loaded;
}
