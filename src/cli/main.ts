#!/usr/bin/env node
import { TesseraError } from '../errors.js';
import { EXIT_BAD_INPUT, EXIT_FAILURE, type Command } from './command.js';
import { clusterCommand, configCommand, devicePluginCommand, exporterCommand, migCommand, schedulerCommand, simulateCommand, statusUpdaterCommand, upCommand } from './commands/index.js';

/** Every subcommand, in the order `tessera help` lists them. */
const COMMANDS: Command[] = [upCommand, simulateCommand, migCommand, configCommand, clusterCommand, statusUpdaterCommand, exporterCommand, schedulerCommand, devicePluginCommand];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length), 4);
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return ['Usage: tessera <command> [options]', '', 'Commands:', ...lines, '', 'Run `tessera <command> --help` for its options.'].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    console.log(usage());
    return name === undefined ? EXIT_BAD_INPUT : 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    console.error(`tessera: unknown command '${name}'\n\n${usage()}`);
    return EXIT_BAD_INPUT;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.usage);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof TesseraError) {
      console.error(`tessera ${name}: ${error.message}\n  hint: ${error.hint}`);
      return error.status < 500 ? EXIT_BAD_INPUT : EXIT_FAILURE;
    }
    console.error(`tessera ${name}: unexpected failure:`, error);
    return EXIT_FAILURE;
  }
}

const argv = process.argv.slice(2);
process.exitCode = await main(argv);
// A daemon has stopped in order, or given up after its grace period: a request still open (an API server that
// stopped answering) must not keep the process alive.
if (COMMANDS.some((c) => c.daemon && c.name === argv[0])) process.exit();
