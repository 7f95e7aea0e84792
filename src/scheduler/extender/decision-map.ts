/**
 * The one place the allocator's `Allocation` and the wire `Decision` meet. They carry the same grant; the
 * decision adds what the wire needs (version, time, signature) and keeps what the device plugin fills in later.
 */
import { type Decision, DECISION_KIND, type DecisionDevice, TESSERA_API_VERSION } from '../../api/index.js';
import type { AllocatedDevice, Allocation } from '../core/index.js';

/** The unsigned decision for an allocation made at `decidedAt` (RFC 3339). */
export function decisionOf(allocation: Allocation, decidedAt: string): Decision {
  return {
    apiVersion: TESSERA_API_VERSION,
    kind: DECISION_KIND,
    pod: { ...allocation.pod },
    node: allocation.node,
    mode: allocation.mode,
    containers: allocation.containers.map((c) => ({
      name: c.name,
      devices: c.devices.map(grantedDevice),
    })),
    resources: { cpuMilli: allocation.cpuMilli, memoryMiB: allocation.memoryMiB },
    decidedAt,
  };
}

/**
 * The granted part of a device, the same in an allocation and in a decision (the device plugin's MIG UUID and
 * GPU-instance ID are left behind: they are not part of the grant).
 */
function grantedDevice(d: AllocatedDevice | DecisionDevice): AllocatedDevice & DecisionDevice {
  return {
    uuid: d.uuid,
    index: d.index,
    memoryMiB: d.memoryMiB,
    cores: d.cores,
    ...(d.mig ? { mig: { profile: d.mig.profile, start: d.mig.start, plan: d.mig.plan.map((op) => ({ ...op })) } } : {}),
  };
}

/** The allocation a decision grants, as the allocator applies it when rebuilding its state. */
export function allocationOf(decision: Decision): Allocation {
  return {
    pod: { ...decision.pod },
    node: decision.node,
    mode: decision.mode,
    cpuMilli: decision.resources?.cpuMilli ?? 0,
    memoryMiB: decision.resources?.memoryMiB ?? 0,
    containers: decision.containers.map((c) => ({
      name: c.name,
      devices: c.devices.map(grantedDevice),
    })),
  };
}
