/**
 * `tessera device-plugin --backend fake` as a process: it reads the fake operator's topology ConfigMaps, registers
 * with a (simulated) kubelet, advertises the GPUs and publishes the node inventory; SIGTERM stops it cleanly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateSigningKey, nodeKeyAnnotation, privateKeyFromPem, publicKeyPem } from '../../src/api/signing.js';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TESSERA_NODE } from '../../src/api/annotations.js';
import { decodeInventory } from '../../src/api/inventory.js';
import { EmbeddedCluster } from '../../src/cluster/index.js';
import { nodeFromPool, renderTopology } from '../../src/topology/topology.js';
import { SimKubelet } from '../../src/kubelet/kubelet.js';
import { eventually } from '../scheduler/extender/cluster-harness.js';
import { log } from './harness.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('tessera device-plugin (process)', () => {
  let cluster: EmbeddedCluster;
  let kubelet: SimKubelet;
  let child: ChildProcess;
  let dir: string;
  let output = '';

  beforeAll(async () => {
    cluster = await EmbeddedCluster.start();
    const api = cluster.kubeConfig().makeApiClient(CoreV1Api);
    await api.createNode({ body: { metadata: { name: 'gpu-node-1' } } });
    await api.createNamespace({ body: { metadata: { name: 'gpu-operator' } } });
    const pool = { gpuProduct: 'NVIDIA-H100-80GB-HBM3', gpuCount: 2, gpuMemoryMiB: 81_559, driverVersion: '550.54.15', migStrategy: 'none' as const, dynamicMig: false };
    const maps = renderTopology({ migStrategy: 'none', nodePoolLabelKey: 'run.ai/simulated-gpu-node-pool', nodePools: { default: pool }, nodes: { 'gpu-node-1': nodeFromPool('gpu-node-1', pool) } });
    await api.createNamespacedConfigMap({ namespace: 'gpu-operator', body: { metadata: { name: 'topology' }, data: maps.cluster } });
    for (const [node, data] of Object.entries(maps.nodes)) await api.createNamespacedConfigMap({ namespace: 'gpu-operator', body: { metadata: { name: `topology-${node}` }, data } });
    dir = mkdtempSync('/tmp/tdc-');
    await cluster.writeKubeconfig(join(dir, 'kubeconfig'));
    // Only the scheduler's public key reaches a node (PEM, as `openssl pkey -pubout` writes it).
    writeFileSync(join(dir, 'scheduler.pub'), publicKeyPem(generateSigningKey()));
    kubelet = new SimKubelet({ node: 'gpu-node-1', kubeConfig: cluster.kubeConfig(), deviceDir: join(dir, 'dp'), podResourcesSocket: join(dir, 'pr.sock'), log });
    await kubelet.start();
    const args = [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'device-plugin',
      '--node',
      'gpu-node-1',
      '--backend',
      'fake',
      '--topology-namespace',
      'gpu-operator',
      '--kubeconfig',
      join(dir, 'kubeconfig'),
      '--scheduler-public-key-file',
      join(dir, 'scheduler.pub'),
      '--node-key-file',
      join(dir, 'node-key.pem'),
      '--device-plugin-dir',
      join(dir, 'dp'),
      '--pod-resources-socket',
      join(dir, 'pr.sock'),
      '--state-file',
      join(dir, 'state.json'),
    ];
    child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  });

  afterAll(async () => {
    if (child?.exitCode === null) child.kill('SIGKILL');
    await kubelet?.stop();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("registers, advertises the topology's GPUs, publishes the inventory, and stops on SIGTERM", async () => {
    await kubelet.devices.waitForDevices('nvidia.com/gpu', 20, 20_000).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\n${output}`);
    });
    expect(kubelet.devices.devices('nvidia.com/gpu')).toHaveLength(20);
    const api = cluster.kubeConfig().makeApiClient(CoreV1Api);
    const inventory = await eventually(
      'the inventory',
      () => api.readNode({ name: 'gpu-node-1' }).then((n) => n.metadata?.annotations?.[TESSERA_NODE.inventory]),
      (text) => text !== undefined,
    );
    expect(decodeInventory(inventory ?? '').gpus.map((g) => g.model)).toEqual(['NVIDIA-H100-80GB-HBM3', 'NVIDIA-H100-80GB-HBM3']);
    // Its own key pair: created 0600 on first start, the public half published on its Node.
    expect(statSync(join(dir, 'node-key.pem')).mode & 0o777).toBe(0o600);
    const published = (await api.readNode({ name: 'gpu-node-1' })).metadata?.annotations?.[TESSERA_NODE.publicKey];
    expect(published).toBe(nodeKeyAnnotation(privateKeyFromPem(readFileSync(join(dir, 'node-key.pem')), 'node-key')));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 30_000);
});
