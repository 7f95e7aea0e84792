/**
 * One upstream program of the control plane as a child process: output to a log file (the place to look when it
 * will not start), an early exit reported with that file's last lines, and a stop that escalates from SIGTERM to
 * SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { TesseraError } from '../errors.js';

const STOP_GRACE_MS = 5_000;
const LOG_TAIL_LINES = 30;

export class ComponentProcess {
  private exitCode: number | null | undefined;
  private readonly exited: Promise<void>;

  private constructor(
    readonly name: string,
    readonly logPath: string,
    private readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => ((this.exitCode = code ?? (signal ? -1 : 0)), resolve())));
  }

  static spawn(name: string, binary: string, args: string[], logDir: string, log: Logger): ComponentProcess {
    const logPath = join(logDir, `${name}.log`);
    const out = createWriteStream(logPath, { flags: 'a' });
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
    child.once('error', (error) => log.error({ err: error, component: name }, 'cannot start'));
    const started = new ComponentProcess(name, logPath, child);
    log.debug({ component: name, pid: child.pid, logPath }, 'started');
    return started;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The last lines of its log, for an error message. */
  async logTail(): Promise<string> {
    const text = await readFile(this.logPath, 'utf8').catch(() => '');
    return text.trimEnd().split('\n').slice(-LOG_TAIL_LINES).join('\n');
  }

  /** A failure naming the component, its log file and its last lines. */
  async failure(what: string): Promise<TesseraError> {
    const status = this.running ? 'still running' : `exited with ${this.exitCode}`;
    return new TesseraError('UNAVAILABLE', `${what} (${status}); see ${this.logPath}:\n${await this.logTail()}`, { field: this.name });
  }

  /** Sends a signal without waiting (tests use SIGKILL to crash a component). */
  kill(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }
}
