/**
 * A second process on the same store, for the concurrency and crash tests:
 *   child.ts apply <dataDir> <changeSet.json> [--wait-go] [--hang-at N]
 * Opens the runtime (no engines), prints "ready", optionally waits for "go" on stdin, applies
 * the change set and prints "result <json>". With --hang-at N it prints "begin" once N rows
 * are written inside the transaction and then spins forever (the test kills it there).
 */
import { readFileSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Runtime } from '../../src/runtime/runtime.js';
import type { ChangeSet } from '../../src/runtime/types.js';

const [cmd, dataDir, file, ...rest] = process.argv.slice(2);
if (cmd !== 'apply' || !dataDir || !file) throw new Error('usage: child.ts apply <dataDir> <changeSet.json> [--wait-go] [--hang-at N]');
const waitGo = rest.includes('--wait-go');
const hangIndex = rest.indexOf('--hang-at');
const hangAt = hangIndex >= 0 ? Number(rest[hangIndex + 1]) : undefined;
const cs = JSON.parse(readFileSync(file, 'utf8')) as ChangeSet;
const rt = await Runtime.open(dataDir, {
  startEngines: false,
  testHooks: {
    duringWrite: (n) => {
      if (hangAt !== undefined && n >= hangAt) {
        writeSync(1, 'begin\n');
        const cell = new Int32Array(new SharedArrayBuffer(4));
        for (;;) Atomics.wait(cell, 0, 0, 1000);
      }
    },
  },
});
writeSync(1, 'ready\n');
if (waitGo) {
  const rl = createInterface({ input: process.stdin });
  await new Promise<void>((resolve) => rl.on('line', (l) => l.trim() === 'go' && resolve()));
  rl.close();
}
const result = rt.apply(cs);
writeSync(1, `result ${JSON.stringify(result)}\n`);
await rt.close();
