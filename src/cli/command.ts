/** One `tessera <name>` subcommand. `run` returns the process exit code: 0 ok, 2 bad input, 1 failure. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  /** Runs until SIGINT or SIGTERM; once `run` returns the process exits, whatever is still open. */
  readonly daemon?: boolean;
  run(argv: string[]): Promise<number>;
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_BAD_INPUT = 2;
