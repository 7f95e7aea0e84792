/** `tessera status-updater`: the fake GPU operator's status updater (topology ConfigMaps and node labels). */
import { CoreV1Api } from '@kubernetes/client-node';
import { readFile } from 'node:fs/promises';
import { pino } from 'pino';
import { TesseraError } from '../../errors.js';
import { publishTopology, startStatusUpdater } from '../../fakeoperator/index.js';
import { loadKubeConfig, parseFlags, stoppedWithinGrace, waitForSignal } from '../process.js';
import { parseTopologyFile } from '../../topology/index.js';
import { EXIT_FAILURE, EXIT_OK, type Command } from '../command.js';
import { catalogProfiles } from '../../geometry/index.js';

const USAGE = `Usage: tessera status-updater [--kubeconfig file] [--namespace ns] [--topology file]

Keeps each fake GPU node's topology ConfigMap (topology-<node>) and its GPU feature discovery labels in step with
the pods Tessera (or run:ai) places there. Runs until SIGINT or SIGTERM.
  --kubeconfig file  cluster to watch (default: KUBECONFIG, ~/.kube/config, or in-cluster)
  --namespace ns     namespace of the topology ConfigMaps (default gpu-operator)
  --topology file    first publish this topology (ConfigMap manifests, or one topology document in either
                     format; see docs/fake-operator.md)`;

export const statusUpdaterCommand: Command = {
  name: 'status-updater',
  daemon: true,
  summary: 'fake GPU operator: keep topology ConfigMaps and GPU labels in step with the pods',
  usage: USAGE,
  async run(argv: string[]): Promise<number> {
    const flags = parseFlags(argv, { kubeconfig: { type: 'string' }, namespace: { type: 'string' }, topology: { type: 'string' } });
    const kubeConfig = loadKubeConfig(flags.kubeconfig);
    const namespace = flags.namespace ?? 'gpu-operator';
    const log = pino({ level: 'info' }).child({ component: 'status-updater' });
    if (flags.topology) {
      let text: string;
      try {
        text = await readFile(flags.topology, 'utf8');
      } catch (cause) {
        throw new TesseraError('INVALID_INPUT', `cannot read ${flags.topology}: ${(cause as Error).message}`, { field: '--topology', cause });
      }
      const topology = parseTopologyFile(text, flags.topology);
      if (!topology.ok) throw topology.error;
      await publishTopology(kubeConfig.makeApiClient(CoreV1Api), namespace, topology.value);
      log.info({ file: flags.topology, nodes: Object.keys(topology.value.nodes).length }, 'topology published');
    }
    const updater = startStatusUpdater({ kubeConfig, namespace, log, profiles: catalogProfiles });
    await updater.synced;
    log.info({ namespace }, 'status updater running');
    const signal = await waitForSignal();
    const stopped = await stoppedWithinGrace(updater.stop(), log);
    log.info({ signal }, 'status updater stopped');
    return stopped ? EXIT_OK : EXIT_FAILURE;
  },
};
