/**
 * The status updater's decision, pure: given a node's configured topology, the Node's labels and annotations and
 * the pods on it, the topology that node should have now. Statuses are rebuilt from scratch every time (the
 * status updater owns them), so the result depends only on the inputs and replays cleanly after a restart.
 *
 * MIG instances come from, in order: the device plugin's `tessera.io/node-inventory` (what exists), run:ai's
 * `run.ai/mig.config` + `run.ai/mig-mapping` (seed 000), or the topology as configured. Pod use comes from
 * Tessera's `tessera.io/decision` (per container, per device) or run:ai's `runai-mig-device`.
 */
import { type Decision, decodeDecision, decodeInventory, TESSERA_NODE, TESSERA_POD } from '../api/index.js';
import { TesseraError } from '../errors.js';
import { RUNAI, parseMigConfig, parseMigMapping, parsePodMigDevice } from './runai.js';
import { emptyStatus, type ContainerRef, type DeviceStatus, type GpuTopology, type MigDeviceTopology, type NodeTopology } from '../topology/index.js';
import { podUtilization } from './utilization.js';
import type { MigProfileLookup } from '../geometry/index.js';

export interface NodeFacts {
  name: string;
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
}

export interface PodFacts {
  uid: string;
  namespace: string;
  name: string;
  /** App container names in spec order. */
  containers: readonly string[];
  annotations: Readonly<Record<string, string>>;
  /** When the pod started running (ms since epoch); null while it is not running. */
  runningSinceMs: number | null;
}

export interface ReconcileInputs {
  base: NodeTopology;
  node: NodeFacts;
  /** Pods bound to this node. */
  pods: readonly PodFacts[];
  nowMs: number;
  profiles: MigProfileLookup;
}

export interface ReconcileResult {
  topology: NodeTopology;
  /** Inputs that were ignored, each naming the object and field (the caller logs them). */
  problems: TesseraError[];
  /** Milliseconds until a utilization schedule changes a value; null when none will. */
  nextChangeMs: number | null;
}

/** Seed 000: a node is dynamic-MIG when both run:ai labels are `true`; otherwise the topology says. */
function dynamicMig(base: NodeTopology, node: NodeFacts): boolean {
  const labelled = node.labels[RUNAI.dynamicMigLabel] === 'true' && node.labels[RUNAI.migEnabledLabel] === 'true';
  return labelled || base.dynamicMig;
}

function freshDevice(profile: string, position: number | null, id: string | null, gpuInstanceId: number | null): MigDeviceTopology {
  return { id, profile, position, gpuInstanceId, status: emptyStatus() };
}

/** The MIG instances of each GPU (by index) from the best source the node offers. */
function migDevicesOf(inputs: ReconcileInputs, problems: TesseraError[]): MigDeviceTopology[][] {
  const { base, node } = inputs;
  const inventoryText = node.annotations[TESSERA_NODE.inventory];
  if (inventoryText !== undefined) {
    try {
      const inventory = decodeInventory(inventoryText);
      const byUuid = new Map(inventory.gpus.map((g) => [g.uuid, g]));
      return base.gpus.map((gpu) => (byUuid.get(gpu.id)?.mig.instances ?? []).map((i) => freshDevice(i.profile, i.start, i.migDeviceUuid, i.gpuInstanceId)));
    } catch (error) {
      problems.push(annotate(error, `node ${node.name}`));
    }
  }
  const configText = node.annotations[RUNAI.migConfig];
  if (configText !== undefined) {
    try {
      const instances = parseMigConfig(configText, base.gpus.length);
      const mappingText = node.annotations[RUNAI.migMapping];
      const mapping = mappingText === undefined ? [] : parseMigMapping(mappingText);
      return base.gpus.map((_, index) =>
        instances
          .filter((i) => i.gpuIndex === index)
          .map((i) => {
            // Seed 000: instances exist without IDs until the mapping names them by GPU index and position.
            const mapped = mapping.find((m) => m.gpuIndex === index && m.position === i.position);
            return freshDevice(i.profile, i.position, mapped?.deviceUuid ?? null, mapped?.gpuInstanceId ?? null);
          }),
      );
    } catch (error) {
      problems.push(annotate(error, `node ${node.name}`));
    }
  }
  return base.gpus.map((gpu) => gpu.migDevices.map((m) => freshDevice(m.profile, m.position, m.id, m.gpuInstanceId)));
}

function annotate(error: unknown, where: string): TesseraError {
  if (!(error instanceof TesseraError)) throw error;
  return new TesseraError(error.code, `${where}: ${error.message}`, { cause: error, ...(error.field ? { field: error.field } : {}) });
}

/** One device's use by one container, waiting to be placed on a GPU or MIG instance. */
interface Use {
  gpu: GpuTopology;
  mig: MigDeviceTopology | null;
  key: string;
  owner: ContainerRef;
  memoryMiB: number;
}

function decisionUses(pod: PodFacts, decision: Decision, gpus: readonly GpuTopology[], problems: TesseraError[]): Use[] {
  const uses: Use[] = [];
  const gpuContainers = decision.containers.filter((c) => c.devices.length > 0).length;
  for (const container of decision.containers) {
    for (const device of container.devices) {
      const gpu = gpus.find((g) => g.id === device.uuid);
      const field = `pod ${pod.namespace}/${pod.name}`;
      if (!gpu) {
        problems.push(new TesseraError('INVALID_INPUT', `${field}: GPU ${device.uuid} is not in the node's topology`, { field: TESSERA_POD.decision }));
        continue;
      }
      let mig: MigDeviceTopology | null = null;
      if (device.mig) {
        const want = device.mig;
        mig =
          gpu.migDevices.find((m) => want.migDeviceUuid !== undefined && m.id === want.migDeviceUuid) ?? gpu.migDevices.find((m) => m.profile === want.profile && m.position === want.start) ?? null;
        if (!mig) {
          problems.push(new TesseraError('INVALID_INPUT', `${field}: MIG ${want.profile}@${want.start} does not exist on ${gpu.id} yet`, { field: TESSERA_POD.decision }));
          continue;
        }
      }
      uses.push({
        gpu,
        mig,
        key: gpuContainers > 1 ? `${pod.uid}/${container.name}` : pod.uid,
        owner: { namespace: pod.namespace, pod: pod.name, container: container.name },
        memoryMiB: device.memoryMiB,
      });
    }
  }
  return uses;
}

function runaiUses(pod: PodFacts, text: string, gpus: readonly GpuTopology[], inputs: ReconcileInputs): Use[] {
  const device = parsePodMigDevice(text);
  const gpu = gpus[device.gpuIndex];
  const mig = gpu?.migDevices.find((m) => device.deviceUuid !== null && m.id === device.deviceUuid) ?? gpu?.migDevices.find((m) => m.position === device.position && m.profile === device.profile);
  if (!gpu || !mig) {
    throw new TesseraError('INVALID_INPUT', `pod ${pod.namespace}/${pod.name}: no MIG instance ${device.profile} at GPU ${device.gpuIndex} position ${device.position}`, {
      field: RUNAI.podMigDevice,
    });
  }
  const container = pod.containers[0] ?? '';
  return [{ gpu, mig, key: pod.uid, owner: { namespace: pod.namespace, pod: pod.name, container }, memoryMiB: inputs.profiles(inputs.base.gpuProduct, mig.profile)?.memoryMiB ?? 0 }];
}

function usesOf(pod: PodFacts, gpus: readonly GpuTopology[], inputs: ReconcileInputs, problems: TesseraError[]): Use[] {
  try {
    const decisionText = pod.annotations[TESSERA_POD.decision];
    if (decisionText !== undefined) {
      const decision = decodeDecision(decisionText);
      if (decision.pod.uid !== pod.uid || decision.node !== inputs.node.name) {
        throw new TesseraError('INVALID_INPUT', `pod ${pod.namespace}/${pod.name}: the decision is for another pod or node`, { field: TESSERA_POD.decision });
      }
      return decisionUses(pod, decision, gpus, problems);
    }
    const runai = pod.annotations[RUNAI.podMigDevice];
    return runai === undefined ? [] : runaiUses(pod, runai, gpus, inputs);
  } catch (error) {
    problems.push(annotate(error, `pod ${pod.namespace}/${pod.name}`));
    return [];
  }
}

function usedMiB(status: DeviceStatus): number {
  return Object.values(status.usage).reduce((sum, u) => sum + u.fbUsedMiB, 0);
}

/** The topology the node should have now. */
export function reconcileNode(inputs: ReconcileInputs): ReconcileResult {
  const { base, nowMs } = inputs;
  const problems: TesseraError[] = [];
  const migDevices = migDevicesOf(inputs, problems);
  const gpus: GpuTopology[] = base.gpus.map((gpu, i) => ({ ...gpu, status: emptyStatus(), migDevices: migDevices[i] ?? [] }));
  const anyMig = gpus.some((g) => g.migDevices.length > 0);
  let nextChangeMs: number | null = null;
  for (const pod of inputs.pods) {
    if (pod.runningSinceMs === null) continue;
    const uses = usesOf(pod, gpus, inputs, problems);
    if (uses.length === 0) continue;
    const now = podUtilization(pod.annotations, nowMs - pod.runningSinceMs);
    if (now.problem) problems.push(annotate(now.problem, `pod ${pod.namespace}/${pod.name}`));
    if (now.nextChangeMs !== null) nextChangeMs = Math.min(nextChangeMs ?? Infinity, now.nextChangeMs);
    for (const use of uses) {
      const status = use.mig?.status ?? use.gpu.status;
      // Never record more memory than the GPU has: a topology smaller than the decision would be rejected.
      const room = base.gpuMemoryMiB - usedMiB(use.gpu.status) - use.gpu.migDevices.reduce((sum, m) => sum + usedMiB(m.status), 0);
      status.allocatedBy ??= use.owner;
      status.usage[use.key] = { utilization: now.utilization, fbUsedMiB: Math.max(0, Math.min(use.memoryMiB, room)), isInferencePod: false, allocatedBy: use.owner };
    }
  }
  return {
    topology: {
      ...base,
      dynamicMig: dynamicMig(base, inputs.node),
      // MIG instances reported on a node configured without MIG mean the node runs MIG now.
      migStrategy: anyMig && base.migStrategy === 'none' ? 'mixed' : base.migStrategy,
      gpus,
    },
    problems,
    nextChangeMs,
  };
}
