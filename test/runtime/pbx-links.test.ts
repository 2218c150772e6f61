/**
 * The `pbx-links` engine in a real runtime against PBX simulators over TCP: configuration
 * changes reach the switch as the smallest set of MonitorStart/MonitorStop, a link whose
 * connection changes restarts alone, VTI-XML links are probed honestly, and the status comes
 * out through the runtime, the HTTP API and `switchboard status links|extensions`.
 */
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PbxSimulator, type SimulatorOptions } from '../../src/csta/simulator.js';
import { cleanups, startSimulator } from '../csta/helpers.js';
import { main } from '../../src/cli/main.js';
import { PbxLinksEngine } from '../../src/runtime/engines/pbx-links.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import type { Change, LinkStatus } from '../../src/runtime/types.js';
import { createApiServer } from '../../src/server/app.js';
import { createLogger } from '../../src/server/serve.js';
import { TokenStore } from '../../src/server/tokens.js';
import { CSTA_PASSWORD, changeSet, creates, find, open, quickstart, tempDir } from './helpers.js';

const cleanup = cleanups();
const simulator = (options: SimulatorOptions = {}): Promise<PbxSimulator> => startSimulator(cleanup, options);

async function runtime(dir = tempDir()): Promise<Runtime> {
  const rt = await open(dir, { engines: [new PbxLinksEngine({ csta: { backoff: { initialMs: 50, maxMs: 200 }, requestTimeoutMs: 2000 }, probeIntervalMs: 100, probeTimeoutMs: 500 })] });
  cleanup.push(() => rt.close());
  return rt;
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The quickstart configuration with its CSTA link pointed at a simulator. */
function config(port: number): Change[] {
  return creates(quickstart()).map((c) => (c.action === 'create' && c.kind === 'PbxLink' ? { ...c, body: { ...c.body, ip: '127.0.0.1', port } } : c));
}

/** A link's status; an empty one until the engine has taken the committed change in (it converges asynchronously). */
const link = (rt: Runtime, id: string): Partial<LinkStatus> => rt.links().find((x) => x.id === id) ?? {};

function user(username: string, number: string, linkName = 'pbx'): Change {
  return { action: 'create', kind: 'User', id: `acme/paris/${username}`, body: { domain: 'acme/paris', username, firstName: username, devices: [{ number, protocol: 'CSTA', link: linkName }] } };
}

describe('pbx-links engine', () => {
  it('connects a CSTA link with its stored credentials and supervises the configured extensions', async () => {
    const sim = await simulator({ credentials: { user: 'tws', password: CSTA_PASSWORD } });
    const rt = await runtime();
    expect(rt.apply(changeSet(0, config(sim.port))).ok).toBe(true);
    await until(() => link(rt, 'acme/paris/pbx').current === 5 && rt.extensions().every((x) => x.callState !== 'unknown'), 'five extensions supervised, their snapshots answered');
    expect(link(rt, 'acme/paris/pbx')).toMatchObject({ host: '127.0.0.1', port: sim.port, connected: true, current: 5, total: 100, wanted: 5, state: 'up', company: 'acme', domain: 'acme/paris' });
    expect([...sim.monitored().keys()].sort()).toEqual(['1001', '1002', '1003', '1004', '1005']);

    const range = rt.extensions({ from: '1002', to: '1004' });
    expect(range.map((x) => [x.extension, x.link, x.type, x.supervision, x.callState, x.owner])).toEqual([
      ['1002', 'acme/paris/pbx', 'CTI', 'monitored', 'idle', 'User acme/paris/bruno'],
      ['1003', 'acme/paris/pbx', 'CTI', 'monitored', 'idle', 'User acme/paris/chloe'],
      ['1004', 'acme/paris/pbx', 'CTI', 'monitored', 'idle', 'User acme/paris/david'],
    ]);
    const call = sim.call('1001', '1002');
    await until(() => rt.extensions({ from: '1002', to: '1002' })[0]?.callState === 'ringing', '1002 ringing');
    expect(rt.extensions({ from: '1002', to: '1002' })[0]?.lastEvent?.name).toBe('Delivered');
    sim.hangup(call);
    await until(() => rt.extensions({ from: '1002', to: '1002' })[0]?.callState === 'idle', '1002 idle again');
  });

  it('starts a new extension and stops a removed one without touching the others', async () => {
    const sim = await simulator({ credentials: { user: 'tws', password: CSTA_PASSWORD } });
    const rt = await runtime();
    rt.apply(changeSet(0, config(sim.port)));
    await until(() => link(rt, 'acme/paris/pbx').current === 5, 'five supervised');
    const [starts, stops, accepted] = [sim.stats.monitorStarts, sim.stats.monitorStops, sim.stats.connectionsAccepted];
    const monitors = new Map(sim.monitored());

    expect(rt.apply(changeSet(rt.revision(), [user('frank', '1006')])).ok).toBe(true);
    await until(() => sim.monitored().has('1006') && link(rt, 'acme/paris/pbx').current === 6, '1006 supervised');
    const alice = find(quickstart(), 'User', 'acme/paris/alice');
    expect(rt.apply(changeSet(rt.revision(), [{ action: 'update', kind: 'User', id: alice.id, body: { ...alice.body, devices: [] } }])).ok).toBe(true);
    await until(() => !sim.monitored().has('1001'), '1001 no longer supervised');

    expect(sim.stats.monitorStarts - starts).toBe(1);
    expect(sim.stats.monitorStops - stops).toBe(1);
    expect(sim.stats.connectionsAccepted).toBe(accepted);
    for (const n of ['1002', '1003', '1004', '1005']) expect(sim.monitored().get(n)).toBe(monitors.get(n));
    expect(link(rt, 'acme/paris/pbx')).toMatchObject({ current: 5, wanted: 5, connects: 1 });
  });

  it('restarts only the link whose address or credentials change, as the plan said it would', async () => {
    const [a, b, c] = [await simulator({ credentials: { user: 'tws', password: CSTA_PASSWORD } }), await simulator(), await simulator()];
    const rt = await runtime();
    const second: Change = { action: 'create', kind: 'PbxLink', id: 'acme/paris/pbx2', body: { domain: 'acme/paris', name: 'pbx2', protocol: 'csta', ip: '127.0.0.1', port: b.port } };
    rt.apply(changeSet(0, [...config(a.port), second, user('gina', '2001', 'pbx2'), user('hugo', '2002', 'pbx2')]));
    await until(() => link(rt, 'acme/paris/pbx').current === 5 && link(rt, 'acme/paris/pbx2').current === 2, 'both links up');

    const moved: Change = { action: 'update', kind: 'PbxLink', id: 'acme/paris/pbx2', body: { ...(second as { body: Record<string, unknown> }).body, port: c.port } };
    expect(rt.impact([moved])).toEqual([{ index: 0, facts: [{ type: 'restart', engine: 'pbx-links', target: 'PbxLink acme/paris/pbx2', reason: 'port changed: the link reconnects', extensionsInterrupted: 2 }] }]);
    rt.apply(changeSet(rt.revision(), [moved]));
    await until(() => c.monitored().size === 2 && link(rt, 'acme/paris/pbx2').current === 2, 'pbx2 supervised through the new switch');
    await until(() => b.connections === 0, 'the old switch let go');
    expect(a.stats.connectionsAccepted).toBe(1); // the other link never reconnected
    expect(link(rt, 'acme/paris/pbx')).toMatchObject({ connects: 1, current: 5 });

    // A new password: that link reconnects with it (the switch refuses the old one).
    const pbx = find(quickstart(), 'PbxLink', 'acme/paris/pbx');
    const rotated: Change = { action: 'update', kind: 'PbxLink', id: 'acme/paris/pbx', body: { ...pbx.body, ip: '127.0.0.1', port: a.port, password: 'rotated-Pa55' } };
    expect(rt.impact([rotated])[0]?.facts[0]).toMatchObject({ type: 'restart', reason: 'password changed: the link reconnects', extensionsInterrupted: 5 });
    rt.apply(changeSet(rt.revision(), [rotated]));
    await until(() => link(rt, 'acme/paris/pbx').state === 'backoff', 'the switch refusing the new password');
    expect(link(rt, 'acme/paris/pbx').message).toMatch(/refused the application session/);
    expect(c.stats.connectionsAccepted).toBe(1);
  });

  it("tells a plan that a capacity change stops the highest numbers, and that a planned secret with the live fingerprint is no change", async () => {
    const rt = await runtime();
    rt.apply(changeSet(0, config(1))); // nothing listens on port 1: impact needs no connection
    const pbx = rt.get('PbxLink', 'acme/paris/pbx')!;
    // As a plan sends it: the secret as its fingerprint plus where the value comes from.
    const planned = { ...pbx.body, password: { $secret: rt.fingerprint([CSTA_PASSWORD])[0], ref: { env: 'CSTA_PASSWORD' } }, capacity: 3 };
    expect(rt.impact([{ action: 'update', kind: 'PbxLink', id: pbx.id, body: planned }])).toEqual([{ index: 0, facts: [{ type: 'supervision-stop', engine: 'pbx-links', extensions: ['1004', '1005'] }] }]);
    const rotated = { ...planned, password: { $secret: rt.fingerprint(['another'])[0], ref: { env: 'CSTA_PASSWORD' } }, capacity: 100 };
    expect(rt.impact([{ action: 'update', kind: 'PbxLink', id: pbx.id, body: rotated }])[0]?.facts).toEqual([{ type: 'restart', engine: 'pbx-links', target: 'PbxLink acme/paris/pbx', reason: 'password changed: the link reconnects', extensionsInterrupted: 5 }]);
  });

  it('reports the extensions over capacity, with the reason', async () => {
    const sim = await simulator({ credentials: { user: 'tws', password: CSTA_PASSWORD } });
    const rt = await runtime();
    const changes = config(sim.port).map((c) => (c.action === 'create' && c.kind === 'PbxLink' ? { ...c, body: { ...c.body, capacity: 3 } } : c));
    rt.apply(changeSet(0, changes));
    await until(() => link(rt, 'acme/paris/pbx').current === 3, 'three supervised');
    expect(link(rt, 'acme/paris/pbx')).toMatchObject({ current: 3, total: 3, wanted: 5, overCapacity: 2 });
    expect(rt.extensions({ from: '1004' }).map((x) => [x.extension, x.supervision, x.error])).toEqual([
      ['1004', 'over-capacity', 'the link supervises at most 3 extensions'],
      ['1005', 'over-capacity', 'the link supervises at most 3 extensions'],
    ]);
  });

  it('probes a VTI-XML link and says no driver supervises its extensions', async () => {
    const listener = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise<void>((r) => listener.close(() => r())));
    const port = (listener.address() as net.AddressInfo).port;
    const rt = await runtime();
    rt.apply(
      changeSet(0, [
        ...creates(quickstart()).filter((c) => c.kind === 'Company' || c.kind === 'Domain'),
        { action: 'create', kind: 'PbxLink', id: 'acme/paris/a5000', body: { domain: 'acme/paris', name: 'a5000', protocol: 'vtixml', ip: '127.0.0.1', port, siteCluster: '5.2', capacity: 500 } },
        { action: 'create', kind: 'User', id: 'acme/paris/ivan', body: { domain: 'acme/paris', username: 'ivan', devices: [{ number: '3001', protocol: 'VTI-XML' }] } },
      ]),
    );
    await until(() => link(rt, 'acme/paris/a5000').reachable === true, 'probe');
    expect(link(rt, 'acme/paris/a5000')).toMatchObject({ state: 'unavailable', connected: false, current: 0, wanted: 1, siteCluster: '5.2', total: 500 });
    expect(link(rt, 'acme/paris/a5000').message).toMatch(/VTI-XML protocol driver not available.*accepts TCP connections/);
    expect(rt.extensions()[0]).toMatchObject({ extension: '3001', link: 'acme/paris/a5000', siteCluster: '5.2', supervision: 'disconnected', type: 'CTI' });
    expect(rt.extensions()[0]?.error).toMatch(/VTI-XML protocol driver not available/);
  });

  it('serves the link and extension status over HTTP and `switchboard status links|extensions`', async () => {
    const sim = await simulator({ credentials: { user: 'tws', password: CSTA_PASSWORD } });
    const dir = path.join(tempDir(), '.switchboard');
    const rt = await runtime(dir);
    const tokens = TokenStore.open(dir);
    cleanup.push(() => tokens.close());
    const { token } = tokens.ensureAdminToken(dir);
    const server = await createApiServer({ runtime: rt, tokens, logger: createLogger({ write: () => true } as unknown as NodeJS.WritableStream, 'silent'), processMetrics: false });
    cleanup.push(() => server.close());
    const url = await server.listen('127.0.0.1', 0);
    rt.apply(changeSet(0, config(sim.port)));
    await until(() => link(rt, 'acme/paris/pbx').current === 5, 'five supervised');

    const get = async (p: string) => {
      const r = await fetch(url + p, { headers: { authorization: `Bearer ${token}` } });
      return { status: r.status, body: (await r.json()) as unknown };
    };
    expect(await get('/v1/links')).toMatchObject({ status: 200, body: [{ id: 'acme/paris/pbx', connected: true, current: 5, total: 100 }] });
    const ext = await get('/v1/extensions?from=1003&to=1005&limit=2');
    expect(ext.status).toBe(200);
    expect((ext.body as { extension: string }[]).map((x) => x.extension)).toEqual(['1003', '1004']);
    expect((await get('/v1/extensions?limit=0')).status).toBe(400);

    const out: string[] = [];
    const io = { cwd: path.dirname(dir), env: { SWITCHBOARD_TOKEN: token }, stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => out.push(s) } };
    expect(await main(['status', 'links', '--runtime', url], io as never)).toBe(0);
    const text = out.join('');
    expect(text).toMatch(/^LINK\s+PROTOCOL\s+HOST\s+PORT\s+SITE\s+CONNECTED\s+CURRENT\s+TOTAL\s+STATE/);
    expect(text).toMatch(new RegExp(`acme/paris/pbx\\s+csta\\s+127\\.0\\.0\\.1\\s+${sim.port}\\s+-\\s+yes\\s+5\\s+100\\s+up`));
    out.length = 0;
    expect(await main(['status', 'extensions', '--from', '1004', '--to', '8000', '--runtime', url, '--format', 'json'], io as never)).toBe(0);
    expect((JSON.parse(out.join('')) as { extension: string; supervision: string }[]).map((x) => [x.extension, x.supervision])).toEqual([
      ['1004', 'monitored'],
      ['1005', 'monitored'],
    ]);
    const metrics = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    const exposition = await metrics.text();
    expect(exposition).toContain('switchboard_pbx_link_connected{link="acme/paris/pbx",protocol="csta"} 1');
    expect(exposition).toContain('switchboard_pbx_link_extensions{link="acme/paris/pbx",supervision="monitored"} 5');

    // The switch sends garbage: the link reconnects and re-monitors; the server never stops answering.
    const connects = link(rt, 'acme/paris/pbx').connects!;
    sim.sendRaw(Buffer.from('\x00\x00\x00\x02garbage that is not CSTA framing', 'latin1'));
    await until(() => (link(rt, 'acme/paris/pbx').connects ?? 0) > connects && link(rt, 'acme/paris/pbx').current === 5, 'reconnected after garbage');
    expect((await get('/v1/links')).status).toBe(200);

    // `status` of the serving runtime; `--runtime` before the subcommand counts too.
    out.length = 0;
    expect(await main(['status', '--runtime', url], io as never)).toBe(0);
    expect(out.join('')).toMatch(/^runtime http:\/\/127\.0\.0\.1:\d+ at revision 1\nengines:\n {2}pbx-links: running \(1 of 1 links connected\)/);
    out.length = 0;
    expect(await main(['status', '--runtime', url, 'links', '--format', 'json'], io as never)).toBe(0);
    expect(JSON.parse(out.join(''))).toMatchObject([{ id: 'acme/paris/pbx', connected: true }]);

    // The embedded view of the same data directory: as configured, with a note.
    out.length = 0;
    expect(await main(['status', 'extensions', '--data-dir', dir, '--to', '1001'], io as never)).toBe(0);
    expect(out.join('')).toMatch(/1001\s+acme\/paris\/pbx\s+CTI\s+disconnected\s+unknown/);
    expect(out.join('')).toMatch(/note: no switchboard serve runs on this data directory/);
  });
});
