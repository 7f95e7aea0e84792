/** Small facts about Pod objects that the driver, the mirror and the dashboard all need. */
import type { V1Pod } from '@kubernetes/client-node';

/** `namespace/name`, the key pods are queued, mirrored and shown by. */
export const podKey = (pod: V1Pod): string => `${pod.metadata?.namespace ?? 'default'}/${pod.metadata?.name ?? ''}`;

/** A pod that has run to completion or failed; it holds nothing any more. */
export const isFinished = (pod: V1Pod): boolean => pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
