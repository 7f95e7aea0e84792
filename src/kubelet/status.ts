/**
 * What a real kubelet writes into the API server besides the pod phase: a running pod's IPs, start time,
 * container statuses and readiness conditions (so `kubectl get pods` shows READY 1/1), and its node's addresses,
 * node info and kubelet endpoint (so `kubectl get nodes -o wide` shows VERSION, INTERNAL-IP, OS and runtime).
 * Addresses are made up but stable: 10.0.x.y for a node, 10.244.x.y for its pods, x from the node's name. Pure.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { createHash } from 'node:crypto';

/** The Kubernetes version the simulated kubelet reports, the embedded API server's minor. */
export const KUBELET_VERSION = 'v1.32.0';
const RUNTIME_VERSION = 'containerd://1.7.24';

/** RFC 3339 with seconds, as Kubernetes writes Time fields. */
const timestamp = (date: Date): string => `${date.toISOString().slice(0, 19)}Z`;

/** One byte from the node's name: its subnet in the made-up addresses. */
const subnetOf = (node: string): number => createHash('sha256').update(node).digest()[0]!;

const nodeAddress = (node: string): string => `10.0.${subnetOf(node)}.10`;

/** The pod's address on `node`: the `sequence`th pod it started, cycling through 254 host numbers. */
const podAddress = (node: string, sequence: number): string => `10.244.${subnetOf(node)}.${(sequence % 254) + 1}`;

/**
 * Status for a pod whose containers all started (strategic merge patch: conditions merge by type, so the
 * scheduler's PodScheduled stays).
 */
export function runningPodStatus(pod: V1Pod, node: string, sequence: number, now: Date): Record<string, unknown> {
  const podIP = podAddress(node, sequence);
  const hostIP = nodeAddress(node);
  const time = timestamp(now);
  const condition = (type: string): object => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: time });
  return {
    phase: 'Running',
    conditions: ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady'].map(condition),
    hostIP,
    hostIPs: [{ ip: hostIP }],
    podIP,
    podIPs: [{ ip: podIP }],
    startTime: time,
    containerStatuses: (pod.spec?.containers ?? []).map((container) => {
      const id = createHash('sha256')
        .update(`${pod.metadata?.uid ?? ''}/${container.name}`)
        .digest('hex');
      return {
        name: container.name,
        image: container.image ?? '',
        imageID: '',
        containerID: `containerd://${id}`,
        ready: true,
        started: true,
        restartCount: 0,
        state: { running: { startedAt: time } },
      };
    }),
  };
}

/** What the kubelet posts about its node (merge patch: capacity, conditions and the rest are left as they are). */
export function nodeInfoStatus(node: string, host: { kernel: string; os: string; arch: string }): Record<string, unknown> {
  const machine = createHash('sha256').update(`machine/${node}`).digest('hex').slice(0, 32);
  return {
    addresses: [
      { type: 'InternalIP', address: nodeAddress(node) },
      { type: 'Hostname', address: node },
    ],
    daemonEndpoints: { kubeletEndpoint: { port: 10250 } },
    nodeInfo: {
      machineID: machine,
      systemUUID: `${machine.slice(0, 8)}-${machine.slice(8, 12)}-${machine.slice(12, 16)}-${machine.slice(16, 20)}-${machine.slice(20, 32)}`,
      bootID: createHash('sha256').update(`boot/${node}`).digest('hex').slice(0, 32),
      kernelVersion: host.kernel,
      osImage: 'Tessera simulated node',
      containerRuntimeVersion: RUNTIME_VERSION,
      kubeletVersion: KUBELET_VERSION,
      kubeProxyVersion: KUBELET_VERSION,
      operatingSystem: host.os,
      architecture: host.arch,
    },
  };
}
