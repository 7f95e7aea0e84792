/**
 * Init containers that hold GPUs. kubelet allocates them first, in order, then the app containers, so a decision
 * lists them first (HAMi's order) and the ledger's positions follow kubelet's calls. But kubelet's pod-resources
 * record lists app containers (and restartable init containers, "sidecars") only: what an init container held is
 * read from the chain of handouts instead (`Ledger.learn`). Pure.
 */
import type { Decision } from '../api/index.js';
import type { PodResources } from './api.js';

/** The pod fields read here (a client-node V1Pod fits). */
export interface InitContainersLike {
  spec?: { initContainers?: readonly { name: string; restartPolicy?: string }[] };
}

/** Names of the pod's init containers that kubelet's pod-resources record does not list (all but sidecars). */
export function unlistedInitContainers(pod: InitContainersLike | undefined): Set<string> {
  return new Set((pod?.spec?.initContainers ?? []).filter((c) => c.restartPolicy !== 'Always').map((c) => c.name));
}

/**
 * Per GPU container of `decision` (in order), the device IDs of `resource` kubelet lists for it, or null for an
 * init container it does not list.
 */
export function listedDeviceIds(decision: Decision, unlisted: ReadonlySet<string>, entry: PodResources, resource: string): (string[] | null)[] {
  return decision.containers
    .filter((c) => c.devices.length > 0)
    .map((c) =>
      unlisted.has(c.name)
        ? null
        : (entry.containers
            .find((x) => x.name === c.name)
            ?.devices.filter((d) => d.resource_name === resource)
            .flatMap((d) => d.device_ids) ?? []),
    );
}
