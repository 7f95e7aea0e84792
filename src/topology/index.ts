/**
 * The simulated GPU nodes: the topology model read from ConfigMaps or files (either operator's format), which the
 * fake device-plugin backend, the exporter, local mode and the fake operator share.
 */
export { configMapNode, TopologyStore } from './topology-store.js';
export {
  type ConfigMapData,
  type ContainerRef,
  DEFAULT_DRIVER_VERSION,
  DEFAULT_NODE_POOL_LABEL_KEY,
  type DeviceStatus,
  emptyStatus,
  gpuHealth,
  type GpuTopology,
  type GpuUsage,
  type MigDeviceTopology,
  migOperationsFail,
  NODE_TOPOLOGY_LABEL,
  nodeFromPool,
  type NodeTopology,
  nodeTopologyConfigMapName,
  parseNodeTopology,
  parseTopology,
  parseTopologyFile,
  renderClusterTopology,
  renderNodeTopology,
  renderTopology,
  type Topology,
  TOPOLOGY_CONFIGMAP,
  TOPOLOGY_KEY,
  type UtilizationRange,
} from './topology.js';
