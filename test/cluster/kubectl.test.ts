import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KUBECTL, hasKubectl, kubectlSession } from './helpers.js';

if (!hasKubectl) console.warn(`skipping kubectl tests: ${KUBECTL} not found (CI installs Debian's kubernetes-client; set KUBECTL to another path)`);

const MANIFEST = `apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: main
    image: nginx:1
    env: [{name: MODE, value: "one"}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {level: "1"}
`;

describe.skipIf(!hasKubectl)('kubectl against the embedded cluster', () => {
  const session = kubectlSession('tessera-kubectl-');
  const { kubectl } = session;

  it('applies a manifest, then re-applies a change as a strategic merge patch', async () => {
    // A pod's spec is immutable but for images (as kube-apiserver enforces), so the re-apply changes the image.
    const file = join(session.dir, 'manifest.yaml');
    writeFileSync(file, MANIFEST);
    expect(await kubectl('apply', '-f', file)).toMatch(/pod\/web created[\s\S]*configmap\/settings created/);
    writeFileSync(file, MANIFEST.replace('image: nginx:1', 'image: nginx:1.27'));
    expect(await kubectl('apply', '-f', file)).toMatch(/pod\/web configured[\s\S]*configmap\/settings unchanged/);
    const pod = JSON.parse(await kubectl('get', 'pod', 'web', '-o', 'json')) as { spec: { containers: { image: string; env: unknown[] }[] } };
    expect(pod.spec.containers[0]).toMatchObject({ image: 'nginx:1.27', env: [{ name: 'MODE', value: 'one' }] });
  });

  it('prints server-side tables with the columns kubectl users expect', async () => {
    expect(await kubectl('get', 'pods', '-o', 'wide')).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\nweb\s+0\/1\s+Pending\s+0\s+\d+s\s+<none>\s+<none>\n$/);
    expect(await kubectl('get', 'configmap', 'settings')).toMatch(/^NAME\s+DATA\s+AGE\nsettings\s+1\s+\d+s\n$/);
  });

  it('labels, annotates and patches with all three patch types', async () => {
    await kubectl('label', 'pod', 'web', 'tier=gpu');
    await kubectl('annotate', 'pod', 'web', 'owner=team-a');
    await kubectl('patch', 'pod', 'web', '--type=merge', '-p', '{"metadata":{"labels":{"merge":"yes"}}}');
    await kubectl('patch', 'pod', 'web', '--type=json', '-p', '[{"op":"add","path":"/metadata/labels/json","value":"yes"}]');
    await kubectl('patch', 'pod', 'web', '--type=strategic', '-p', '{"spec":{"containers":[{"name":"main","image":"nginx:2"}]}}');
    const pod = JSON.parse(await kubectl('get', 'pod', 'web', '-o', 'json')) as {
      metadata: { labels: Record<string, string>; annotations: Record<string, string> };
      spec: { containers: { name: string; image: string; env: unknown[] }[] };
    };
    expect(pod.metadata.labels).toEqual({ app: 'web', tier: 'gpu', merge: 'yes', json: 'yes' });
    expect(pod.metadata.annotations.owner).toBe('team-a');
    expect(await kubectl('describe', 'pod', 'web')).toMatch(/Name:\s+web[\s\S]*tier=gpu[\s\S]*owner: team-a/);
    expect(pod.spec.containers.map(({ name, image, env }) => ({ name, image, env }))).toEqual([{ name: 'main', image: 'nginx:2', env: [{ name: 'MODE', value: 'one' }] }]);
  });

  it('get -w sees a change', async () => {
    const watcher = spawn(KUBECTL, ['--kubeconfig', session.kubeconfig, 'get', 'configmaps', '-w', '-o', 'name'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    watcher.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    try {
      for (let i = 0; i < 200 && !out.includes('configmap/settings'); i++) await new Promise((r) => setTimeout(r, 25));
      const late = join(session.dir, 'late.yaml');
      writeFileSync(late, 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: late}\ndata: {a: "1"}\n');
      await kubectl('apply', '-f', late);
      for (let i = 0; i < 200 && !out.includes('configmap/late'); i++) await new Promise((r) => setTimeout(r, 25));
    } finally {
      watcher.kill('SIGTERM');
    }
    expect(out).toContain('configmap/late');
  });

  it('applies back the kind: List that get -o yaml writes', async () => {
    await kubectl('apply', '-f', join(session.dir, 'manifest.yaml'));
    const saved = join(session.dir, 'saved.yaml');
    writeFileSync(saved, await kubectl('get', 'configmap/settings', 'pod/web', '-o', 'yaml'));
    expect(await kubectl('delete', '-f', saved)).toMatch(/configmap "settings" deleted[\s\S]*pod "web" deleted/);
    expect(await kubectl('apply', '-f', saved)).toMatch(/configmap\/settings created[\s\S]*pod\/web created/);
    expect((await kubectl('get', 'configmap', 'settings', '-o', 'jsonpath={.data.level}')).trim()).toBe('1');
  });

  it('deletes and then reports NotFound', async () => {
    expect(await kubectl('delete', 'pod', 'web')).toContain('pod "web" deleted');
    await expect(kubectl('get', 'pod', 'web')).rejects.toThrow(/NotFound|not found/);
  });
});
