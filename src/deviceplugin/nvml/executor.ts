/**
 * The narrow OS boundary of the nvml backend: run one command with arguments, get its output, or read one small
 * file (sysfs). The real one uses execFile (no shell) with a timeout; a command that fails becomes an error
 * carrying its output, never a crash.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { TesseraError } from '../../errors.js';

export interface CommandOutput {
  stdout: string;
  stderr: string;
}

export interface Executor {
  run(command: string, args: readonly string[]): Promise<CommandOutput>;
  /** The file's text, or undefined when it cannot be read. */
  readFile(path: string): Promise<string | undefined>;
}

/** The error for a command that failed, with what it printed (the driver's reason is in there). */
export function commandError(command: string, args: readonly string[], detail: string, output: CommandOutput): TesseraError {
  const printed = `${output.stdout}\n${output.stderr}`.trim().slice(0, 2000);
  return new TesseraError('UNAVAILABLE', `${[command, ...args].join(' ')} ${detail}${printed ? `: ${printed}` : ''}`);
}

export function execFileExecutor(timeoutMs = 30_000): Executor {
  return {
    run(command, args) {
      return new Promise((resolve, reject) => {
        execFile(command, [...args], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
          if (error) {
            const how = error.killed ? `timed out after ${timeoutMs} ms` : `failed (${error.code ?? error.message})`;
            reject(commandError(command, args, how, { stdout, stderr }));
          } else resolve({ stdout, stderr });
        });
      });
    },
    readFile(path) {
      return readFile(path, 'utf8').catch(() => undefined);
    },
  };
}
