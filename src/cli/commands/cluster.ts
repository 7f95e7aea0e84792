/** `tessera cluster`: runs the embedded Kubernetes API server on its own until SIGINT or SIGTERM. */
import { pino } from 'pino';
import { EmbeddedCluster } from '../../cluster/index.js';
import { EXIT_FAILURE, EXIT_OK, type Command } from '../command.js';
import { parseFlags, portFlag, stoppedWithinGrace, waitForSignal } from '../process.js';

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

function clusterFlags(argv: string[]): ClusterFlags {
  const values = parseFlags(argv, { port: { type: 'string' }, host: { type: 'string' }, state: { type: 'string' }, kubeconfig: { type: 'string' } });
  return { port: portFlag(values.port, 6443, '--port'), host: values.host ?? '127.0.0.1', state: values.state, kubeconfig: values.kubeconfig };
}

export const clusterCommand: Command = {
  name: 'cluster',
  daemon: true,
  summary: 'run the embedded Kubernetes API server standalone (for kubectl and local daemons)',
  usage: USAGE,
  async run(argv: string[]): Promise<number> {
    const flags = clusterFlags(argv);
    const log = pino({ level: 'info' }).child({ component: 'embedded-cluster' });
    const cluster = await EmbeddedCluster.start({ port: flags.port, host: flags.host, persistPath: flags.state, log });
    if (flags.kubeconfig) await cluster.writeKubeconfig(flags.kubeconfig);
    log.info({ url: cluster.url, kubeconfig: flags.kubeconfig, state: flags.state }, 'embedded cluster ready');
    const signal = await waitForSignal();
    const stopped = await stoppedWithinGrace(cluster.stop(), log);
    log.info({ signal, state: flags.state }, 'embedded cluster stopped');
    return stopped ? EXIT_OK : EXIT_FAILURE;
  },
};
