/**
 * `npm run pbx-sim -- --port 3211 --devices 2000-2999 [--user u --password p] [--traffic N]`:
 * a simulated CSTA switch (ECMA-323 over TCP) to point a PbxLink at, driven from stdin.
 *
 * Commands, one per line: `call FROM TO`, `answer CALLID`, `hangup CALLID`, `drop`,
 * `silent on|off`, `restart [ms]`, `status`, `help`, `quit`. `--traffic N` places N random calls
 * per second among the monitored devices (answered after about a second, hung up a few seconds
 * later). End of stdin does not stop the simulator (it can run in the background); `quit`,
 * SIGINT and SIGTERM do.
 */
import { createInterface } from 'node:readline';
import { Command, InvalidArgumentError } from 'commander';
import { CSTA_NS } from '../src/csta/messages.js';
import { parseDeviceRanges, PbxSimulator, type SimulatorEvent } from '../src/csta/simulator.js';

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}
function complain(line: string): void {
  process.stderr.write(`${line}\n`);
}

function integer(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    return n;
  };
}

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number above 0');
  return n;
}

function devices(value: string): (device: string) => boolean {
  try {
    return parseDeviceRanges(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

const program = new Command('pbx-sim')
  .description('A simulated CSTA switch (ECMA-323 XML over TCP, OpenScape Voice behaviour) to point a PbxLink at.')
  .option('--host <address>', 'address to listen on', '127.0.0.1')
  .option('--port <port>', 'port to listen on (0: any free port)', integer(0, 65535), 0)
  .option('--devices <list>', 'devices the switch knows: numbers and ranges, e.g. 2000-2999,3100 (default: any all-digit number)', devices)
  .option('--edition <ed>', 'CSTA edition it answers in: ed2, ed3, ed4 or ed5', 'ed4')
  .option('--user <name>', 'require an ECMA-354 session with this user name')
  .option('--password <password>', 'password of that session')
  .option('--session-duration <seconds>', 'actualSessionDuration granted to sessions', positive, 60)
  .option('--heartbeat <ms>', 'send SystemStatus every ms (0: only at connect)', integer(0, 86_400_000), 0)
  .option('--traffic <n>', 'random calls per second among the monitored devices', positive)
  .addHelpText('after', '\nCommands on stdin: call FROM TO · answer CALLID · hangup CALLID · drop · silent on|off · restart [ms] · status · help · quit');
program.parse();

const opts = program.opts<{ host: string; port: number; devices?: (d: string) => boolean; edition: string; user?: string; password?: string; sessionDuration: number; heartbeat: number; traffic?: number }>();
const namespace = (CSTA_NS as Record<string, string>)[opts.edition];
if (!namespace) program.error(`error: --edition must be one of ${Object.keys(CSTA_NS).join(', ')}, not '${opts.edition}'`);
if ((opts.user === undefined) !== (opts.password === undefined)) program.error('error: --user and --password go together');

// ---- what happens on the switch ------------------------------------------------------------

/** Monitor counts are reported once a connection's MonitorStarts settle, not one line per device. */
const SUMMARY_DELAY_MS = 300;
const summaries = new Map<number, { count: number; timer: NodeJS.Timeout }>();

function report(e: SimulatorEvent): void {
  switch (e.type) {
    case 'connection-opened':
      return say(`connection #${e.connection} from ${e.remote}`);
    case 'connection-closed': {
      const pending = summaries.get(e.connection);
      if (pending) clearTimeout(pending.timer);
      summaries.delete(e.connection);
      return say(`connection #${e.connection} closed (${e.reason}); its ${e.monitors} monitor(s) are gone`);
    }
    case 'session-started':
      return say(`connection #${e.connection}: session ${e.sessionId} started`);
    case 'session-refused':
      return say(`connection #${e.connection}: session refused (${e.reason})`);
    case 'session-ended':
      return say(`connection #${e.connection}: session ${e.sessionId} ${e.reason}`);
    case 'protocol-error':
      return say(`connection #${e.connection}: protocol error, dropping it: ${e.message}`);
    case 'monitor-started':
    case 'monitor-stopped': {
      const pending = summaries.get(e.connection);
      if (pending) clearTimeout(pending.timer);
      const timer = setTimeout(() => {
        summaries.delete(e.connection);
        say(`connection #${e.connection}: ${e.monitors} device(s) monitored`);
      }, SUMMARY_DELAY_MS);
      summaries.set(e.connection, { count: e.monitors, timer });
      return;
    }
  }
}

let sim: PbxSimulator;
try {
  sim = await PbxSimulator.start({
    host: opts.host,
    port: opts.port,
    namespace,
    ...(opts.devices ? { devices: opts.devices } : {}),
    ...(opts.user !== undefined && opts.password !== undefined ? { credentials: { user: opts.user, password: opts.password } } : {}),
    sessionDuration: opts.sessionDuration,
    systemStatusIntervalMs: opts.heartbeat,
    onEvent: report,
  });
} catch (e) {
  complain(`pbx-sim: cannot listen on ${opts.host}:${opts.port}: ${(e as Error).message}`);
  process.exit(1);
}

const link = [`protocol: csta`, `ip: ${sim.host}`, `port: ${sim.port}`, ...(opts.user !== undefined ? [`username: ${opts.user}`, 'password: …'] : [])].join(', ');
say(`PBX simulator (CSTA ${opts.edition}${opts.user !== undefined ? ', ECMA-354 login required' : ''}) listening on ${sim.host}:${sim.port}; point a PbxLink at it: { ${link} }. Type help for commands.`);

// ---- calls placed from here ------------------------------------------------------------------

/** Calls this command line placed and has not hung up, with their pending timers. */
const calls = new Map<string, { readonly from: string; readonly to: string; answered: boolean; timers: NodeJS.Timeout[] }>();

function place(from: string, to: string): string {
  const callId = sim.call(from, to);
  calls.set(callId, { from, to, answered: false, timers: [] });
  return callId;
}

function answer(callId: string): void {
  sim.answer(callId);
  const call = calls.get(callId);
  if (call) call.answered = true;
}

function hangup(callId: string): void {
  sim.hangup(callId);
  const call = calls.get(callId);
  if (call) for (const t of call.timers) clearTimeout(t);
  calls.delete(callId);
}

let traffic: NodeJS.Timeout | undefined;
if (opts.traffic !== undefined) {
  const perSecond = opts.traffic;
  traffic = setInterval(() => {
    const monitored = [...sim.monitored().keys()];
    if (monitored.length < 2) return;
    const from = monitored[Math.floor(Math.random() * monitored.length)]!;
    let to = from;
    while (to === from) to = monitored[Math.floor(Math.random() * monitored.length)]!;
    const callId = place(from, to);
    const call = calls.get(callId)!;
    const answerAfter = 500 + Math.random() * 1_000;
    const hangupAfter = answerAfter + 2_000 + Math.random() * 4_000;
    // A call may have been answered or hung up by hand meanwhile.
    const attempt = (f: () => void) => () => {
      try {
        f();
      } catch (e) {
        complain(`traffic: ${(e as Error).message}`);
      }
    };
    call.timers.push(
      setTimeout(
        attempt(() => {
          if (calls.get(callId)?.answered === false) answer(callId);
        }),
        answerAfter,
      ),
      setTimeout(
        attempt(() => {
          if (calls.has(callId)) hangup(callId);
        }),
        hangupAfter,
      ),
    );
  }, 1_000 / perSecond);
  say(`traffic: ${perSecond} random call(s) per second among the monitored devices`);
}

// ---- commands ---------------------------------------------------------------------------------

const HELP = [
  'call FROM TO      ServiceInitiated + Delivered to the monitors of FROM and TO; prints the callID',
  'answer CALLID     Established to both',
  'hangup CALLID     ConnectionCleared to both',
  'drop              destroy every client connection (keeps listening)',
  'silent on|off     stop / resume sending and answering (connections stay open)',
  'restart [ms]      close everything, listen again on the same port after ms (default 0)',
  'status            connections, monitors, calls, counters',
  'quit              close and exit',
].join('\n');

function status(): string {
  const s = sim.stats;
  return [
    `listening on ${sim.host}:${sim.port}, ${sim.connections} connection(s), ${sim.monitored().size} device(s) monitored, ${calls.size} call(s) up`,
    `frames in ${s.framesIn}, out ${s.framesOut} (${s.bytesOut} bytes); monitor starts ${s.monitorStarts}, stops ${s.monitorStops}; sessions ${s.sessions}; connections accepted ${s.connectionsAccepted}`,
  ].join('\n');
}

let closing = false;
async function quit(code = 0): Promise<never> {
  if (!closing) {
    closing = true;
    clearInterval(traffic);
    for (const c of calls.values()) for (const t of c.timers) clearTimeout(t);
    for (const s of summaries.values()) clearTimeout(s.timer);
    await sim.close();
  }
  process.exit(code);
}

async function command(line: string): Promise<void> {
  const [verb, ...args] = line.trim().split(/\s+/);
  switch (verb) {
    case undefined:
    case '':
      return;
    case 'call':
      if (args.length !== 2) return complain('usage: call FROM TO');
      return say(`call ${place(args[0]!, args[1]!)}: ${args[0]} → ${args[1]}`);
    case 'answer':
      if (args.length !== 1) return complain('usage: answer CALLID');
      answer(args[0]!);
      return say(`call ${args[0]} answered`);
    case 'hangup':
      if (args.length !== 1) return complain('usage: hangup CALLID');
      hangup(args[0]!);
      return say(`call ${args[0]} hung up`);
    case 'drop':
      sim.drop();
      return say('dropped every connection');
    case 'silent':
      if (args[0] !== 'on' && args[0] !== 'off') return complain('usage: silent on|off');
      sim.silence(args[0] === 'on');
      return say(args[0] === 'on' ? 'silent: nothing is sent or answered' : 'talking again');
    case 'restart': {
      const ms = args[0] === undefined ? 0 : Number(args[0]);
      if (!Number.isInteger(ms) || ms < 0) return complain('usage: restart [ms]');
      say(`restarting: down for ${ms} ms`);
      await sim.restart(ms);
      return say(`listening again on ${sim.host}:${sim.port}`);
    }
    case 'status':
      return say(status());
    case 'help':
      return say(HELP);
    case 'quit':
    case 'exit':
      return void (await quit());
    default:
      return complain(`unknown command '${verb}': type help`);
  }
}

// Commands run one at a time, in order (restart waits).
let queue = Promise.resolve();
createInterface({ input: process.stdin, terminal: false }).on('line', (line) => {
  queue = queue.then(() => command(line)).catch((e: unknown) => complain(`error: ${(e as Error).message}`));
});
process.on('SIGINT', () => void quit(0));
process.on('SIGTERM', () => void quit(0));
