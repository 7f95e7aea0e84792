/** `tessera cluster`: runs the embedded Kubernetes API server on its own until SIGINT or SIGTERM. */
import { pino } from 'pino';
import { EmbeddedCluster } from '../../cluster/index.js';
import { TesseraError } from '../../errors.js';
import { EXIT_FAILURE, EXIT_OK, type Command } from '../command.js';
import { parseFlags, portFlag, stoppedWithinGrace, waitForSignal } from '../process.js';

const USAGE = `Usage: tessera cluster [--port N] [--host ADDR] [--state file] [--kubeconfig out] [--max-request-bytes N] [--max-stored-bytes N]

Runs Tessera's embedded Kubernetes API server (plain HTTP) until SIGINT or SIGTERM. Every request but /healthz,
/livez, /readyz and /version must carry the bearer token of the kubeconfig it writes (a new one at each start).
  --port N                port to listen on (default 6443; 0 picks a free one)
  --host ADDR             address to listen on (default 127.0.0.1; any other is warned about: plain HTTP)
  --state file            load the cluster's state from this file; every write is journaled and fsynced beside it
                          (file.journal) before it is acknowledged, and folded into the file on shutdown
  --kubeconfig out        write a kubeconfig with the token for kubectl (kubectl --kubeconfig out get pods)
  --max-request-bytes N   largest request body (default 3145728); larger ones get 413
  --max-stored-bytes N    bound on all stored objects' JSON together (default 268435456); writes past it get 507`;

interface ClusterFlags {
  port: number;
  host: string;
  state: string | undefined;
  kubeconfig: string | undefined;
  maxRequestBytes: number | undefined;
  maxStoredBytes: number | undefined;
}

function byteFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,15}$/.test(value) || Number(value) < 1) throw new TesseraError('INVALID_INPUT', `must be a positive number of bytes, got '${value}'`, { field: flag });
  return Number(value);
}

function clusterFlags(argv: string[]): ClusterFlags {
  const values = parseFlags(argv, {
    port: { type: 'string' },
    host: { type: 'string' },
    state: { type: 'string' },
    kubeconfig: { type: 'string' },
    'max-request-bytes': { type: 'string' },
    'max-stored-bytes': { type: 'string' },
  });
  return {
    port: portFlag(values.port, 6443, '--port'),
    host: values.host ?? '127.0.0.1',
    state: values.state,
    kubeconfig: values.kubeconfig,
    maxRequestBytes: byteFlag(values['max-request-bytes'], '--max-request-bytes'),
    maxStoredBytes: byteFlag(values['max-stored-bytes'], '--max-stored-bytes'),
  };
}

export const clusterCommand: Command = {
  name: 'cluster',
  daemon: true,
  summary: 'run the embedded Kubernetes API server standalone (for kubectl and local daemons)',
  usage: USAGE,
  async run(argv: string[]): Promise<number> {
    const flags = clusterFlags(argv);
    const log = pino({ level: 'info' }).child({ component: 'embedded-cluster' });
    const cluster = await EmbeddedCluster.start({
      port: flags.port,
      host: flags.host,
      persistPath: flags.state,
      log,
      ...(flags.maxRequestBytes !== undefined ? { maxRequestBytes: flags.maxRequestBytes } : {}),
      ...(flags.maxStoredBytes !== undefined ? { maxStoredBytes: flags.maxStoredBytes } : {}),
    });
    if (flags.kubeconfig) await cluster.writeKubeconfig(flags.kubeconfig);
    log.info({ url: cluster.url, kubeconfig: flags.kubeconfig, state: flags.state }, 'embedded cluster ready');
    const signal = await waitForSignal();
    const stopped = await stoppedWithinGrace(cluster.stop(), log);
    log.info({ signal, state: flags.state }, 'embedded cluster stopped');
    return stopped ? EXIT_OK : EXIT_FAILURE;
  },
};
