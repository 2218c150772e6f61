// `npm run demo`: the main job on the embedded runtime, with nothing else installed.
// In a scratch copy of examples/quickstart (its CSTA link pointed at the PBX simulator, a
// switch speaking ECMA-323 on loopback): validate, plan, apply, re-plan (empty); then a real
// `switchboard serve` on the same data directory connects the link: link and extension status,
// a call ringing; an out-of-band edit through the runtime's HTTP API, and the plan reverting it.
// Runs the compiled CLI: `npm run demo` builds first.
import { main } from '../dist/cli/main.js';
import { PbxSimulator } from '../dist/csta/simulator.js';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const work = mkdtempSync(path.join(tmpdir(), 'switchboard-demo-'));
cpSync(path.join(repo, 'examples/quickstart'), path.join(work, 'quickstart'), { recursive: true });
// Demo values for the secrets the example references (only when not already set).
for (const name of ['CSTA_PASSWORD', 'SWITCHBOARD_ADMIN_PASSWORD']) process.env[name] ??= `demo-${name.toLowerCase().replace(/_/g, '-')}`;
// The switch: the PBX simulator, knowing the quickstart's extensions and the link's credentials.
const pbx = await PbxSimulator.start({ devices: ['1001', '1002', '1003', '1004', '1005'], credentials: { user: 'tws', password: process.env.CSTA_PASSWORD } });
const links = path.join(work, 'quickstart', 'links.yaml');
writeFileSync(links, readFileSync(links, 'utf8').replace('ip: 192.0.2.10', 'ip: 127.0.0.1 # the PBX simulator (npm run pbx-sim)').replace('port: 3211', `port: ${pbx.port}`));
const io = { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: work };
const bold = (s) => (process.stdout.isTTY && !('NO_COLOR' in process.env) ? `\x1b[1m${s}\x1b[0m` : s);
const step = async (title, args, expected) => {
  process.stdout.write(`\n${bold(`## ${title}`)}\n${bold(`$ switchboard ${args.join(' ')}`)}\n`);
  const code = await main(args, io);
  if (code !== expected) throw new Error(`switchboard ${args.join(' ')} exited ${code}, expected ${expected}`);
};

let server;
try {
  process.stdout.write(`Working in ${work} (embedded runtime in ${path.join(work, '.switchboard')})\n`);
  await step('1. Validate the configuration', ['validate', 'quickstart'], 0);
  await step('2. Plan against the empty embedded runtime', ['plan', 'quickstart', '--detailed-exitcode'], 2);
  await step('3. Apply it (one atomic change set)', ['apply', 'quickstart', '--auto-approve'], 0);
  await step('4. Plan again: nothing to do', ['plan', 'quickstart', '--detailed-exitcode'], 0);

  process.stdout.write(`\n${bold('## 5. switchboard serve runs the CSTA link: it connects to the switch and supervises the extensions')}\n`);
  server = spawn(process.execPath, [path.join(repo, 'bin/switchboard.js'), 'serve', '--data-dir', '.switchboard', '--listen', '127.0.0.1:0'], { cwd: work, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    let buffer = '';
    server.stdout.on('data', (chunk) => {
      buffer += chunk;
      const m = /"url":"(http:\/\/[^"]+)"/.exec(buffer);
      if (m) resolve(m[1]);
    });
    server.on('exit', (code) => reject(new Error(`switchboard serve exited ${code}`)));
  });
  const token = readFileSync(path.join(work, '.switchboard', 'admin.token'), 'utf8').trim();
  const served = { ...io, env: { ...process.env, SWITCHBOARD_RUNTIME: url, SWITCHBOARD_TOKEN: token } };
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  for (let i = 0; i < 200 && pbx.monitored().size < 5; i++) await new Promise((r) => setTimeout(r, 50));
  const servedStep = async (title, args) => {
    process.stdout.write(`${bold(`$ switchboard ${args.join(' ')}`)}${title ? `   # ${title}` : ''}\n`);
    const code = await main(args, served);
    if (code !== 0) throw new Error(`switchboard ${args.join(' ')} exited ${code}`);
  };
  await servedStep('', ['status', 'links']);
  const call = pbx.call('1001', '1002');
  for (let i = 0; i < 100; i++) {
    const ext = await (await fetch(`${url}/v1/extensions?from=1002&to=1002`, { headers })).json();
    if (ext[0]?.callState === 'ringing') break;
    await new Promise((r) => setTimeout(r, 20));
  }
  await servedStep('alice (1001) calls bruno (1002)', ['status', 'extensions', '--from', '1001', '--to', '1003']);
  pbx.hangup(call);

  process.stdout.write(`\n${bold('## 6. An administrator edits a user out of band, through the runtime API')}\n`);
  const id = encodeURIComponent('acme/paris/alice');
  const user = await (await fetch(`${url}/v1/resources/User/${id}`, { headers })).json();
  const body = { ...(user.body ?? user), firstName: 'Mallory' };
  const put = await fetch(`${url}/v1/resources/User/${id}`, { method: 'PUT', headers, body: JSON.stringify(body) });
  process.stdout.write(`PUT ${url}/v1/resources/User/${id} {"firstName": "Mallory", …} → ${put.status}\n`);
  server.kill('SIGTERM');
  await new Promise((resolve) => server.once('exit', resolve));
  server = undefined;

  await step('7. Plan shows the drift, who made it, and the change that reverts it', ['plan', 'quickstart', '--detailed-exitcode'], 2);
  await step('8. Apply reverts it', ['apply', 'quickstart', '--auto-approve'], 0);
  await step('9. Converged', ['plan', 'quickstart', '--detailed-exitcode'], 0);
} finally {
  server?.kill('SIGKILL');
  await pbx.close();
  rmSync(work, { recursive: true, force: true });
}
