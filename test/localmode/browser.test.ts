/**
 * The dashboard in a real browser: `tessera up` started in-process (demo on), headless Chromium driven by
 * playwright-core loads the page, which must show the default topology, then a pod applied with the real kubectl
 * must appear on the page without a reload. A screenshot is written under the OS temp dir for review.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalCluster, type LocalCluster } from '../../src/localmode/up.js';
import { ephemeralUpOptions } from './options.js';

const CHROMIUM = '/usr/bin/chromium';
const run = promisify(execFile);
const missing = [
  existsSync(CHROMIUM) ? undefined : `${CHROMIUM} (apt-get install chromium)`,
  await run('kubectl', ['version', '--client']).then(
    () => undefined,
    () => 'kubectl (apt-get install kubernetes-client)',
  ),
].filter(Boolean);
if (missing.length > 0) console.warn(`skipping the dashboard browser test: missing ${missing.join(', ')}; .ci/run installs them`);

let dir: string;
let local: LocalCluster;
let browser: Browser;
let page: Page;

describe.skipIf(missing.length > 0)('dashboard in a browser', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-browser-'));
    local = await startLocalCluster(ephemeralUpOptions(dir, { demo: true }));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  });

  afterAll(async () => {
    await browser?.close();
    await local?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('shows the default topology and its headline figures', async () => {
    await page.goto(local.urls.dashboard);
    await page.locator('#connection[data-state="live"]').waitFor();
    const names = await page.locator('article.node').evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-node')));
    expect(names).toEqual(local.topology.nodes.map((n) => n.name).sort());
    expect(await page.locator('[data-figure="nodes"] .value').textContent()).toBe(String(local.topology.nodes.length));
    for (const id of ['allocation', 'fragmentation', 'rate', 'p99']) expect(await page.locator(`[data-figure="${id}"] .value`).textContent()).not.toBe('');
  });

  it('updates live when a pod is applied with kubectl', async () => {
    // Twelve whole GPUs on one node: valid (the admission webhook lets it in), but no node has that many.
    const file = join(dir, 'too-wide.yaml');
    await writeFile(file, 'apiVersion: v1\nkind: Pod\nmetadata: {name: too-wide, namespace: default}\nspec:\n  containers: [{name: app, image: busybox, resources: {limits: {nvidia.com/gpu: 12}}}]\n');
    await run('kubectl', ['--kubeconfig', local.kubeconfigPath, 'apply', '-f', file]);
    const entry = page.locator('[data-pending="default/too-wide"]');
    await entry.waitFor({ timeout: 10_000 });
    await expect.poll(() => entry.locator('.reason').textContent(), { timeout: 10_000 }).toContain('too few GPUs: requested 12');
    const screenshot = join(tmpdir(), 'tessera-dashboard.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(`dashboard screenshot: ${screenshot}`);
  });
});
