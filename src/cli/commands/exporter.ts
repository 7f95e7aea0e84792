/** `tessera exporter`: Prometheus metrics of the fake GPUs (DCGM-style) and of the scheduler's view (HAMi names). */
import { pino } from 'pino';
import { loadKubeConfig, parseFlags, portFlag, stoppedWithinGrace, waitForSignal } from '../process.js';
import { startExporter } from '../../exporter/index.js';
import { EXIT_FAILURE, EXIT_OK, type Command } from '../command.js';
import { catalogProfiles } from '../../geometry/index.js';

const USAGE = `Usage: tessera exporter [--kubeconfig file] [--namespace ns] [--port N] [--host ADDR] [--legacy-mig-metric]

Serves /metrics: DCGM_FI_DEV_* series of the fake GPUs from the topology ConfigMaps, HAMi's scheduler series
(hami_*) and Tessera's own (tessera_*) from node inventories and pod decisions. Runs until SIGINT or SIGTERM.
  --kubeconfig file     cluster to watch (default: KUBECONFIG, ~/.kube/config, or in-cluster)
  --namespace ns        namespace of the topology ConfigMaps (default gpu-operator)
  --port N              port (default 9400, dcgm-exporter's; 0 picks a free one)
  --host ADDR           address (default 0.0.0.0)
  --legacy-mig-metric   also emit HAMi's old nodeGPUMigInstance series`;

export const exporterCommand: Command = {
  name: 'exporter',
  daemon: true,
  summary: 'Prometheus metrics: DCGM-style GPU/MIG series and the scheduler view (HAMi names)',
  usage: USAGE,
  async run(argv: string[]): Promise<number> {
    const flags = parseFlags(argv, {
      kubeconfig: { type: 'string' },
      namespace: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'legacy-mig-metric': { type: 'boolean' },
    });
    const log = pino({ level: 'info' }).child({ component: 'exporter' });
    const exporter = await startExporter({
      kubeConfig: loadKubeConfig(flags.kubeconfig),
      namespace: flags.namespace ?? 'gpu-operator',
      log,
      profiles: catalogProfiles,
      host: flags.host ?? '0.0.0.0',
      port: portFlag(flags.port, 9400, '--port'),
      legacyMigMetric: flags['legacy-mig-metric'] ?? false,
    });
    log.info({ url: exporter.url }, 'exporter running');
    const signal = await waitForSignal();
    const stopped = await stoppedWithinGrace(exporter.stop(), log);
    log.info({ signal }, 'exporter stopped');
    return stopped ? EXIT_OK : EXIT_FAILURE;
  },
};
