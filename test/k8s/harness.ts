/**
 * What the real-Kubernetes suite shares: where the upstream binaries are (scripts/k8s-bins.sh builds them into a
 * cache outside the repository), `tessera` run as a child process the way an operator runs it, kubectl, and polling.
 * Without the binaries the suite skips with one line, except in CI (`CI` set), where that is a failure.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { locateBinaries } from '../../src/controlplane/index.js';
import { PACKAGE_ROOT } from '../../src/localmode/up.js';

const run = promisify(execFile);

function findBinaries(): string | undefined {
  const found = locateBinaries();
  if (found) return found;
  if (process.env['CI']) throw new Error('the control-plane binaries are missing in CI: .ci/run must run scripts/k8s-bins.sh first');
  console.warn('test/k8s: skipped: no control-plane binaries (run scripts/k8s-bins.sh, which needs Go, then npm run test:k8s)');
  return undefined;
}

/** The folder of upstream binaries, or undefined (the suite skips). */
export const K8S_BIN = findBinaries();

export async function kubectl(kubeconfig: string, args: string[], input?: string): Promise<string> {
  const binary = K8S_BIN ? join(K8S_BIN, 'kubectl') : 'kubectl';
  if (input === undefined) return (await run(binary, ['--kubeconfig', kubeconfig, ...args], { maxBuffer: 64 << 20 })).stdout;
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['--kubeconfig', kubeconfig, ...args]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`kubectl ${args.join(' ')} exited ${code}: ${err}`))));
    child.stdin.end(input);
  });
}

export async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value).slice(0, 800)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export interface TesseraProcess {
  child: ChildProcess;
  /** Its exit code once it exits (null: killed by a signal). */
  exited: Promise<number | null>;
  output(): string;
  /** Resolves once `marker` appears in its stdout. */
  waitFor(marker: string | RegExp, timeoutMs?: number): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `tessera <args>` as a child process (through tsx, as `npm run tessera` does). */
export function startTessera(args: string[], env: NodeJS.ProcessEnv = {}): TesseraProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(PACKAGE_ROOT, 'src/cli/main.ts'), ...args], { cwd: PACKAGE_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    output: () => `${stdout}\n--- stderr ---\n${stderr.slice(-20_000)}`,
    async waitFor(marker, timeoutMs = 180_000) {
      const deadline = Date.now() + timeoutMs;
      while (!(typeof marker === 'string' ? stdout.includes(marker) : marker.test(stdout))) {
        if (child.exitCode !== null) throw new Error(`tessera ${args[0]} exited ${child.exitCode} before '${marker}':\n${stdout}\n${stderr.slice(-5000)}`);
        if (Date.now() > deadline) throw new Error(`tessera ${args[0]} did not print '${marker}' in ${timeoutMs / 1000} s:\n${stdout}\n${stderr.slice(-5000)}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}
