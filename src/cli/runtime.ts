/**
 * Which runtime the CLI talks to: `--runtime URL` (or SWITCHBOARD_RUNTIME, with
 * SWITCHBOARD_TOKEN) for a running `switchboard serve`, else the embedded runtime in
 * ./.switchboard/ of the working directory, created on first use.
 */
import path from 'node:path';
import type { RuntimeClient } from '../runtime/types.js';
import { openEmbedded } from '../runtime/embedded.js';
import { connectRuntime } from '../runtime/http-client.js';

export interface RuntimeChoice {
  readonly runtime?: string;
  /** The embedded runtime's data directory (default `.switchboard`), relative to `cwd`. */
  readonly dataDir?: string;
}

export async function openRuntime(choice: RuntimeChoice, env: NodeJS.ProcessEnv, cwd: string): Promise<RuntimeClient> {
  const url = choice.runtime ?? env.SWITCHBOARD_RUNTIME;
  if (url) return connectRuntime(url, env.SWITCHBOARD_TOKEN ?? '');
  return openEmbedded(path.resolve(cwd, choice.dataDir ?? '.switchboard'), { cwd });
}
