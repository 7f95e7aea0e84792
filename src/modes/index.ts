/**
 * The GPU sharing modes, registered in one place: a node runs one, a pod may ask for one (`nvidia.com/vgpu-mode`).
 * Adding a mode: a folder implementing `SharingMode`, its line here, and its name in the wire contract's
 * `NODE_MODES` (the registry's type demands the line once the name is there).
 */
import type { NodeMode } from '../api/index.js';
import { hamiCoreMode } from './hami-core/index.js';
import { migMode } from './mig/index.js';
import { mpsMode } from './mps/index.js';
import type { SharingMode } from './types.js';

export type { ContainerGrant, GrantMount, GrantOptions, SharingHostPaths, SharingMode } from './types.js';
export { MPS_PIPE_DIRECTORY } from './mps/index.js';

export const SHARING_MODES: Readonly<Record<NodeMode, SharingMode>> = {
  'hami-core': hamiCoreMode,
  mig: migMode,
  mps: mpsMode,
};

export const sharingMode = (name: NodeMode): SharingMode => SHARING_MODES[name];

/** HAMi's default host paths. */
export const DEFAULT_SHARING_HOST_PATHS = { hostDir: '/usr/local/vgpu', cacheDir: '/usr/local/vgpu' } as const;
