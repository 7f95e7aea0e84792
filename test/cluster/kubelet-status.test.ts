/**
 * What kubectl shows of the simulated kubelet's work: a pod it started is READY 1/1 with an IP and a start time,
 * and its node reports a version, addresses and node info, as with a real kubelet.
 */
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedCluster } from '../../src/cluster/index.js';
import { Store } from '../../src/cluster/store.js';
import { SimKubelet, admissionPodOf } from '../../src/kubelet/kubelet.js';
import { KUBELET_VERSION } from '../../src/kubelet/status.js';
import { pod } from './helpers.js';

const KUBECTL = process.env.KUBECTL ?? '/usr/bin/kubectl';
const run = promisify(execFile);

describe.skipIf(!existsSync(KUBECTL))('the simulated kubelet seen through kubectl', () => {
  let cluster: EmbeddedCluster;
  let kubelet: SimKubelet;
  let dir: string;
  const kubectl = async (...args: string[]): Promise<string> => (await run(KUBECTL, ['--kubeconfig', join(dir, 'kubeconfig'), ...args], { timeout: 20_000 })).stdout;

  beforeAll(async () => {
    cluster = await EmbeddedCluster.start();
    dir = mkdtempSync(join(tmpdir(), 'tks-'));
    await cluster.writeKubeconfig(join(dir, 'kubeconfig'));
    const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
    await core.createNode({ body: { metadata: { name: 'n1' }, status: { conditions: [{ type: 'Ready', status: 'True' }] } } });
    kubelet = new SimKubelet({ node: 'n1', kubeConfig: cluster.kubeConfig(), deviceDir: join(dir, 'dp'), podResourcesSocket: join(dir, 'pr.sock'), log: pino({ level: 'silent' }) });
    await kubelet.start();
    await core.createNamespacedPod({ namespace: 'default', body: pod('web', { spec: { nodeName: 'n1', containers: [{ name: 'main', image: 'nginx:1' }] } }) });
    for (let i = 0; i < 200; i++) {
      const phase = (await core.readNamespacedPod({ name: 'web', namespace: 'default' })).status?.phase;
      if (phase === 'Running') break;
      await new Promise((r) => setTimeout(r, 25));
    }
  });

  afterAll(async () => {
    await kubelet.stop();
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows a running pod READY 1/1 with its IP, start time and container state', async () => {
    const wide = (await kubectl('get', 'pod', 'web', '-o', 'wide', '--no-headers')).trim().split(/\s+/);
    expect(wide.slice(0, 4)).toEqual(['web', '1/1', 'Running', '0']);
    expect(wide[5]).toMatch(/^10\.244\.\d+\.\d+$/);
    expect(wide[6]).toBe('n1');
    const status = JSON.parse(await kubectl('get', 'pod', 'web', '-o', 'jsonpath={.status}')) as {
      startTime: string;
      hostIP: string;
      conditions: { type: string; status: string }[];
      containerStatuses: { name: string; ready: boolean; started: boolean; state: { running?: { startedAt: string } } }[];
    };
    expect(status.startTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(status.hostIP).toMatch(/^10\.0\.\d+\.10$/);
    expect(
      status.conditions
        .filter((c) => c.status === 'True')
        .map((c) => c.type)
        .sort(),
    ).toEqual(['ContainersReady', 'Initialized', 'PodReadyToStartContainers', 'Ready']);
    expect(status.containerStatuses).toMatchObject([{ name: 'main', ready: true, started: true, state: { running: {} } }]);
    // kubectl wait and describe read the same fields a real kubelet writes.
    expect(await kubectl('wait', '--for=condition=Ready', 'pod/web', '--timeout=5s')).toContain('condition met');
    expect(await kubectl('describe', 'pod', 'web')).toMatch(/IP:\s+10\.244\.\d+\.\d+[\s\S]*State:\s+Running/);
  });

  it('shows the node with its version, internal IP, OS image, kernel and runtime', async () => {
    const wide = await kubectl('get', 'node', 'n1', '-o', 'wide');
    const [header, row] = wide
      .trim()
      .split('\n')
      .map((line) => line.trim().split(/\s{2,}/));
    const cell = (name: string): string | undefined => row?.[header?.indexOf(name) ?? -1];
    expect(cell('STATUS')).toBe('Ready');
    expect(cell('VERSION')).toBe(KUBELET_VERSION);
    expect(cell('INTERNAL-IP')).toMatch(/^10\.0\.\d+\.10$/);
    expect(cell('OS-IMAGE')).toBe('Tessera simulated node');
    expect(cell('CONTAINER-RUNTIME')).toMatch(/^containerd:\/\//);
    const info = JSON.parse(await kubectl('get', 'node', 'n1', '-o', 'jsonpath={.status.nodeInfo}')) as Record<string, string>;
    expect(info).toMatchObject({ kubeletVersion: KUBELET_VERSION, operatingSystem: 'linux' });
    expect(info.machineID).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('what the simulated kubelet asks its device plugins for', () => {
  it('reads extended resources as the API server returns them, canonical ("19000" comes back "19k")', () => {
    const store = new Store();
    const created = store.create('pods', {
      metadata: { name: 'canonical', namespace: 'default' },
      spec: { containers: [{ name: 'main', image: 'cuda', resources: { limits: { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': '19000', cpu: '2' } } }] },
    });
    expect((created.spec as { containers: Array<{ resources: { limits: Record<string, string> } }> }).containers[0]?.resources.limits['nvidia.com/gpumem']).toBe('19k');
    expect(admissionPodOf(created as V1Pod).containers[0]?.resources).toEqual({ 'nvidia.com/gpu': 1, 'nvidia.com/gpumem': 19000 });
  });
});
