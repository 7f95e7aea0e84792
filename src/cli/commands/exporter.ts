/** `tessera exporter`: Prometheus metrics of the fake GPUs (DCGM-style) and of the scheduler's view (HAMi names). */
import { pino } from 'pino';
import { loadKubeConfig, parseFlags, portFlag, stoppedWithinGrace, waitForSignal } from '../process.js';
import { execFileExecutor } from '../../deviceplugin/nvml/index.js';
import { TesseraError } from '../../errors.js';
import { startExporter } from '../../exporter/index.js';
import { EXIT_FAILURE, EXIT_OK, type Command } from '../command.js';
import { catalogProfiles } from '../../geometry/index.js';

const USAGE = `Usage: tessera exporter [--kubeconfig file] [--namespace ns] [--port N] [--host ADDR] [--legacy-mig-metric]
                        [--source fake|nvml] [--node NAME] [--poll-interval SECONDS]

Serves /metrics: DCGM_FI_DEV_* series of the fake GPUs from the topology ConfigMaps, HAMi's scheduler series
(hami_*) and Tessera's own (tessera_*) from node inventories and pod decisions. With --source nvml, on a real GPU
node (one exporter per node): that node's GPUs as nvidia-smi reports them, as dcgm-exporter's and HAMi's host
series. Runs until SIGINT or SIGTERM.
  --kubeconfig file         cluster to watch (default: KUBECONFIG, ~/.kube/config, or in-cluster)
  --namespace ns            namespace of the topology ConfigMaps (default gpu-operator)
  --port N                  port (default 9400, dcgm-exporter's; 0 picks a free one)
  --host ADDR               address (default 0.0.0.0)
  --legacy-mig-metric       also emit HAMi's old nodeGPUMigInstance series
  --source fake|nvml        the fake operator's topology (default), or this node's GPUs through nvidia-smi
  --node NAME               with --source nvml: this node (default: $NODE_NAME)
  --poll-interval SECONDS   with --source nvml: read the GPUs this often (default 5)`;

export interface ExporterFlags {
  kubeconfig: string | undefined;
  namespace: string;
  port: number;
  host: string;
  legacyMigMetric: boolean;
  /** Set with --source nvml. */
  nvml: { node: string; pollMs: number } | undefined;
}

/** The exporter's flags, validated; `env` supplies NODE_NAME. */
export function parseExporterFlags(argv: string[], env: Record<string, string | undefined>): ExporterFlags {
  const flags = parseFlags(argv, {
    kubeconfig: { type: 'string' },
    namespace: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    'legacy-mig-metric': { type: 'boolean' },
    source: { type: 'string' },
    node: { type: 'string' },
    'poll-interval': { type: 'string' },
  });
  const source = flags.source ?? 'fake';
  if (source !== 'fake' && source !== 'nvml') throw new TesseraError('INVALID_INPUT', `must be fake or nvml, got '${source}'`, { field: '--source' });
  const interval = flags['poll-interval'] ?? '5';
  if (!/^[1-9]\d{0,5}$/.test(interval)) throw new TesseraError('INVALID_INPUT', `must be a whole number of seconds, at least 1, got '${interval}'`, { field: '--poll-interval' });
  const node = flags.node ?? env.NODE_NAME ?? '';
  if (source === 'nvml' && node === '') throw new TesseraError('INVALID_INPUT', 'is required with --source nvml (or set NODE_NAME)', { field: '--node' });
  if (source === 'fake' && (flags.node !== undefined || flags['poll-interval'] !== undefined))
    throw new TesseraError('INVALID_INPUT', 'applies only with --source nvml', { field: flags.node !== undefined ? '--node' : '--poll-interval' });
  return {
    kubeconfig: flags.kubeconfig,
    namespace: flags.namespace ?? 'gpu-operator',
    port: portFlag(flags.port, 9400, '--port'),
    host: flags.host ?? '0.0.0.0',
    legacyMigMetric: flags['legacy-mig-metric'] ?? false,
    nvml: source === 'nvml' ? { node, pollMs: Number(interval) * 1000 } : undefined,
  };
}

export const exporterCommand: Command = {
  name: 'exporter',
  daemon: true,
  summary: 'Prometheus metrics: DCGM-style GPU/MIG series and the scheduler view (HAMi names)',
  usage: USAGE,
  async run(argv: string[]): Promise<number> {
    const flags = parseExporterFlags(argv, process.env);
    const log = pino({ level: 'info' }).child({ component: 'exporter' });
    const exporter = await startExporter({
      kubeConfig: loadKubeConfig(flags.kubeconfig),
      namespace: flags.namespace,
      log,
      profiles: catalogProfiles,
      host: flags.host,
      port: flags.port,
      legacyMigMetric: flags.legacyMigMetric,
      ...(flags.nvml ? { nvml: { ...flags.nvml, executor: execFileExecutor() } } : {}),
    });
    log.info({ url: exporter.url }, 'exporter running');
    const signal = await waitForSignal();
    const stopped = await stoppedWithinGrace(exporter.stop(), log);
    log.info({ signal }, 'exporter stopped');
    return stopped ? EXIT_OK : EXIT_FAILURE;
  },
};
