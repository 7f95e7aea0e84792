/**
 * `tessera up --control-plane <bins>`: the local stack on the stock control plane instead of the embedded API
 * server. kube-apiserver calls Tessera's admission webhook (a MutatingWebhookConfiguration with the control plane's
 * CA in its caBundle), the stock kube-scheduler follows the same KubeSchedulerConfiguration file the driver follows
 * in the embedded mode (only the extender's address replaced), and kube-controller-manager runs Deployments and
 * ReplicaSets. The simulated kubelets and device plugins are the same in both modes.
 */
import { readFile } from 'node:fs/promises';
import { AdmissionregistrationV1Api, type KubeConfig, type V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import type { ControlPlane } from '../controlplane/index.js';
import { TesseraError } from '../errors.js';
import { isConflict, withRetry } from '../kube/retry.js';

export const WEBHOOK_CONFIGURATION = 'tessera-webhook';

/** The namespaces the webhook never sees, so a webhook outage cannot block the control plane's own pods. */
const EXEMPT_NAMESPACES = ['kube-system', 'kube-node-lease', 'kube-public'];

/** The MutatingWebhookConfiguration kube-apiserver follows to call Tessera's webhook at `url` (HTTPS). */
export function webhookConfiguration(url: string, caPem: string): V1MutatingWebhookConfiguration {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: WEBHOOK_CONFIGURATION },
    webhooks: [
      {
        name: 'pods.tessera.io',
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        failurePolicy: 'Fail',
        clientConfig: { url: `${url}/webhook`, caBundle: Buffer.from(caPem).toString('base64') },
        rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods'] }],
        namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: EXEMPT_NAMESPACES }] },
      },
    ],
  };
}

export async function registerWebhook(kubeConfig: KubeConfig, url: string, caPem: string): Promise<void> {
  const api = kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  const body = webhookConfiguration(url, caPem);
  try {
    await withRetry(() => api.createMutatingWebhookConfiguration({ body }));
  } catch (error) {
    if (!isConflict(error)) throw error;
    await withRetry(() => api.replaceMutatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION, body }));
  }
}

/**
 * The KubeSchedulerConfiguration at `path` with every extender pointed at `extenderUrl`: the file a real deployment
 * gives kube-scheduler, unchanged otherwise.
 */
export async function schedulerConfigFor(path: string, extenderUrl: string): Promise<string> {
  let config: { extenders?: Array<Record<string, unknown>> } | null;
  try {
    config = parse(await readFile(path, 'utf8')) as typeof config;
  } catch (cause) {
    throw new TesseraError('INVALID_CONFIG', `cannot be read as YAML (${(cause as Error).message})`, { field: path, cause });
  }
  if (!config?.extenders?.length) throw new TesseraError('INVALID_CONFIG', 'names no extender; Tessera is called as kube-scheduler\'s extender', { field: `${path}.extenders` });
  for (const extender of config.extenders) extender['urlPrefix'] = extenderUrl;
  return stringify(config);
}

/** Starts the stock kube-scheduler on `plane`, calling the extender at `extenderUrl`. */
export async function startKubeScheduler(plane: ControlPlane, schedulerConfigPath: string, extenderUrl: string): Promise<void> {
  await plane.startScheduler(await schedulerConfigFor(schedulerConfigPath, extenderUrl));
}
