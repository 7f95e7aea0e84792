/**
 * Whether a pod's decision is one the device plugin may act on: well-formed, signed by the scheduler (or by this
 * node's own key, for a grant this plugin exchanged), for
 * this very pod and node, and granting each container exactly the devices its request asks for. Anything else
 * gets nothing. Pure: pod JSON and key in, the verified grant or the reason out.
 */
import { type Decision, type DecisionDevice, decisionSigner, decodeDecision, HAMI_POD, TESSERA_POD, type TrustedKeys } from '../api/index.js';
import { err, ok, type Result } from '../errors.js';
import { sharingMode } from '../modes/index.js';
import { DEFAULT_REQUEST_CONFIG, parsePodRequest, reasonText, type GpuDemand, type RequestConfig } from '../request/index.js';

/** The pod fields read here (a client-node V1Pod fits). */
export interface PodLike {
  metadata?: { uid?: string; name?: string; namespace?: string; annotations?: Record<string, string>; creationTimestamp?: unknown };
  spec?: { nodeName?: string; initContainers?: { name: string; env?: { name: string; value?: string }[] }[]; containers?: { name: string; env?: { name: string; value?: string }[] }[] };
  status?: { phase?: string };
}

export type GrantState = 'allocating' | 'success' | 'failed' | 'none';

/** Where the pod's grant stands, from HAMi's bind-phase annotation. */
export function grantState(pod: PodLike): GrantState {
  const phase = pod.metadata?.annotations?.[HAMI_POD.bindPhase];
  return phase === 'allocating' || phase === 'success' || phase === 'failed' ? phase : 'none';
}

export function verifyGrant(pod: PodLike, node: string, keys: TrustedKeys, config: RequestConfig = DEFAULT_REQUEST_CONFIG): Result<Decision, string> {
  const text = pod.metadata?.annotations?.[TESSERA_POD.decision];
  if (text === undefined) return err('the pod carries no decision');
  let decision: Decision;
  try {
    decision = decodeDecision(text);
  } catch (error) {
    return err((error as Error).message);
  }
  if (decision.pod.uid !== pod.metadata?.uid) return err(`the decision is for pod ${decision.pod.uid}, not ${pod.metadata?.uid ?? '?'}`);
  if (!decisionSigner(decision, keys)) return err('the decision signature does not verify');
  if (decision.node !== node) return err(`the decision is for node ${decision.node}, not ${node}`);
  if (pod.spec?.nodeName !== undefined && pod.spec.nodeName !== node) return err(`the pod is bound to ${pod.spec.nodeName}, not ${node}`);
  const request = parsePodRequest(pod, config);
  if (!request.ok) return err(`the pod's request is invalid: ${reasonText(request.error)}`);
  if (request.value.mode !== null && request.value.mode !== decision.mode) return err(`the pod asks for ${request.value.mode}, the decision grants ${decision.mode}`);
  const asked = request.value.containers;
  if (asked.length !== decision.containers.length) return err(`the pod has ${asked.length} containers, the decision ${decision.containers.length}`);
  for (let i = 0; i < asked.length; i++) {
    const want = asked[i];
    const got = decision.containers[i];
    if (!want || !got || want.name !== got.name) return err(`container ${i} is ${want?.name ?? '?'} in the pod, ${got?.name ?? '?'} in the decision`);
    const count = want.gpu?.count ?? 0;
    if (got.devices.length !== count) return err(`container ${want.name} asks ${count} GPU(s), the decision grants ${got.devices.length}`);
    if (sharingMode(decision.mode).allocation === 'mig' && got.devices.some((d) => !d.mig)) return err(`container ${want.name} is granted a device without a MIG instance on a MIG node`);
    const share = shareMismatch(decision.mode, want.gpu, got.devices);
    if (share) return err(`container ${want.name} ${share}`);
  }
  return ok(decision);
}

/**
 * What a granted device gives that the container did not ask: where the mode enforces cores, the exact cores; on a
 * mode sharing whole GPUs, when the request names MiB, the exact memory; on MIG at least the MiB asked. (A percentage depends on the GPU's memory and the
 * scaling, which the allocator applied.)
 */
function shareMismatch(mode: Decision['mode'], demand: GpuDemand | null, devices: readonly DecisionDevice[]): string | undefined {
  if (!demand) return undefined;
  const mib = 'mib' in demand.memory && demand.memory.mib > 0 ? demand.memory.mib : undefined;
  const { allocation, enforcesCores } = sharingMode(mode);
  for (const d of devices) {
    if (enforcesCores && d.cores !== demand.cores) return `asks ${demand.cores}% of the cores, the decision grants ${d.cores}%`;
    if (mib !== undefined && (allocation === 'shared' ? d.memoryMiB !== mib : d.memoryMiB < mib)) return `asks ${mib} MiB, the decision grants ${d.memoryMiB} MiB`;
  }
  return undefined;
}

/** Containers (by name) that turned HAMi-core off with `CUDA_DISABLE_CONTROL=true`. */
export function controlDisabled(pod: PodLike, container: string): boolean {
  const spec = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find((c) => c.name === container);
  return spec?.env?.some((e) => e.name === 'CUDA_DISABLE_CONTROL' && e.value === 'true') ?? false;
}
