/**
 * The dashboard's view model: a pure function of the Nodes (with their inventory annotation), the Pods (with their
 * decision annotation) and the driver's figures. Nothing here reads a clock or the network; the server feeds it
 * whatever the informers hold and sends the result to the page as JSON.
 *
 * Headline figures, in GPU units (one GPU = 1):
 * - allocation ratio = sum over healthy GPUs of the share held by pods / healthy GPUs. A MIG GPU's share is the
 *   memory slices of instances held by pods / its memory slices; a shared GPU's (HAMi-core, MPS) is
 *   max(memory granted / memory, cores granted / core units), capped at 1.
 * - fragmentation = free share on GPUs that are partly held / free share on all healthy GPUs: the part of the free
 *   capacity a whole-GPU pod cannot use (0 when nothing is free).
 */
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { type Decision, decodeDecision, decodeInventory, type InventoryGpu, type NodeMode, TESSERA_NODE, TESSERA_POD } from '../../api/index.js';
import { catalogProfiles, resolveGpuModel } from '../../geometry/index.js';
import { sharingMode } from '../../modes/index.js';
import { isFinished, podKey } from '../pods.js';
import type { DriverStats } from '../stats.js';

export interface InstanceView {
  profile: string;
  start: number;
  /** Memory slices it covers. */
  size: number;
  /** `namespace/name` of the pod holding it, or null. */
  pod: string | null;
  /** `creating`: granted to a pod, not yet reported by the device plugin. */
  state: 'in-use' | 'idle' | 'creating';
}

export interface ShareView {
  pod: string;
  memoryMiB: number;
  cores: number;
}

interface GpuCommon {
  index: number;
  uuid: string;
  model: string;
  memoryMiB: number;
  healthy: boolean;
  /** Share of the GPU held by pods, 0..1 (see the module comment). */
  allocated: number;
}

export type GpuViewModel = (GpuCommon & { kind: 'mig'; slices: number; instances: InstanceView[] }) | (GpuCommon & { kind: 'shared'; coreUnits: number; shares: ShareView[] });

export interface NodeViewModel {
  name: string;
  /** null until the node's inventory can be read. */
  mode: NodeMode | null;
  ready: boolean;
  /** Why the node's GPUs cannot be shown (no or bad inventory annotation). */
  problem: string | null;
  gpus: GpuViewModel[];
}

export interface PendingViewModel {
  pod: string;
  reason: string;
}

export interface Headline {
  nodes: number;
  gpus: number;
  /** Pods bound to a node and not finished. */
  placedPods: number;
  pendingPods: number;
  allocationRatio: number;
  fragmentation: number;
  decisionsPerSecond: number;
  p99DecisionMs: number | null;
}

export interface DashboardView {
  headline: Headline;
  nodes: NodeViewModel[];
  pending: PendingViewModel[];
  /** Pods whose decision annotation cannot be read, and pods their kubelet refused, with why. */
  problems: string[];
}

interface Grant {
  pod: string;
  decision: Decision;
}

/** Decisions of the live pods bound to each node. */
function grantsByNode(pods: readonly V1Pod[], problems: string[]): Map<string, Grant[]> {
  const byNode = new Map<string, Grant[]>();
  for (const pod of pods) {
    const text = pod.metadata?.annotations?.[TESSERA_POD.decision];
    const node = pod.spec?.nodeName;
    if (!text || !node || isFinished(pod)) continue;
    try {
      const decision = decodeDecision(text);
      byNode.set(node, [...(byNode.get(node) ?? []), { pod: podKey(pod), decision }]);
    } catch (error) {
      problems.push(`${podKey(pod)}: ${(error as Error).message}`);
    }
  }
  return byNode;
}

function migGpu(gpu: InventoryGpu, grants: readonly Grant[]): GpuViewModel {
  const model = resolveGpuModel(gpu.model);
  const slices = (model.ok ? model.value.mig?.totalMemorySlices : undefined) ?? 0;
  // An instance of a profile the catalog does not know is drawn one slice wide.
  const size = (profile: string): number => catalogProfiles(gpu.model, profile)?.memorySlices ?? 1;
  const holders = new Map<string, string>();
  for (const { pod, decision } of grants) {
    for (const device of decision.containers.flatMap((c) => c.devices)) {
      if (device.uuid === gpu.uuid && device.mig) holders.set(`${device.mig.profile}@${device.mig.start}`, pod);
    }
  }
  const instances: InstanceView[] = gpu.mig.instances.map((i) => {
    const pod = holders.get(`${i.profile}@${i.start}`) ?? null;
    holders.delete(`${i.profile}@${i.start}`);
    return { profile: i.profile, start: i.start, size: size(i.profile), pod, state: pod ? 'in-use' : 'idle' };
  });
  for (const [placement, pod] of holders) {
    const [profile = '', start = '0'] = placement.split('@');
    instances.push({ profile, start: Number(start), size: size(profile), pod, state: 'creating' });
  }
  instances.sort((a, b) => a.start - b.start);
  const held = instances.filter((i) => i.pod !== null).reduce((sum, i) => sum + i.size, 0);
  return { ...common(gpu, slices > 0 ? Math.min(1, held / slices) : 0), kind: 'mig', slices, instances };
}

function sharedGpu(gpu: InventoryGpu, grants: readonly Grant[]): GpuViewModel {
  const shares: ShareView[] = [];
  for (const { pod, decision } of grants) {
    for (const device of decision.containers.flatMap((c) => c.devices)) {
      if (device.uuid === gpu.uuid) shares.push({ pod, memoryMiB: device.memoryMiB, cores: device.cores });
    }
  }
  const memory = shares.reduce((sum, s) => sum + s.memoryMiB, 0) / gpu.memoryMiB;
  const cores = shares.reduce((sum, s) => sum + s.cores, 0) / gpu.coreUnits;
  return { ...common(gpu, Math.min(1, Math.max(memory, cores))), kind: 'shared', coreUnits: gpu.coreUnits, shares };
}

function common(gpu: InventoryGpu, allocated: number): GpuCommon {
  return { index: gpu.index, uuid: gpu.uuid, model: gpu.model, memoryMiB: gpu.memoryMiB, healthy: gpu.health === 'Healthy', allocated };
}

function nodeView(node: V1Node, grants: readonly Grant[]): NodeViewModel {
  const name = node.metadata?.name ?? '';
  const ready = (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
  const text = node.metadata?.annotations?.[TESSERA_NODE.inventory];
  if (!text) return { name, mode: null, ready, problem: 'no GPU inventory published yet', gpus: [] };
  try {
    const inventory = decodeInventory(text);
    const mig = sharingMode(inventory.mode).allocation === 'mig';
    const gpus = inventory.gpus.map((gpu) => (mig ? migGpu(gpu, grants) : sharedGpu(gpu, grants)));
    return { name, mode: inventory.mode, ready, problem: null, gpus };
  } catch (error) {
    return { name, mode: null, ready, problem: (error as Error).message, gpus: [] };
  }
}

/** The reason a pending pod waits: its PodScheduled=False message, else the driver's last failure, else none yet. */
function pendingReason(pod: V1Pod, stats: DriverStats): string {
  const condition = (pod.status?.conditions ?? []).find((c) => c.type === 'PodScheduled' && c.status === 'False');
  return condition?.message ?? stats.failures[podKey(pod)] ?? 'waiting for its first scheduling attempt';
}

export function dashboardView(nodes: readonly V1Node[], pods: readonly V1Pod[], stats: DriverStats): DashboardView {
  const problems: string[] = [];
  const grants = grantsByNode(pods, problems);
  const nodeViews = nodes.map((node) => nodeView(node, grants.get(node.metadata?.name ?? '') ?? []));
  const healthy = nodeViews.flatMap((n) => n.gpus).filter((g) => g.healthy);
  const free = (g: GpuViewModel): number => 1 - g.allocated;
  const freeTotal = healthy.reduce((sum, g) => sum + free(g), 0);
  const freeStranded = healthy.filter((g) => g.allocated > 0).reduce((sum, g) => sum + free(g), 0);
  const pending = pods.filter((p) => !p.spec?.nodeName && !p.metadata?.deletionTimestamp && !isFinished(p));
  return {
    headline: {
      nodes: nodeViews.length,
      gpus: healthy.length,
      placedPods: pods.filter((p) => p.spec?.nodeName && !isFinished(p)).length,
      pendingPods: pending.length,
      allocationRatio: healthy.length > 0 ? healthy.reduce((sum, g) => sum + g.allocated, 0) / healthy.length : 0,
      fragmentation: freeTotal > 0 ? freeStranded / freeTotal : 0,
      decisionsPerSecond: stats.decisionsPerSecond,
      p99DecisionMs: stats.p99DecisionMs,
    },
    nodes: nodeViews,
    pending: pending.map((pod) => ({ pod: podKey(pod), reason: pendingReason(pod, stats) })).sort((a, b) => a.pod.localeCompare(b.pod)),
    problems: [...problems, ...pods.filter((p) => p.status?.phase === 'Failed' && p.status.reason).map((p) => `${podKey(p)}: ${p.status?.reason}: ${p.status?.message ?? ''}`)],
  };
}
