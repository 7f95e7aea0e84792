/**
 * Recording core/v1 Events about an object. Every daemon reports what it did to a pod (or a ConfigMap) this way, so
 * `kubectl describe` shows it; an Event that cannot be written is logged and never fails the caller's work.
 */
import type { CoreV1Api } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { withRetry } from './retry.js';

export interface EventSubject {
  kind: string;
  name: string;
  namespace: string;
  uid?: string;
}

export interface EventRecord {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  /** The reporting daemon, e.g. `tessera-scheduler`. */
  component: string;
  /** Milliseconds since the epoch: daemons pass their injected clock. */
  at: number;
}

export async function recordEvent(api: CoreV1Api, subject: EventSubject, event: EventRecord, log: Logger): Promise<void> {
  const stamp = new Date(event.at);
  try {
    await withRetry(() =>
      api.createNamespacedEvent({
        namespace: subject.namespace,
        body: {
          metadata: { generateName: `${subject.name}.`, namespace: subject.namespace },
          involvedObject: { kind: subject.kind, apiVersion: 'v1', name: subject.name, namespace: subject.namespace, uid: subject.uid ?? '' },
          type: event.type,
          reason: event.reason,
          message: event.message,
          source: { component: event.component },
          reportingComponent: event.component,
          firstTimestamp: stamp,
          lastTimestamp: stamp,
          count: 1,
        },
      }),
    );
  } catch (error) {
    log.warn({ err: error, object: `${subject.kind}/${subject.namespace}/${subject.name}`, reason: event.reason }, 'could not record an event');
  }
}
