/**
 * `switchboard token create USERNAME [--data-dir DIR]`: make a bearer token for an
 * administrator directly in the store of a data directory (no server needed; works beside a
 * running `serve`). The token is printed once, on stdout, and only its SHA-256 is kept.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Runtime } from '../runtime/runtime.js';
import { DB_FILE } from '../runtime/store.js';
import { isReservedUsername, TokenStore } from './tokens.js';

export interface TokenCommandIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly cwd: string;
}

/** Exit code: 0 created, 1 refused (no store, no such AdminAccount, reserved name). */
export async function tokenCreateCommand(username: string, options: { readonly dataDir: string }, io: TokenCommandIo): Promise<number> {
  const dataDir = path.resolve(io.cwd, options.dataDir);
  if (!existsSync(path.join(dataDir, DB_FILE))) {
    io.stderr.write(`switchboard: no runtime store in ${dataDir}: give --data-dir of the runtime (the directory of switchboard serve)\n`);
    return 1;
  }
  if (isReservedUsername(username)) {
    io.stderr.write(`switchboard: '${username}' is reserved: the built-in super-admin token is in ${path.join(dataDir, 'admin.token')}\n`);
    return 1;
  }
  const runtime = await Runtime.open(dataDir, { startEngines: false });
  try {
    if (!runtime.get('AdminAccount', username)) {
      io.stderr.write(`switchboard: no AdminAccount '${username}' in ${dataDir}: apply one (kind: AdminAccount, username: ${username}) first\n`);
      return 1;
    }
    const tokens = TokenStore.open(dataDir);
    try {
      const created = tokens.create(username);
      io.stdout.write(`${created.token}\n`);
      io.stderr.write(`created token ${created.id} for '${username}': it is shown only this once (send it as "Authorization: Bearer <token>", or set SWITCHBOARD_TOKEN)\n`);
      return 0;
    } finally {
      tokens.close();
    }
  } finally {
    await runtime.close();
  }
}
