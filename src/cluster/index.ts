/** The embedded cluster's public surface. See docs/cluster.md. */
export { EmbeddedCluster, type EmbeddedClusterOptions } from './cluster.js';
export { Store, type KubeObject, type ObjectMeta, type ListOptions, type ListResult, type WatchEvent, type TypeRef } from './store.js';
export { Faults, type FailureSpec, type RequestMatch, type Verb } from './faults.js';
export { KubeStatusError, type StatusBody, type StatusReason } from './status.js';
export { RESOURCE_TYPES, type ResourceType } from './resources.js';
export { EMBEDDED_USER } from './admission.js';
