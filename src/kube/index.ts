/** Kubernetes client helpers: informers, a cluster watch, the Binding, label patches, events, retries, leader election. */
export { postBinding } from './binding.js';
export { makeKeepAliveClient } from './client.js';
export { type ClusterWatch, timestampMs, watchCluster, type WatchedObject } from './cluster-watch.js';
export { recordEvent } from './events.js';
export { runInformer, type RunningInformer } from './informer.js';
export { KubeJsonClient, type KubeJsonClientOptions } from './json-client.js';
export { labelPatch } from './labels.js';
export { type LeaderElector, startLeaderElection } from './leader-election.js';
export { collectReplyBody } from './reply-body.js';
export { isConflict, isNotFound, readModifyWrite, resolvesWithin, withRetry } from './retry.js';
export { KeyedWorkQueue, type KeyedWorkQueueOptions } from './work-queue.js';
