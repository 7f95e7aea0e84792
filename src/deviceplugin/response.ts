/**
 * What a container is told by Allocate, from the devices it was granted: the node's sharing mode (src/modes) says
 * the environment and mounts; this wraps them in kubelet's message. Pure.
 */
import type { DecisionDevice, NodeMode } from '../api/index.js';
import { DEFAULT_SHARING_HOST_PATHS, sharingMode, type SharingHostPaths } from '../modes/index.js';
import type { ContainerAllocateResponse } from './api.js';

/** The response for one container; `cacheKey` names its shared-memory cache file (stable per container grant). */
export function containerResponse(mode: NodeMode, devices: readonly DecisionDevice[], options: { controlDisabled: boolean; cacheKey: string; paths?: SharingHostPaths }): ContainerAllocateResponse {
  const { envs, mounts } = sharingMode(mode).grant(devices, { controlDisabled: options.controlDisabled, cacheKey: options.cacheKey, paths: options.paths ?? DEFAULT_SHARING_HOST_PATHS });
  return { envs, mounts: [...mounts], devices: [], annotations: {}, cdi_devices: [] };
}
