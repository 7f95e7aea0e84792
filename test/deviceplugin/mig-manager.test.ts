import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { DecisionDevice, MigOp } from '../../src/api/index.js';
import { FakeBackend } from '../../src/deviceplugin/fake-backend.js';
import { MigInstanceManager, placementKey, type MigHolders } from '../../src/deviceplugin/mig-manager.js';
import { topologyNode } from '../fakeoperator/fixtures.js';

const log = pino({ level: 'silent' });

function manager(held: Set<string>, clock: { now: number }, states: string[] = [], active: ReadonlySet<string> = new Set(), recorded: ReadonlyMap<string, string[]> = new Map()) {
  const backend = new FakeBackend(topologyNode('n1', 'A100-SXM4-40GB', 40960, 1, 'mixed', true));
  const holders: MigHolders = { placementHeld: (key) => held.has(key), podActive: (uid) => active.has(uid), unplaced: () => false, allocatedTo: (key) => recorded.get(key) ?? [] };
  const mig = new MigInstanceManager({
    backend,
    holders,
    log,
    now: () => clock.now,
    idleGraceMs: 1000,
    migState: (state) => {
      states.push(state);
      return Promise.resolve();
    },
    changed: () => Promise.resolve(),
  });
  return { backend, mig };
}

const device = (uuid: string, profile: string, start: number, plan: MigOp[]): DecisionDevice => ({
  uuid,
  index: 0,
  memoryMiB: 0,
  cores: 0,
  mig: { profile, start, plan },
});

describe('MigInstanceManager', () => {
  it("applies a grant's plan once, around the MIG manager's state label, and reuses the instance after", async () => {
    const states: string[] = [];
    const { backend, mig } = manager(new Set(), { now: 0 }, states);
    const [gpu] = await backend.discover();
    const given = await mig.ensureInstance(device(gpu!.uuid, '3g.20gb', 4, [{ action: 'create', profile: '3g.20gb', start: 4 }]), 'pod-a');
    expect(given.mig?.migDeviceUuid).toMatch(/^MIG-/);
    const again = await mig.ensureInstance(device(gpu!.uuid, '3g.20gb', 4, [{ action: 'create', profile: '3g.20gb', start: 4 }]), 'pod-a');
    expect(again.mig?.migDeviceUuid).toBe(given.mig?.migDeviceUuid);
    expect(states).toEqual(['pending', 'success']);
  });

  it('reclaims an idle instance only after the grace period, and never one a pod holds', async () => {
    const held = new Set<string>();
    const clock = { now: 0 };
    const { backend, mig } = manager(held, clock);
    const [gpu] = await backend.discover();
    await mig.ensureInstance(device(gpu!.uuid, '3g.20gb', 0, [{ action: 'create', profile: '3g.20gb', start: 0 }]), 'pod-a');
    await mig.ensureInstance(device(gpu!.uuid, '3g.20gb', 4, [{ action: 'create', profile: '3g.20gb', start: 4 }]), 'pod-a');
    held.add(placementKey(gpu!.uuid, { profile: '3g.20gb', start: 4 }));
    await mig.reclaimIdle(await backend.discover());
    clock.now = 999;
    await mig.reclaimIdle(await backend.discover());
    expect((await backend.discover())[0]?.migInstances.map((m) => m.start)).toEqual([0, 4]);
    clock.now = 1000;
    await mig.reclaimIdle(await backend.discover());
    expect((await backend.discover())[0]?.migInstances.map((m) => m.start)).toEqual([4]);
  });

  it('never hands an instance held by a pod still on the node to another pod', async () => {
    const active = new Set(['pod-a']);
    const { backend, mig } = manager(new Set(), { now: 0 }, [], active);
    const [gpu] = await backend.discover();
    const grant = device(gpu!.uuid, '3g.20gb', 4, [{ action: 'create', profile: '3g.20gb', start: 4 }]);
    const given = await mig.ensureInstance(grant, 'pod-a');
    mig.handOut(given.mig?.migDeviceUuid ?? '', 'pod-a');
    await expect(mig.ensureInstance(grant, 'pod-b')).rejects.toThrow(/in use by another pod/);
    // Its own pod asking again (kubelet retrying the admission) gets it; once that pod has left, the next one does.
    expect((await mig.ensureInstance(grant, 'pod-a')).mig?.migDeviceUuid).toBe(given.mig?.migDeviceUuid);
    active.delete('pod-a');
    expect((await mig.ensureInstance(grant, 'pod-b')).mig?.migDeviceUuid).toBe(given.mig?.migDeviceUuid);
  });

  it("refuses an instance a running pod's record holds, with nothing handed out in this process (after a restart)", async () => {
    const recorded = new Map<string, string[]>();
    const { backend, mig } = manager(new Set(), { now: 0 }, [], new Set(), recorded);
    const [gpu] = await backend.discover();
    const grant = device(gpu!.uuid, '3g.20gb', 4, [{ action: 'create', profile: '3g.20gb', start: 4 }]);
    await mig.ensureInstance(grant, 'pod-a');
    recorded.set(placementKey(gpu!.uuid, { profile: '3g.20gb', start: 4 }), ['pod-a']);
    await expect(mig.ensureInstance(grant, 'pod-b')).rejects.toThrow(/in use by another pod/);
    expect((await mig.ensureInstance(grant, 'pod-a')).mig?.profile).toBe('3g.20gb');
  });

  it('reads the GPU once per plan, whatever the number of ops', async () => {
    const { backend, mig } = manager(new Set(), { now: 0 });
    const [gpu] = await backend.discover();
    await mig.ensureInstance(device(gpu!.uuid, '7g.40gb', 0, [{ action: 'create', profile: '7g.40gb', start: 0 }]), 'pod-a');
    let reads = 0;
    const discover = backend.discover.bind(backend);
    backend.discover = () => {
      reads++;
      return discover();
    };
    const plan: MigOp[] = [
      { action: 'destroy', profile: '7g.40gb', start: 0 },
      { action: 'create', profile: '3g.20gb', start: 0 },
      { action: 'create', profile: '2g.10gb', start: 4 },
      { action: 'create', profile: '1g.5gb', start: 6 },
    ];
    const given = await mig.ensureInstance(device(gpu!.uuid, '1g.5gb', 6, plan), 'pod-a');
    expect(given.mig?.migDeviceUuid).toMatch(/^MIG-/);
    expect(reads).toBe(1);
    expect((await discover())[0]?.migInstances.map((m) => `${m.profile}@${m.start}`)).toEqual(['3g.20gb@0', '2g.10gb@4', '1g.5gb@6']);
  });
});
