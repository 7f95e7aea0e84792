/**
 * An over-commit checker written apart from the allocator: it reads every pod and node through the API server and
 * sums, per GPU, what the pods that may hold devices were granted, from the raw annotation JSON. It shares no code
 * with src/ (not the decision decoder, not the allocator's state), so a bug there cannot hide here.
 *
 * A pod counts as holding its decision when it is bound to a node and not finished, whatever its bind-phase says:
 * a pod that runs holds its devices. MIG memory slices per profile are derived from the profile's memory against
 * the GPU's nominal memory (eight slices per GPU), which holds for the A100 and H100 models the tests use.
 */
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';

interface RawDevice {
  uuid: string;
  memoryMiB: number;
  cores: number;
  mig?: { profile: string; start: number; migDeviceUuid?: string };
}

interface RawGpu {
  uuid: string;
  model: string;
  memoryMiB: number;
  coreUnits: number;
}

export interface CheckReport {
  /** Every violation found, in words (empty: none). */
  overCommits: string[];
  /** Decisions on a pod that name another pod or another node than the one it is bound to. */
  wrongPod: string[];
  /** Pods holding a decision, by node. */
  holders: number;
  /** Every GPU of a MIG node: its model, the pod holding each memory slice ('' when free), compute slices in use. */
  migGpus: Map<string, { model: string; held: string[]; computeUsed: number }>;
}

/** Memory slices a MIG profile (`3g.20gb`) takes on a GPU of `memoryMiB`. */
function migSlices(profile: string, memoryMiB: number): number {
  const gb = Number(/\.(\d+)gb/.exec(profile)?.[1] ?? Number.NaN);
  const nominalGb = Math.round(memoryMiB / 1024 / 10) * 10;
  return Math.round((gb * 8) / nominalGb);
}

export async function checkCluster(kubeConfig: KubeConfig): Promise<CheckReport> {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  const nodes = (await api.listNode()).items;
  const pods = (await api.listPodForAllNamespaces()).items;
  const gpus = new Map<string, RawGpu & { node: string; splitCount: number; mode: string }>();
  for (const node of nodes) {
    const text = node.metadata?.annotations?.['tessera.io/node-inventory'];
    if (!text) continue;
    const inventory = JSON.parse(text) as { mode: string; splitCount: number; gpus: RawGpu[] };
    for (const gpu of inventory.gpus) gpus.set(gpu.uuid, { ...gpu, node: node.metadata?.name ?? '', splitCount: inventory.splitCount, mode: inventory.mode });
  }
  const overCommits: string[] = [];
  const wrongPod: string[] = [];
  const memory = new Map<string, number>();
  const cores = new Map<string, number>();
  const tasks = new Map<string, number>();
  const slices = new Map<string, string[]>();
  const migDevices = new Map<string, string>();
  const compute = new Map<string, number>();
  let holders = 0;
  for (const pod of pods) {
    const nodeName = pod.spec?.nodeName;
    const phase = pod.status?.phase;
    const text = pod.metadata?.annotations?.['tessera.io/decision'];
    if (!nodeName || !text || phase === 'Succeeded' || phase === 'Failed') continue;
    const name = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    const decision = JSON.parse(text) as { pod: { uid: string }; node: string; containers: { devices: RawDevice[] }[] };
    if (decision.pod.uid !== pod.metadata?.uid || decision.node !== nodeName) {
      // Not this pod's grant: a device plugin that works gives it nothing, so it holds nothing; reported anyway.
      wrongPod.push(`${name} carries a decision for pod ${decision.pod.uid} on ${decision.node}`);
      continue;
    }
    holders++;
    for (const device of decision.containers.flatMap((c) => c.devices)) {
      const gpu = gpus.get(device.uuid);
      if (!gpu) {
        overCommits.push(`${name} holds ${device.uuid}, which no inventory lists`);
        continue;
      }
      if (gpu.node !== nodeName) overCommits.push(`${name} on ${nodeName} holds ${device.uuid} of ${gpu.node}`);
      if (device.mig) {
        const count = migSlices(device.mig.profile, gpu.memoryMiB);
        const held = slices.get(device.uuid) ?? Array<string>(8).fill('');
        for (let s = device.mig.start; s < device.mig.start + count; s++) {
          if (s >= 8) overCommits.push(`${name}: ${device.mig.profile}@${device.mig.start} runs past the GPU's 8 slices`);
          else if (held[s]) overCommits.push(`${device.uuid} slice ${s} held by ${held[s]} and ${name}`);
          else held[s] = name;
        }
        slices.set(device.uuid, held);
        compute.set(device.uuid, (compute.get(device.uuid) ?? 0) + Number(/^(\d+)g\./.exec(device.mig.profile)?.[1] ?? 0));
        const mig = device.mig.migDeviceUuid;
        if (mig) {
          const other = migDevices.get(mig);
          if (other) overCommits.push(`MIG device ${mig} held by ${other} and ${name}`);
          migDevices.set(mig, name);
        }
        continue;
      }
      memory.set(device.uuid, (memory.get(device.uuid) ?? 0) + device.memoryMiB);
      cores.set(device.uuid, (cores.get(device.uuid) ?? 0) + device.cores);
      tasks.set(device.uuid, (tasks.get(device.uuid) ?? 0) + 1);
    }
  }
  for (const [uuid, gpu] of gpus) {
    if ((memory.get(uuid) ?? 0) > gpu.memoryMiB) overCommits.push(`${uuid}: ${memory.get(uuid)} MiB granted of ${gpu.memoryMiB}`);
    if ((cores.get(uuid) ?? 0) > gpu.coreUnits) overCommits.push(`${uuid}: ${cores.get(uuid)}% cores granted of ${gpu.coreUnits}`);
    if ((tasks.get(uuid) ?? 0) > gpu.splitCount) overCommits.push(`${uuid}: ${tasks.get(uuid)} tasks of ${gpu.splitCount}`);
  }
  const migGpus = new Map<string, { model: string; held: string[]; computeUsed: number }>();
  for (const [uuid, gpu] of gpus) {
    if (gpu.mode === 'mig') migGpus.set(uuid, { model: gpu.model, held: slices.get(uuid) ?? Array<string>(8).fill(''), computeUsed: compute.get(uuid) ?? 0 });
  }
  return { overCommits, wrongPod, holders, migGpus };
}
