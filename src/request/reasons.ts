/** Reasons into text, for the edge only (events, logs, the extender's FailedNodes map); the records stay whole. */
import type { Reason } from './types.js';

export function reasonText(reason: Reason): string {
  switch (reason.kind) {
    case 'InvalidRequest':
      return `${reason.field}: ${reason.message}`;
    case 'InsufficientResource':
      return `Insufficient ${reason.resource}: requested ${reason.requested}, used ${reason.used} of ${reason.capacity}`;
    case 'TooFewGpus':
      return `too few GPUs: requested ${reason.requested}, the node has ${reason.usable} usable`;
    case 'ModeMismatch':
      return `pod asks for vgpu-mode ${reason.requested}, the node runs ${reason.node}`;
    case 'NoEligibleGpu':
      return reason.filter === 'health' ? 'no healthy GPU' : `no GPU passes the pod's ${reason.filter} filter`;
    case 'NoMigProfile':
      return `no MIG profile of ${reason.model} holds ${reason.memoryMiB} MiB`;
    case 'UnknownNode':
      return `unknown node ${reason.node}`;
    case 'Inconsistent':
      return `inconsistent state: ${reason.message}`;
  }
}
