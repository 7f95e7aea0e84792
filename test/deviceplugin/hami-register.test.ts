/**
 * Tessera's device plugin speaks HAMi's node protocol: against the embedded API server through the real
 * client-node, the node gets HAMi's register annotation (the JSON HAMi's device plugin writes for the same GPUs,
 * written out by hand below) and the handshake answer, re-written every interval.
 */
import { CoreV1Api } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedCluster } from '../../src/cluster/index.js';
import { loadDeviceConfig } from '../../src/config/device-config.js';
import { FakeBackend } from '../../src/deviceplugin/fake-backend.js';
import { filteredBackend, hamiNodeSettings } from '../../src/deviceplugin/hami-node-config.js';
import { HamiRegistrar } from '../../src/deviceplugin/hami-register.js';
import { TESSERA_NODE } from '../../src/api/annotations.js';
import { decodeInventory } from '../../src/api/inventory.js';
import { advertisedDevices } from '../../src/deviceplugin/devices.js';
import { topologyWithGpuIds } from '../fakeoperator/fixtures.js';
import { TestNode } from './harness.js';

let cluster: EmbeddedCluster;
beforeAll(async () => {
  cluster = await EmbeddedCluster.start();
  await cluster
    .kubeConfig()
    .makeApiClient(CoreV1Api)
    .createNode({ body: { metadata: { name: 'gpu-a' } } });
});
afterAll(() => cluster.stop());

const topology = topologyWithGpuIds('NVIDIA A100-SXM4-80GB', 81920, [
  'GPU-aaaaaaaa-0000-0000-0000-000000000000',
  'GPU-aaaaaaaa-0000-0000-0000-000000000001',
  'GPU-aaaaaaaa-0000-0000-0000-000000000002',
]);

describe("HAMi's register and handshake annotations", () => {
  it("are published as HAMi's device plugin publishes them, honouring the node's nodeconfig", async () => {
    const config = loadDeviceConfig('nvidia: {deviceSplitCount: 10}\nnodeconfig: [{name: gpu-a, devicesplitcount: 4, devicecorescaling: 1.5, filterdevices: {index: [1]}}]');
    if (!config.ok) throw config.error;
    const settings = hamiNodeSettings(config.value, 'gpu-a');
    let now = Date.UTC(2026, 11, 6, 1, 0, 0);
    const registrar = new HamiRegistrar({
      node: 'gpu-a',
      backend: filteredBackend(new FakeBackend(() => Promise.resolve(topology)), settings),
      kubeConfig: cluster.kubeConfig(),
      settings,
      config: config.value,
      log: pino({ level: 'silent' }),
      intervalMs: 50,
      now: () => now,
    });
    await registrar.start();
    try {
      const read = async (): Promise<Record<string, string>> => (await cluster.kubeConfig().makeApiClient(CoreV1Api).readNode({ name: 'gpu-a' })).metadata?.annotations ?? {};
      const annotations = await read();
      expect(annotations['hami.io/node-nvidia-register']).toBe(
        '[{"id":"GPU-aaaaaaaa-0000-0000-0000-000000000000","count":4,"devmem":81920,"devcore":150,"type":"NVIDIA A100-SXM4-80GB","mode":"hami-core","health":true},' +
          '{"id":"GPU-aaaaaaaa-0000-0000-0000-000000000002","index":2,"count":4,"devmem":81920,"devcore":150,"type":"NVIDIA A100-SXM4-80GB","mode":"hami-core","health":true}]',
      );
      expect(annotations['hami.io/node-handshake']).toBe('Reported 2026-12-06 01:00:00.000000000 +0000 UTC');
      // HAMi's scheduler asks again; the next registration answers.
      now += 30_000;
      const deadline = Date.now() + 5000;
      while ((await read())['hami.io/node-handshake'] !== 'Reported 2026-12-06 01:00:30.000000000 +0000 UTC') {
        if (Date.now() > deadline) throw new Error('the handshake was not answered again');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      await registrar.stop();
    }
  });
});

describe('deviceCoreScaling', () => {
  it("gives each shared GPU 100 x the scaling core units in the device plugin's inventory, as HAMi registers them", async () => {
    const node = await TestNode.start({ mode: 'hami-core', gpus: 2 });
    try {
      const inventory = async () => decodeInventory((await node.readNode()).metadata?.annotations?.[TESSERA_NODE.inventory] ?? '');
      expect((await inventory()).gpus.map((g) => g.coreUnits)).toEqual([100, 100]);
      await node.restartDaemon({ coreUnits: 150 });
      expect((await inventory()).gpus.map((g) => g.coreUnits)).toEqual([150, 150]);
    } finally {
      await node.stop();
    }
  });
});

describe('enableNumaTopology', () => {
  const gpus = [{ uuid: 'GPU-a', index: 0, model: 'NVIDIA A100-SXM4-80GB', memoryMiB: 81920, numa: 1, healthy: true, migEnabled: false, migInstances: [] }];

  it("tells kubelet each GPU's NUMA node only when enabled (HAMi's default is off)", () => {
    expect(advertisedDevices(gpus, () => 2, true).map((d) => d.topology)).toEqual([{ nodes: [{ ID: 1 }] }, { nodes: [{ ID: 1 }] }]);
    expect(advertisedDevices(gpus, () => 2, false).map((d) => d.topology)).toEqual([null, null]);
    const config = loadDeviceConfig('nodeconfig: [{name: n1, enablenumatopology: true}]');
    if (!config.ok) throw config.error;
    expect(hamiNodeSettings(config.value, 'n1').enableNumaTopology).toBe(true);
    expect(hamiNodeSettings(config.value, 'n2').enableNumaTopology).toBe(false);
  });
});
