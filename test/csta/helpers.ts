/** Shared by the tests that run links against the PBX simulator. */
import { afterEach } from 'vitest';
import { PbxSimulator, type SimulatorOptions } from '../../src/csta/simulator.js';

/** Undo actions run after each test, last first (call at a test file's top level). */
export function cleanups(): (() => Promise<void> | void)[] {
  const list: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    while (list.length > 0) await list.pop()!();
  });
  return list;
}

/** A simulator on an ephemeral loopback port, closed after the test. */
export async function startSimulator(cleanup: (() => Promise<void> | void)[], options: SimulatorOptions = {}): Promise<PbxSimulator> {
  const sim = await PbxSimulator.start(options);
  cleanup.push(() => sim.close());
  return sim;
}
