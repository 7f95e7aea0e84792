/**
 * The GPU sharing modes, registered in one place: a node runs one, a pod may ask for one (`nvidia.com/vgpu-mode`).
 * Adding a mode: a folder implementing `SharingMode`, its line here, and its name in the wire contract's
 * `NODE_MODES` (the registry's type demands the line once the name is there).
 */
import type { NodeMode } from '../api/index.js';
import { hamiCoreMode } from './hami-core/index.js';
import { migMode } from './mig/index.js';
import { mpsMode } from './mps/index.js';
import type { ModeFamily, SharingMode } from './types.js';

export type { ContainerGrant, GrantMount, GrantOptions, ModeCount, ModeFamily, ModeMetrics, NodeMetricsInput, SharingHostPaths, SharingMode } from './types.js';
export { MPS_PIPE_DIRECTORY } from './mps/index.js';

export const SHARING_MODES: Readonly<Record<NodeMode, SharingMode>> = {
  'hami-core': hamiCoreMode,
  mig: migMode,
  mps: mpsMode,
};

export const sharingMode = (name: NodeMode): SharingMode => SHARING_MODES[name];

/** Every mode's own metric families of one kind, each once (the exporter and the extender register them). */
export function modeFamilies(kind: 'nodeFamilies' | 'decisionFamilies'): ModeFamily[] {
  const byName = new Map<string, ModeFamily>();
  for (const mode of Object.values(SHARING_MODES)) for (const family of mode.metrics?.[kind] ?? []) byName.set(family.name, family);
  return [...byName.values()];
}

/** HAMi's default host paths. */
export const DEFAULT_SHARING_HOST_PATHS = { hostDir: '/usr/local/vgpu', cacheDir: '/usr/local/vgpu' } as const;
