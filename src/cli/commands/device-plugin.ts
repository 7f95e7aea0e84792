/**
 * `tessera device-plugin`: the per-node daemon (a DaemonSet in a cluster). Serves kubelet's device-plugin API for
 * `nvidia.com/gpu`, hands each container its pod's signed decision, and publishes the node's inventory and labels.
 * Backends: `nvml` (nvidia-smi on a real node) or `fake` (the fake GPU operator's topology ConfigMaps).
 */
import { parseArgs } from 'node:util';
import { CoreV1Api } from '@kubernetes/client-node';
import { pino } from 'pino';
import { compileChecker, loadOrCreateKeyFile, NODE_MODES, type NodeMode } from '../../api/index.js';
import { sharingMode } from '../../modes/index.js';
import { DEFAULT_DEVICE_CONFIG, loadDeviceConfig, reportNotices, type DeviceConfig } from '../../config/index.js';
import {
  DEFAULT_DEVICE_PLUGIN_DIR,
  DEFAULT_POD_RESOURCES_SOCKET,
  DevicePluginDaemon,
  FakeBackend,
  filteredBackend,
  type GpuBackend,
  hamiNodeSettings,
  HamiRegistrar,
  type TopologySource,
} from '../../deviceplugin/index.js';
import { execFileExecutor, NvmlBackend } from '../../deviceplugin/nvml/index.js';
import { TesseraError } from '../../errors.js';
import { TOPOLOGY_CONFIGMAP, TOPOLOGY_KEY, nodeTopologyConfigMapName, parseTopology } from '../../topology/index.js';
import { EXIT_FAILURE, EXIT_OK, type Command } from '../command.js';
import { loadKubeConfig, loadSchedulerPublicKey, readFlagFile, stoppedWithinGrace, waitForSignal } from '../process.js';

const USAGE = `Usage: tessera device-plugin --node NAME [options]

Runs the device plugin for one node until SIGINT or SIGTERM. Publishes the node's GPUs as Tessera's inventory
and as HAMi's register and handshake annotations (hami.io/node-nvidia-register, hami.io/node-handshake).
  --node NAME                  this node (default: $NODE_NAME)
  --device-config FILE         HAMi device config: the node's nodeconfig entry, else the nvidia: values, give
                               the mode, split count, filtered GPUs (a flag given here wins)
  --mode hami-core|mig|mps     how the node's GPUs are shared (default hami-core)
  --backend nvml|fake          nvidia-smi, or the fake GPU operator's topology (default nvml)
  --topology-namespace NS      where the fake backend reads the 'topology' ConfigMaps (default gpu-operator)
  --kubeconfig FILE            default: in-cluster, else $KUBECONFIG or ~/.kube/config
  --scheduler-public-key-file FILE       the scheduler's Ed25519 public key (PEM), which decisions verify with, or
  --scheduler-public-key-configmap NS/N  a ConfigMap holding it under 'public-key'
  --node-key-file PATH         this node's own Ed25519 key, created (0600) when missing
                               (default /var/lib/tessera/node-key.pem)
  --device-plugin-dir DIR      kubelet's device-plugins directory (default ${DEFAULT_DEVICE_PLUGIN_DIR})
  --pod-resources-socket PATH  kubelet's pod-resources socket (default ${DEFAULT_POD_RESOURCES_SOCKET})
  --state-file PATH            handouts kept across restarts (default /var/lib/tessera/device-plugin.json)
  --split-count N              tasks per GPU on hami-core nodes (default 10)
  --mig-idle-grace SECONDS     destroy MIG instances idle this long (default 300; 0 keeps them)
  --poll-interval SECONDS      re-read GPUs this often (default 5)`;

export interface DevicePluginFlags {
  node: string;
  deviceConfig: string;
  mode: NodeMode;
  backend: 'nvml' | 'fake';
  topologyNamespace: string;
  kubeconfig: string;
  schedulerPublicKeyFile: string;
  schedulerPublicKeyConfigmap: string;
  nodeKeyFile: string;
  devicePluginDir: string;
  podResourcesSocket: string;
  stateFile: string;
  splitCount: number;
  migIdleGrace: number;
  pollInterval: number;
}

const path = { type: 'string', minLength: 1, maxLength: 4096 } as const;
const checkFlags = compileChecker<DevicePluginFlags>(
  {
    type: 'object',
    additionalProperties: false,
    required: [
      'node',
      'deviceConfig',
      'mode',
      'backend',
      'topologyNamespace',
      'kubeconfig',
      'schedulerPublicKeyFile',
      'schedulerPublicKeyConfigmap',
      'nodeKeyFile',
      'devicePluginDir',
      'podResourcesSocket',
      'stateFile',
      'splitCount',
      'migIdleGrace',
      'pollInterval',
    ],
    properties: {
      node: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$' },
      deviceConfig: { type: 'string', maxLength: 4096 },
      mode: { enum: NODE_MODES },
      backend: { enum: ['nvml', 'fake'] },
      topologyNamespace: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$' },
      kubeconfig: { type: 'string', maxLength: 4096 },
      schedulerPublicKeyFile: { type: 'string', maxLength: 4096 },
      schedulerPublicKeyConfigmap: { type: 'string', pattern: '^$|^[a-z0-9-]+/[a-z0-9.-]+$' },
      nodeKeyFile: path,
      devicePluginDir: path,
      podResourcesSocket: path,
      stateFile: path,
      splitCount: { type: 'integer', minimum: 1, maximum: 1024 },
      migIdleGrace: { type: 'integer', minimum: 0 },
      pollInterval: { type: 'integer', minimum: 1 },
    },
  },
  'flags',
);

const integer = (text: string | undefined, fallback: number): number => (text === undefined ? fallback : /^\d+$/.test(text) ? Number(text) : Number.NaN);

export function parseDevicePluginFlags(argv: string[], env: NodeJS.ProcessEnv = process.env): DevicePluginFlags {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: Object.fromEntries(
        [
          'node',
          'device-config',
          'mode',
          'backend',
          'topology-namespace',
          'kubeconfig',
          'scheduler-public-key-file',
          'scheduler-public-key-configmap',
          'node-key-file',
          'device-plugin-dir',
          'pod-resources-socket',
          'state-file',
          'split-count',
          'mig-idle-grace',
          'poll-interval',
        ].map((k) => [k, { type: 'string' as const }]),
      ),
    }));
  } catch (cause) {
    throw new TesseraError('INVALID_INPUT', (cause as Error).message, { cause });
  }
  const node = values.node ?? env.NODE_NAME ?? '';
  const settings = hamiNodeSettings(deviceConfigOf(values['device-config']), node);
  const flags = checkFlags({
    node,
    deviceConfig: values['device-config'] ?? '',
    mode: values.mode ?? settings.mode,
    backend: values.backend ?? 'nvml',
    topologyNamespace: values['topology-namespace'] ?? 'gpu-operator',
    kubeconfig: values.kubeconfig ?? '',
    schedulerPublicKeyFile: values['scheduler-public-key-file'] ?? '',
    schedulerPublicKeyConfigmap: values['scheduler-public-key-configmap'] ?? '',
    nodeKeyFile: values['node-key-file'] ?? '/var/lib/tessera/node-key.pem',
    devicePluginDir: values['device-plugin-dir'] ?? DEFAULT_DEVICE_PLUGIN_DIR,
    podResourcesSocket: values['pod-resources-socket'] ?? DEFAULT_POD_RESOURCES_SOCKET,
    stateFile: values['state-file'] ?? '/var/lib/tessera/device-plugin.json',
    splitCount: integer(values['split-count'], settings.splitCount),
    migIdleGrace: integer(values['mig-idle-grace'], 300),
    pollInterval: integer(values['poll-interval'], 5),
  });
  if ((flags.schedulerPublicKeyFile === '') === (flags.schedulerPublicKeyConfigmap === '')) {
    throw new TesseraError('INVALID_INPUT', 'give exactly one of --scheduler-public-key-file and --scheduler-public-key-configmap', { field: '--scheduler-public-key-file' });
  }
  return flags;
}

/** The device config `--device-config` names (HAMi's defaults without one); an invalid one names its field. */
function deviceConfigOf(path: string | undefined): DeviceConfig {
  if (path === undefined) return DEFAULT_DEVICE_CONFIG;
  const loaded = loadDeviceConfig(readFlagFile(path, '--device-config').toString('utf8'));
  if (!loaded.ok) throw new TesseraError('INVALID_CONFIG', `${path}: ${loaded.error.message}`, { field: `--device-config ${loaded.error.field ?? ''}`.trim(), cause: loaded.error });
  return loaded.value;
}

/** This node's topology from the ConfigMaps (the cluster one, and the node's own when it exists), read anew each time. */
function topologySource(flags: DevicePluginFlags, api: CoreV1Api): TopologySource {
  const namespace = flags.topologyNamespace;
  return async () => {
    const cluster = await api.readNamespacedConfigMap({ name: TOPOLOGY_CONFIGMAP, namespace });
    const own = await api.readNamespacedConfigMap({ name: nodeTopologyConfigMapName(flags.node), namespace }).catch(() => undefined);
    const parsed = parseTopology(cluster.data ?? {}, own?.data ? { [flags.node]: own.data } : {});
    if (!parsed.ok) throw parsed.error;
    const node = parsed.value.nodes[flags.node];
    if (!node) throw new TesseraError('INVALID_CONFIG', `has no node ${flags.node}`, { field: `configmap ${namespace}/${TOPOLOGY_CONFIGMAP} ${TOPOLOGY_KEY}` });
    return node;
  };
}

export const devicePluginCommand: Command = {
  name: 'device-plugin',
  daemon: true,
  summary: 'run the kubelet device plugin on a GPU node (nvml or fake backend)',
  usage: USAGE,
  async run(argv: string[]): Promise<number> {
    const flags = parseDevicePluginFlags(argv);
    const log = pino({ level: 'info' }).child({ component: 'device-plugin', node: flags.node });
    const kubeConfig = loadKubeConfig(flags.kubeconfig);
    const api = kubeConfig.makeApiClient(CoreV1Api);
    const deviceConfig = deviceConfigOf(flags.deviceConfig === '' ? undefined : flags.deviceConfig);
    reportNotices(deviceConfig, log);
    const settings = hamiNodeSettings(deviceConfig, flags.node);
    const discovered: GpuBackend = flags.backend === 'fake' ? new FakeBackend(topologySource(flags, api)) : new NvmlBackend(execFileExecutor());
    const backend = filteredBackend(discovered, settings);
    const daemon = new DevicePluginDaemon({
      node: flags.node,
      mode: flags.mode,
      backend,
      kubeConfig,
      schedulerKey: await loadSchedulerPublicKey({ file: flags.schedulerPublicKeyFile, configMap: flags.schedulerPublicKeyConfigmap }, kubeConfig),
      nodeKey: loadOrCreateKeyFile(flags.nodeKeyFile, '--node-key-file').key,
      log,
      deviceDir: flags.devicePluginDir,
      podResourcesSocket: flags.podResourcesSocket,
      stateFile: flags.stateFile,
      splitCount: flags.splitCount,
      // HAMi registers 100 x deviceCoreScaling cores per shared GPU (gpucores on one GPU may then add up past 100).
      coreUnits: sharingMode(flags.mode).allocation === 'mig' ? 100 : Math.floor(100 * settings.coreScaling),
      numaTopology: settings.enableNumaTopology,
      migIdleGraceMs: flags.migIdleGrace * 1000,
      ...(settings.migStrategy ? { migStrategy: settings.migStrategy } : {}),
      pollMs: flags.pollInterval * 1000,
    });
    await daemon.start();
    const signalled = waitForSignal();
    // HAMi's scheduler reads the node from HAMi's own annotations: publish them too (mixed clusters, migration).
    const registrar = new HamiRegistrar({ node: flags.node, backend, kubeConfig, settings, config: deviceConfig, log });
    await registrar.start();
    log.info({ backend: backend.name, mode: flags.mode, socket: daemon.socketPath }, 'device plugin running');
    const signal = await signalled;
    const stopped = await stoppedWithinGrace(
      Promise.all([registrar.stop(), daemon.stop()]).then(() => undefined),
      log,
    );
    log.info({ signal }, 'device plugin stopped');
    return stopped ? EXIT_OK : EXIT_FAILURE;
  },
};
