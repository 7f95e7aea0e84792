/**
 * Every annotation and label name the Tessera daemons read or write, in one place. HAMi's names are kept verbatim
 * so that manifests and tooling written for HAMi keep working; Tessera's own records are versioned JSON under
 * `tessera.io/`.
 */

import { HAMI_MIG_ALLOCATIONS } from './hami-register.js';

/** Pod annotations HAMi writes when it binds a pod; Tessera writes the same, in HAMi's formats. */
export const HAMI_POD = {
  /** The node the pod was bound to. */
  vgpuNode: 'hami.io/vgpu-node',
  /** When the decision was made (Unix seconds, as a decimal string). */
  vgpuTime: 'hami.io/vgpu-time',
  /** Devices the device plugin should hand out: see `encodeHamiDevices`. */
  devicesToAllocate: 'hami.io/vgpu-devices-to-allocate',
  /** Devices granted, same format. */
  devicesAllocated: 'hami.io/vgpu-devices-allocated',
  /** `allocating` from bind until the device plugin confirms, then `success`; `failed` when bind gave up. */
  bindPhase: 'hami.io/bind-phase',
  /** When the bind phase last changed (Unix seconds, as a decimal string). */
  bindTime: 'hami.io/bind-time',
} as const;

export const BIND_PHASES = ['allocating', 'success', 'failed'] as const;
export type BindPhase = (typeof BIND_PHASES)[number];

/** Pod annotations users write to steer placement (HAMi's names). */
export const USER_POD = {
  vgpuMode: 'nvidia.com/vgpu-mode',
  useGpuType: 'nvidia.com/use-gputype',
  noUseGpuType: 'nvidia.com/nouse-gputype',
  useGpuUuid: 'nvidia.com/use-gpuuuid',
  noUseGpuUuid: 'nvidia.com/nouse-gpuuuid',
  nodeSchedulerPolicy: 'hami.io/node-scheduler-policy',
  gpuSchedulerPolicy: 'hami.io/gpu-scheduler-policy',
} as const;

/** Tessera's own records. */
export const TESSERA_POD = {
  /** The full, signed scheduling decision (`src/api/decision.ts`, versioned JSON). */
  decision: 'tessera.io/decision',
  /** Why the last bind failed, for `kubectl describe` readers (free text; the Event carries the same). */
  bindError: 'tessera.io/bind-error',
  /** The signed statement that the pod's grant is over (`signing.ts` signRelease); bind-phase=failed counts only with it. */
  release: 'tessera.io/release',
} as const;

export const TESSERA_NODE = {
  /** The node's GPUs as the device plugin sees them (`src/api/inventory.ts`, versioned JSON). */
  inventory: 'tessera.io/node-inventory',
  /** The node's device-plugin public key (base64 DER SPKI), which verifies what that plugin signs for its node. */
  publicKey: 'tessera.io/node-public-key',
} as const;

/**
 * Annotations only the scheduler and the device plugins may set on a pod. The admission webhook strips them from
 * pods users create and refuses changes to them by anyone else, and the daemons trust them only with a valid
 * signature.
 */
export const SCHEDULER_OWNED_POD_ANNOTATIONS: readonly string[] = [
  HAMI_POD.vgpuNode,
  HAMI_POD.vgpuTime,
  HAMI_POD.devicesToAllocate,
  HAMI_POD.devicesAllocated,
  HAMI_POD.bindPhase,
  HAMI_POD.bindTime,
  HAMI_MIG_ALLOCATIONS,
  TESSERA_POD.decision,
  TESSERA_POD.bindError,
  TESSERA_POD.release,
];

/** The API version every Tessera JSON annotation carries. */
export const TESSERA_API_VERSION = 'tessera.io/v1';

/** Node operating modes (HAMi's `operatingmode` values). */
export const NODE_MODES = ['hami-core', 'mig', 'mps'] as const;
export type NodeMode = (typeof NODE_MODES)[number];
