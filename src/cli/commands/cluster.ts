/** `tessera cluster`: runs the embedded Kubernetes API server on its own until SIGINT or SIGTERM. */
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { EmbeddedCluster } from '../../cluster/index.js';
import { TesseraError } from '../../errors.js';
import { EXIT_OK, type Command } from '../command.js';

const USAGE = `Usage: tessera cluster [--port N] [--host ADDR] [--state file] [--kubeconfig out]

Runs Tessera's embedded Kubernetes API server (plain HTTP) until SIGINT or SIGTERM.
  --port N           port to listen on (default 6443; 0 picks a free one)
  --host ADDR        address to listen on (default 127.0.0.1)
  --state file       load the cluster's state from this file and save it there (debounced, and on shutdown)
  --kubeconfig out   write a kubeconfig for kubectl (kubectl --kubeconfig out get pods)`;

interface ClusterFlags {
  port: number;
  host: string;
  state: string | undefined;
  kubeconfig: string | undefined;
}

function parseFlags(argv: string[]): ClusterFlags {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: { port: { type: 'string' }, host: { type: 'string' }, state: { type: 'string' }, kubeconfig: { type: 'string' } },
    }));
  } catch (cause) {
    throw new TesseraError('INVALID_INPUT', (cause as Error).message, { cause });
  }
  const port = values.port === undefined ? 6443 : Number(values.port);
  if (!/^\d+$/.test(values.port ?? '6443') || port > 65535) {
    throw new TesseraError('INVALID_INPUT', `must be a port number 0-65535, got '${values.port}'`, { field: '--port' });
  }
  return { port, host: values.host ?? '127.0.0.1', state: values.state, kubeconfig: values.kubeconfig };
}

export const clusterCommand: Command = {
  name: 'cluster',
  summary: 'run the embedded Kubernetes API server standalone (for kubectl and local daemons)',
  usage: USAGE,
  async run(argv: string[]): Promise<number> {
    const flags = parseFlags(argv);
    const log = pino({ level: 'info' }).child({ component: 'embedded-cluster' });
    const cluster = await EmbeddedCluster.start({ port: flags.port, host: flags.host, persistPath: flags.state, log });
    if (flags.kubeconfig) await cluster.writeKubeconfig(flags.kubeconfig);
    log.info({ url: cluster.url, kubeconfig: flags.kubeconfig, state: flags.state }, 'embedded cluster ready');
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
    });
    await cluster.stop();
    log.info({ signal, state: flags.state }, 'embedded cluster stopped');
    return EXIT_OK;
  },
};
