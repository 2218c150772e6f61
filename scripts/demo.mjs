// `npm run demo`: the first thing a newcomer runs. Validates examples/quickstart with demo
// values for its secrets (set only when the variables are not already set), then shows what
// a broken file looks like. Runs the compiled CLI: `npm run build` first (npm run demo does).
import { main } from '../dist/cli/main.js';
import { cpSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

for (const name of ['CSTA_PASSWORD', 'SWITCHBOARD_ADMIN_PASSWORD']) process.env[name] ??= `demo-${name.toLowerCase()}`;

const say = (s) => process.stdout.write(`\n\x1b[1m$ ${s}\x1b[0m\n`);
say('switchboard validate examples/quickstart');
const ok = await main(['validate', 'examples/quickstart']);

// A copy with two mistakes, to show the diagnostics.
const dir = mkdtempSync(path.join(tmpdir(), 'switchboard-demo-'));
cpSync('examples/quickstart', dir, { recursive: true });
const users = path.join(dir, 'users.yaml');
writeFileSync(users, readFileSync(users, 'utf8').replace('firstName:', 'fristName:').replace('members: [alice,', 'members: [alicia,'));
say('switchboard validate <copy of quickstart with a typo and an unknown group member>');
const broken = await main(['validate', dir]);
rmSync(dir, { recursive: true, force: true });
process.exitCode = ok === 0 && broken === 1 ? 0 : 1;
