/** The kubelet device-plugin daemon (gRPC over unix sockets), its GPU backends and HAMi's node registration. */
export {
  type AllocateResponse,
  type ContainerAllocateResponse,
  DEFAULT_DEVICE_PLUGIN_DIR,
  DEFAULT_POD_RESOURCES_SOCKET,
  type Device,
  type DevicePluginOptions,
  HEALTHY,
  KUBELET_SOCKET,
  kubeletApis,
  type ListAndWatchResponse,
  type ListPodResourcesResponse,
  type PreferredAllocationResponse,
  type RegisterRequest,
  unixTarget,
} from './api.js';
export type { GpuBackend } from './backend.js';
export { FakeBackend, type TopologySource } from './fake-backend.js';
export { filteredBackend, hamiNodeSettings } from './hami-node-config.js';
export { HamiRegistrar } from './hami-register.js';
export { DevicePluginDaemon } from './plugin.js';
