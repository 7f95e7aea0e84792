/**
 * `tessera up` as a child process, the way an operator runs it: started with --state, driven through the kubeconfig
 * it writes and the addresses it prints, and killed with SIGKILL when a test plays a crash.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

const ROOT = new URL('../../', import.meta.url).pathname;

/** Two small nodes: one A100-40GB MIG node and one A100-80GB HAMi-core node, two GPUs each. */
export function writeSmallTopology(dir: string): string {
  const path = join(dir, 'topology.yaml');
  writeFileSync(
    path,
    `apiVersion: tessera.io/v1
kind: LocalTopology
nodes:
  - { name: mig-1, mode: mig, gpuProduct: NVIDIA-A100-SXM4-40GB, gpuCount: 2, gpuMemory: 40960, cpu: "96", memory: 1Ti }
  - { name: hami-1, mode: hami-core, gpuProduct: NVIDIA-A100-SXM4-80GB, gpuCount: 2, gpuMemory: 81920, cpu: "64", memory: 512Gi }
`,
  );
  return path;
}

export interface UpProcess {
  child: ChildProcess;
  kubeConfig: KubeConfig;
  extenderUrl: string;
  output: () => string;
}

export async function startUp(dir: string, topology: string): Promise<UpProcess> {
  const kubeconfig = join(dir, 'kubeconfig');
  const args = ['--import', 'tsx', 'src/cli/main.ts', 'up', '--no-demo', '--state', join(dir, 'state.json'), '--topology', topology, '--kubeconfig', kubeconfig, '--host', '127.0.0.1'];
  for (const port of ['--api-port', '--extender-port', '--dashboard-port', '--exporter-port']) args.push(port, '0');
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 60_000;
  while (!/extender\s+(http\S+)/.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`tessera up did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfig);
  return { child, kubeConfig, extenderUrl: /extender\s+(http\S+)/.exec(output)?.[1] ?? '', output: () => output };
}

/** SIGKILL, as a crash: nothing is flushed, nothing is stopped in order. */
export async function killHard(up: UpProcess): Promise<void> {
  if (up.child.exitCode !== null) return;
  const exited = new Promise((resolve) => up.child.once('exit', resolve));
  up.child.kill('SIGKILL');
  await exited;
}

export async function stopGently(up: UpProcess): Promise<void> {
  if (up.child.exitCode !== null) return;
  const exited = new Promise((resolve) => up.child.once('exit', resolve));
  up.child.kill('SIGTERM');
  await exited;
}
