/**
 * Device plugin: kubelet's allocation round trips over the unix socket (GetPreferredAllocation then Allocate, as
 * kubelet makes them for a one-GPU container), with many identical pods in flight on one node, so each answer
 * goes through the ledger and the identity is learned afterwards from the pod-resources API. Also the end-to-end
 * rate: pods bound at once until every one is Running and recorded.
 */
import { credentials } from '@grpc/grpc-js';
import { kubeletApis, unixTarget, type PreferredAllocationResponse } from '../src/deviceplugin/api.js';
import { admissionPodOf } from '../src/kubelet/kubelet.js';
import { TestNode, settled } from '../test/deviceplugin/harness.js';
import { measureAsync, percentile, type BenchResult, type BenchSuite } from './harness.js';

const GPUS = 8;
const SPLIT = 20;
const PODS = GPUS * SPLIT;

async function preparedPods(node: TestNode, prefix: string, count: number) {
  const pods = [];
  for (let i = 0; i < count; i++) pods.push((await node.createDecided(node.podJson(`${prefix}-${i}`, [{ gpus: 1, memoryMiB: 1000, cores: 5 }]))).pod);
  return pods;
}

async function allocateRoundTrips(): Promise<BenchResult[]> {
  const node = await TestNode.start({ mode: 'hami-core', gpus: GPUS, splitCount: SPLIT, kubeletAdmits: false });
  try {
    const pods = await preparedPods(node, 'rt', PODS);
    await Promise.all(pods.map((p) => node.bind(p)));
    const preferred = await preferredRoundTrips(node);
    const samples: number[] = [];
    const start = performance.now();
    for (const pod of pods) {
      const t0 = performance.now();
      await node.kubelet.devices.admit(admissionPodOf(pod));
      samples.push(performance.now() - t0);
    }
    const elapsed = performance.now() - start;
    samples.sort((a, b) => a - b);
    return [
      preferred,
      {
        name: 'deviceplugin: kubelet admission (GetPreferredAllocation+Allocate, recording alongside)',
        opsPerSec: Math.round((PODS / elapsed) * 1000),
        p50Ms: percentile(samples, 50),
        p99Ms: percentile(samples, 99),
        extra: { pods: PODS, gpus: GPUS },
      },
    ];
  } finally {
    await node.stop();
  }
}

/** The plugin's answer path alone: GetPreferredAllocation resolves through the ledger and changes nothing. */
async function preferredRoundTrips(node: TestNode): Promise<BenchResult> {
  const client = new (kubeletApis().DevicePlugin)(unixTarget(node.daemon.socketPath), credentials.createInsecure());
  const call = client.GetPreferredAllocation as (request: object, callback: (error: Error | null, response?: PreferredAllocationResponse) => void) => void;
  const available = node.kubelet.devices.devices('nvidia.com/gpu').map((d) => d.ID);
  const request = { container_requests: [{ available_deviceIDs: available, must_include_deviceIDs: [], allocation_size: 1 }] };
  try {
    const result = await measureAsync(
      'deviceplugin: GetPreferredAllocation round trip (unix socket, 160 pods in flight)',
      () => new Promise((resolve, reject) => call.call(client, request, (error, response) => (error ? reject(error) : resolve(response)))),
    );
    return { ...result, extra: { pods: PODS } };
  } finally {
    client.close();
  }
}

async function endToEnd(): Promise<BenchResult> {
  const node = await TestNode.start({ mode: 'hami-core', gpus: GPUS, splitCount: SPLIT });
  try {
    const pods = await preparedPods(node, 'e2e', PODS);
    const start = performance.now();
    await Promise.all(pods.map((p) => node.bind(p)));
    await Promise.all(pods.map((p) => node.waitFor(p.metadata?.name ?? '', settled, 60_000)));
    const elapsed = performance.now() - start;
    return { name: 'deviceplugin: pods bound at once -> all Running and recorded', opsPerSec: Math.round((PODS / elapsed) * 1000), extra: { pods: PODS, seconds: (elapsed / 1000).toFixed(2) } };
  } finally {
    await node.stop();
  }
}

export const devicePluginBench: BenchSuite = {
  name: 'deviceplugin',
  async run() {
    return [...(await allocateRoundTrips()), await endToEnd()];
  },
};
