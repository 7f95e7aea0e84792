/**
 * The Helm chart is plain templates with value substitution only, so this renders it by hand (no helm binary)
 * and checks that it agrees with the rest of the repository: every value referenced exists, every template
 * renders to valid YAML, the embedded KubeSchedulerConfiguration matches config/scheduler-config.yaml, and the
 * extender's arguments are flags `tessera scheduler` accepts.
 */
import { spawnSync } from 'node:child_process';
import { linkSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { parseDevicePluginFlags } from '../../../src/cli/commands/device-plugin.js';
import { parseExporterFlags } from '../../../src/cli/commands/exporter.js';
import { DEFAULT_SHARING_HOST_PATHS } from '../../../src/modes/index.js';
import { webhookConfiguration } from '../../../src/localmode/control-plane-mode.js';
import { FLAG_NAMES } from '../../../src/scheduler/extender/config.js';

const root = resolve(import.meta.dirname, '../../..');
const chart = join(root, 'charts/tessera');
const values = parse(readFileSync(join(chart, 'values.yaml'), 'utf8')) as Record<string, unknown>;
const NAMESPACE = 'gpu-system';

function lookup(path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], values);
}

function render(template: string): string {
  return template
    .split('\n')
    .filter((line) => !/^\s*\{\{-? (if|end)\b.*\}\}\s*$/.test(line))
    .join('\n')
    .replace(/\{\{ \.Release\.Namespace \}\}/g, NAMESPACE)
    .replace(/\{\{ \.Values\.([\w.]+) \}\}/g, (_m, path: string) => {
      const value = lookup(path);
      if (value === undefined) throw new Error(`.Values.${path} is not in values.yaml`);
      return typeof value === 'string' && value === '' ? '""' : String(value);
    });
}

const templates = readdirSync(join(chart, 'templates')).map((file) => ({ file, rendered: render(readFileSync(join(chart, 'templates', file), 'utf8')) }));
const objects = templates.flatMap(({ file, rendered }) =>
  parseAllDocuments(rendered).map((doc) => {
    expect(doc.errors, file).toEqual([]);
    return doc.toJS() as { kind: string; metadata: { name: string }; data?: Record<string, string>; spec?: unknown };
  }),
);
const find = (kind: string, name: string): (typeof objects)[number] => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`${kind}/${name} not in the chart`);
  return found;
};

describe('helm chart', () => {
  it('renders every template to YAML with no leftover template syntax', () => {
    for (const { file, rendered } of templates) expect(rendered, file).not.toMatch(/\{\{/);
    expect(objects.map((o) => o.kind)).toEqual(expect.arrayContaining(['Deployment', 'DaemonSet', 'ClusterRole', 'ConfigMap', 'MutatingWebhookConfiguration']));
  });

  it('embeds the same KubeSchedulerConfiguration as config/scheduler-config.yaml, calling the extender beside it on loopback', () => {
    type Extender = { urlPrefix: string } & Record<string, unknown>;
    const shipped = parse(readFileSync(join(root, 'config/scheduler-config.yaml'), 'utf8')) as { extenders: Extender[] } & Record<string, unknown>;
    const embedded = parse(find('ConfigMap', 'tessera-scheduler-config').data?.['scheduler-config.yaml'] ?? '') as { extenders: Extender[] } & Record<string, unknown>;
    const withoutUrl = (list: Extender[]): unknown[] => list.map(({ urlPrefix: _url, ...rest }) => rest);
    expect(withoutUrl(embedded.extenders)).toEqual(withoutUrl(shipped.extenders));
    // The sidecar model: the extender port is on loopback, never in the Service.
    expect(embedded.extenders[0]?.urlPrefix).toBe(`http://127.0.0.1:${String(lookup('scheduler.extenderPort'))}`);
    const service = find('Service', 'tessera-scheduler') as { spec: { ports: Array<{ name: string; port: number }> } };
    expect(service.spec.ports.map((p) => p.name)).toEqual(['https']);
    expect(embedded.profiles).toEqual(shipped.profiles);
    expect(embedded.percentageOfNodesToScore).toBe(100);
  });

  it("ships the webhooks tessera up --control-plane registers: HAMi's on CREATE (Ignore, opt-out labels), the grant guard on UPDATE", () => {
    type Hook = { name: string; clientConfig: unknown; namespaceSelector: { matchExpressions: Array<{ key: string; values: string[] }> } } & Record<string, unknown>;
    const shipped = (find('MutatingWebhookConfiguration', 'tessera-webhook') as unknown as { webhooks: Hook[] }).webhooks;
    const local = webhookConfiguration('https://127.0.0.1:1', 'CA').webhooks as unknown as Hook[];
    // The chart also keeps its own release namespace out; the local stack runs outside the cluster.
    const comparable = (hooks: Hook[], extraNamespace?: string): unknown[] =>
      hooks.map(({ clientConfig: _c, namespaceSelector, ...rest }) => ({
        ...rest,
        namespaceSelector: { matchExpressions: namespaceSelector.matchExpressions.map((e) => ({ ...e, values: e.values.filter((v) => v !== extraNamespace) })) },
      }));
    expect(comparable(shipped, NAMESPACE)).toEqual(comparable(local));
    expect(shipped.map((h) => [h.name, h.failurePolicy])).toEqual([
      ['pods.tessera.io', 'Ignore'],
      ['grants.tessera.io', 'Fail'],
    ]);
    expect(shipped[0]?.namespaceSelector.matchExpressions.find((e) => e.key === 'kubernetes.io/metadata.name')?.values).toEqual(['kube-system', NAMESPACE]);
  });

  it('passes the extender only flags it knows, on the port kube-scheduler calls', () => {
    const deployment = find('Deployment', 'tessera-scheduler') as { spec: { template: { spec: { containers: Array<{ name: string; args?: string[]; ports?: Array<{ containerPort: number }> }> } } } };
    const extender = deployment.spec.template.spec.containers.find((c) => c.name === 'extender');
    const flags = (extender?.args ?? []).filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=')[0]);
    for (const flag of flags) expect(FLAG_NAMES, flag).toContain(flag);
    expect(extender?.ports?.map((p) => p.containerPort)).toEqual([lookup('webhook.port')]);
    expect(extender?.args).toContain(`--webhook-port=${String(lookup('webhook.port'))}`);
    expect(extender?.args).toContain('--host=127.0.0.1');
    // Only the webhook port is open to other pods; device plugins take no ingress.
    const policy = find('NetworkPolicy', 'tessera-scheduler') as { spec: { ingress: Array<{ ports: Array<{ port: number }> }> } };
    expect(policy.spec.ingress.flatMap((rule) => rule.ports.map((p) => p.port))).toEqual([lookup('webhook.port')]);
    expect(find('NetworkPolicy', 'tessera-device-plugin')).toMatchObject({ spec: { policyTypes: ['Ingress'] } });
  });

  it("runs the device plugin with flags it accepts, holding only the scheduler's public key", () => {
    const daemonSet = find('DaemonSet', 'tessera-device-plugin') as { spec: { template: { spec: { containers: Array<{ args: string[] }> } } } };
    const args = daemonSet.spec.template.spec.containers[0]?.args ?? [];
    expect(args[0]).toBe('device-plugin');
    // The device config the DaemonSet mounts from the chart's ConfigMap, read from a folder of ours.
    const deviceConfig = find('ConfigMap', 'tessera-device-config') as unknown as { data: Record<string, string> };
    const mounted = mkdtempSync(join(tmpdir(), 'tessera-chart-'));
    writeFileSync(join(mounted, 'device-config.yaml'), deviceConfig.data['device-config.yaml'] ?? '');
    const flags = parseDevicePluginFlags(
      args.slice(1).map((a) => a.replace('=/device-config/', `=${mounted}/`)),
      { NODE_NAME: 'gpu-1' },
    );
    expect(flags.schedulerPublicKeyConfigmap).toBe(`${NAMESPACE}/${String(lookup('schedulerPublicKeyConfigMap'))}`);
    expect(args.join(' ')).not.toMatch(/signing-key/);
    // The signing key's Secret is readable by the scheduler's service account alone.
    const binding = find('RoleBinding', 'tessera-signing-key') as unknown as { subjects: Array<{ name: string }> };
    expect(binding.subjects.map((s) => s.name)).toEqual(['tessera-scheduler']);
  });

  it("runs the exporter on the device plugin's nodes, reaching the GPUs as it does, with flags it accepts", () => {
    type Pod = { nodeSelector: unknown; tolerations: unknown; serviceAccountName: string; containers: Array<{ args: string[]; securityContext: unknown; ports: Array<{ containerPort: number }> }> };
    const podOf = (name: string): Pod => (find('DaemonSet', name) as unknown as { spec: { template: { spec: Pod } } }).spec.template.spec;
    const exporter = podOf('tessera-exporter');
    const plugin = podOf('tessera-device-plugin');
    expect([exporter.nodeSelector, exporter.tolerations, exporter.containers[0]?.securityContext]).toEqual([plugin.nodeSelector, plugin.tolerations, plugin.containers[0]?.securityContext]);
    const [command, ...args] = exporter.containers[0]?.args ?? [];
    expect(command).toBe('exporter');
    const flags = parseExporterFlags(args, { NODE_NAME: 'gpu-1' });
    expect(flags.nvml).toEqual({ node: 'gpu-1', pollMs: Number(lookup('exporter.pollIntervalSeconds')) * 1000 });
    expect(exporter.containers[0]?.ports.map((p) => p.containerPort)).toEqual([flags.port]);
    const role = find('ClusterRole', 'tessera-exporter') as unknown as { rules: Array<{ resources: string[]; verbs: string[] }> };
    expect(role.rules.flatMap((r) => r.verbs)).not.toEqual(expect.arrayContaining(['patch']));
    expect(find('ClusterRoleBinding', 'tessera-exporter')).toMatchObject({ subjects: [{ name: exporter.serviceAccountName }] });
  });

  it('puts HAMi-core where Allocate mounts it from, renaming a changed library into place, never writing over one in use', () => {
    type Container = { name: string; image: string; command: string[]; volumeMounts: Array<{ name: string; mountPath: string }> };
    type PodSpec = { initContainers: Container[]; volumes: Array<{ name: string; hostPath?: { path: string } }> };
    const spec = (find('DaemonSet', 'tessera-device-plugin') as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
    const init = spec.initContainers.find((c) => c.name === 'hami-core');
    if (!init) throw new Error('no hami-core init container');
    const volume = init.volumeMounts.find((m) => m.mountPath === DEFAULT_SHARING_HOST_PATHS.hostDir)?.name;
    expect(spec.volumes.find((v) => v.name === volume)?.hostPath?.path).toBe(DEFAULT_SHARING_HOST_PATHS.hostDir);
    const [shell, dashC, script = '', name = '', source, target] = init.command;
    expect([shell, dashC, source, target]).toEqual(['/bin/sh', '-c', lookup('devicePlugin.hamiCore.sourceDir'), DEFAULT_SHARING_HOST_PATHS.hostDir]);
    // The script itself, on folders of ours standing in for the image's and the node's.
    const image = mkdtempSync(join(tmpdir(), 'tessera-image-'));
    const host = mkdtempSync(join(tmpdir(), 'tessera-host-'));
    const run = () => spawnSync('/bin/sh', ['-c', script, name, image, host], { encoding: 'utf8' });
    const install = (): string => {
      const result = run();
      expect(result.status, result.stderr).toBe(0);
      return result.stdout;
    };
    expect(run()).toMatchObject({ status: 1, stderr: `hami-core: no libvgpu.so in ${image}\n` });
    writeFileSync(join(image, 'libvgpu.so'), 'v1');
    install();
    expect(readFileSync(join(host, 'libvgpu.so'), 'utf8')).toBe('v1');
    expect(readFileSync(join(host, 'ld.so.preload'), 'utf8')).toBe('/usr/local/vgpu/libvgpu.so\n');
    const loaded = statSync(join(host, 'libvgpu.so')).ino;
    expect(install()).toBe('');
    expect(statSync(join(host, 'libvgpu.so')).ino).toBe(loaded);
    // A container that loaded v1 keeps it (the old inode, linked here as it would be mapped there).
    linkSync(join(host, 'libvgpu.so'), join(host, 'in-use'));
    writeFileSync(join(image, 'libvgpu.so'), 'v2');
    expect(install()).toMatch(/installed .*libvgpu\.so/);
    expect(readFileSync(join(host, 'libvgpu.so'), 'utf8')).toBe('v2');
    expect(readFileSync(join(host, 'in-use'), 'utf8')).toBe('v1');
  });
});
