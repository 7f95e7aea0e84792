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
import { SCHEDULER_OWNED_POD_ANNOTATIONS } from '../api/index.js';
import type { ControlPlane } from '../controlplane/index.js';
import { TesseraError } from '../errors.js';
import { isConflict, withRetry } from '../kube/index.js';

export const WEBHOOK_CONFIGURATION = 'tessera-webhook';

/** HAMi's opt-out label: a namespace or pod labelled `hami.io/webhook=ignore` is not seen at creation. */
const OPT_OUT = { key: 'hami.io/webhook', operator: 'NotIn', values: ['ignore'] };
/** The control plane's own namespace is never seen, so a webhook outage cannot block its pods. */
const EXEMPT_NAMESPACES = { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system'] };

/**
 * CEL that sends an UPDATE to the grant guard only when either version of the pod carries a scheduler-owned
 * annotation: the guard fails closed, and pods without grants must not wait on it.
 */
export const GRANT_GUARD_CONDITION = `[${SCHEDULER_OWNED_POD_ANNOTATIONS.map((k) => `'${k}'`).join(', ')}].exists(k, (has(object.metadata.annotations) && k in object.metadata.annotations) || (has(oldObject.metadata.annotations) && k in oldObject.metadata.annotations))`;

/**
 * The MutatingWebhookConfiguration kube-apiserver follows to call Tessera's webhook at `url` (HTTPS), as the chart
 * ships it (charts/tessera/templates/webhook.yaml): HAMi's pod-creation webhook (failurePolicy Ignore, opt-out
 * labels, kube-system never seen), and Tessera's grant guard on UPDATE, which fails closed and takes no opt-out.
 */
export function webhookConfiguration(url: string, caPem: string): V1MutatingWebhookConfiguration {
  const clientConfig = { url: `${url}/webhook`, caBundle: Buffer.from(caPem).toString('base64') };
  const common = { admissionReviewVersions: ['v1'], sideEffects: 'None', matchPolicy: 'Equivalent', timeoutSeconds: 10, clientConfig };
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: WEBHOOK_CONFIGURATION },
    webhooks: [
      {
        name: 'pods.tessera.io',
        ...common,
        failurePolicy: 'Ignore',
        reinvocationPolicy: 'Never',
        rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: '*' }],
        namespaceSelector: { matchExpressions: [OPT_OUT, EXEMPT_NAMESPACES] },
        objectSelector: { matchExpressions: [OPT_OUT] },
      },
      {
        name: 'grants.tessera.io',
        ...common,
        failurePolicy: 'Fail',
        rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['pods'], scope: '*' }],
        namespaceSelector: { matchExpressions: [EXEMPT_NAMESPACES] },
        matchConditions: [{ name: 'holds-grant-annotations', expression: GRANT_GUARD_CONDITION }],
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

/** Kubernetes' own scheduler profile, which every real cluster runs beside Tessera's. */
const DEFAULT_SCHEDULER_PROFILE = 'default-scheduler';

/**
 * The KubeSchedulerConfiguration at `path` with every extender pointed at `extenderUrl`: the file a real deployment
 * gives kube-scheduler, with one addition: the local control plane has no other scheduler, so this kube-scheduler
 * also runs the default profile. Pods the webhook leaves alone (opted out, or asking for resources Tessera does not
 * serve, such as `nvidia.com/mig-3g.20gb`) are then scheduled, or told why not, as in a real cluster.
 */
export async function schedulerConfigFor(path: string, extenderUrl: string): Promise<string> {
  let config: { extenders?: Array<Record<string, unknown>>; profiles?: Array<Record<string, unknown>> } | null;
  try {
    config = parse(await readFile(path, 'utf8')) as typeof config;
  } catch (cause) {
    throw new TesseraError('INVALID_CONFIG', `cannot be read as YAML (${(cause as Error).message})`, { field: path, cause });
  }
  if (!config?.extenders?.length) throw new TesseraError('INVALID_CONFIG', "names no extender; Tessera is called as kube-scheduler's extender", { field: `${path}.extenders` });
  for (const extender of config.extenders) extender['urlPrefix'] = extenderUrl;
  const profiles = config.profiles ?? [];
  if (!profiles.some((p) => (p['schedulerName'] ?? DEFAULT_SCHEDULER_PROFILE) === DEFAULT_SCHEDULER_PROFILE)) config.profiles = [...profiles, { schedulerName: DEFAULT_SCHEDULER_PROFILE }];
  return stringify(config);
}

/** Starts the stock kube-scheduler on `plane`, calling the extender at `extenderUrl`. */
export async function startKubeScheduler(plane: ControlPlane, schedulerConfigPath: string, extenderUrl: string): Promise<void> {
  await plane.startScheduler(await schedulerConfigFor(schedulerConfigPath, extenderUrl));
}
