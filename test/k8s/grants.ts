/**
 * An over-commit check written apart from the allocator: it reads what the API server holds (each live pod's
 * decision and each node's inventory) and sums per GPU. A HAMi-core GPU may not be over its memory, its cores or
 * its split count; a MIG instance (a GPU and a placement start) may not be held by two pods.
 */
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { TESSERA_NODE, TESSERA_POD } from '../../src/api/annotations.js';
import { decodeDecision } from '../../src/api/decision.js';
import { decodeInventory } from '../../src/api/inventory.js';

export interface GrantCount {
  /** Live pods holding a decision. */
  granted: number;
  violations: string[];
}

export function checkGrants(nodes: readonly V1Node[], pods: readonly V1Pod[]): GrantCount {
  const violations: string[] = [];
  const gpus = new Map<string, { memoryMiB: number; splitCount: number; mode: string }>();
  for (const node of nodes) {
    const text = node.metadata?.annotations?.[TESSERA_NODE.inventory];
    if (!text) continue;
    const inventory = decodeInventory(text);
    for (const gpu of inventory.gpus) gpus.set(`${inventory.node}/${gpu.uuid}`, { memoryMiB: gpu.memoryMiB, splitCount: inventory.splitCount, mode: inventory.mode });
  }
  const used = new Map<string, { memoryMiB: number; cores: number; tasks: number }>();
  const migHolders = new Map<string, string>();
  let granted = 0;
  for (const pod of pods) {
    const phase = pod.status?.phase;
    const text = pod.metadata?.annotations?.[TESSERA_POD.decision];
    if (!text || phase === 'Succeeded' || phase === 'Failed') continue;
    granted++;
    const decision = decodeDecision(text);
    const who = `${decision.pod.namespace}/${decision.pod.name}`;
    if (pod.spec?.nodeName && pod.spec.nodeName !== decision.node) violations.push(`${who} runs on ${pod.spec.nodeName} with a decision for ${decision.node}`);
    for (const device of decision.containers.flatMap((c) => c.devices)) {
      const key = `${decision.node}/${device.uuid}`;
      if (device.mig) {
        const instance = `${key}@${device.mig.start}`;
        const holder = migHolders.get(instance);
        if (holder !== undefined) violations.push(`MIG instance ${instance} held by ${holder} and ${who}`);
        migHolders.set(instance, who);
        continue;
      }
      const sum = used.get(key) ?? { memoryMiB: 0, cores: 0, tasks: 0 };
      sum.memoryMiB += device.memoryMiB;
      sum.cores += device.cores;
      sum.tasks += 1;
      used.set(key, sum);
    }
  }
  for (const [key, sum] of used) {
    const gpu = gpus.get(key);
    if (!gpu) violations.push(`${key} is granted but no node reports it`);
    else if (sum.memoryMiB > gpu.memoryMiB || sum.cores > 100 || sum.tasks > gpu.splitCount) violations.push(`${key} over-committed: ${JSON.stringify(sum)} of ${JSON.stringify(gpu)}`);
  }
  return { granted, violations };
}
