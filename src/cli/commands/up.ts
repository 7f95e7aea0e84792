/**
 * `tessera up` (what `npm start` runs): the whole Tessera stack on this machine, with a dashboard. Flags are
 * checked first; then everything starts, the addresses are printed, and Ctrl-C (SIGINT) or SIGTERM stops it all.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { TesseraError } from '../../errors.js';
import { PACKAGE_ROOT, startLocalCluster, type LocalCluster, type UpOptions } from '../../localmode/index.js';
import { DEFAULT_CONFIG } from '../../scheduler/extender/index.js';
import { POLICIES } from '../../scheduler/policies/index.js';
import { EXIT_FAILURE, EXIT_OK, type Command } from '../command.js';
import { parseFlags, portFlag, STOP_GRACE_MS, stoppedWithinGrace, waitForSignal } from '../process.js';

/** How long `tessera up --control-plane` waits for its stop: its three tiers of processes, 5 s each, and Tessera's parts. */
const CONTROL_PLANE_STOP_GRACE_MS = 30_000;

const DEFAULTS = {
  topology: join(PACKAGE_ROOT, 'config/local-topology.yaml'),
  schedulerConfig: join(PACKAGE_ROOT, 'config/scheduler-config.yaml'),
  deviceConfig: join(PACKAGE_ROOT, 'config/device-config.yaml'),
  kubeconfig: join(tmpdir(), 'tessera', 'kubeconfig'),
  host: '127.0.0.1',
  apiPort: 6443,
  extenderPort: 8888,
  dashboardPort: 8080,
  exporterPort: 9400,
  logLevel: 'warn',
};

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

const USAGE = `Usage: tessera up [options]

Starts a local GPU cluster in one process: an embedded Kubernetes API server, the Tessera scheduler extender,
a scheduling driver that calls it exactly as kube-scheduler does, fake GPU nodes, and a live dashboard.

Options:
  --topology <file>          nodes and GPUs to simulate (default: config/local-topology.yaml)
  --scheduler-config <file>  KubeSchedulerConfiguration to follow (default: config/scheduler-config.yaml)
  --device-config <file>     HAMi device config (default: config/device-config.yaml)
  --kubeconfig <file>        where to write the kubeconfig for kubectl (default: ${DEFAULTS.kubeconfig})
  --state <file>             keep the cluster's state in this file across restarts
  --control-plane <dir>      run on the stock etcd, kube-apiserver, kube-controller-manager and kube-scheduler
                             from this folder of binaries (scripts/k8s-bins.sh prints it) instead of the
                             embedded API server; not with --state
  --host <address>           address every server listens on (default ${DEFAULTS.host})
  --api-port <n>             Kubernetes API server port (default ${DEFAULTS.apiPort}; 0 picks a free one)
  --extender-port <n>        scheduler extender port (default ${DEFAULTS.extenderPort})
  --dashboard-port <n>       dashboard port (default ${DEFAULTS.dashboardPort})
  --exporter-port <n>        Prometheus exporter port (default ${DEFAULTS.exporterPort})
  --policy <name>            extender scoring policy: ${Object.keys(POLICIES).join(', ')} (default ${DEFAULT_CONFIG.policy})
  --demo / --no-demo         submit a small workload mix at start (default: on)
  --log-level <level>        ${LOG_LEVELS.join(', ')} (default ${DEFAULTS.logLevel}); logs go to stderr as JSON`;

export function parseUpArgs(argv: string[]): Omit<UpOptions, 'log'> & { logLevel: string } {
  const values = parseFlags(argv, {
    topology: { type: 'string' },
    'scheduler-config': { type: 'string' },
    'device-config': { type: 'string' },
    kubeconfig: { type: 'string' },
    state: { type: 'string' },
    'control-plane': { type: 'string' },
    host: { type: 'string' },
    'api-port': { type: 'string' },
    'extender-port': { type: 'string' },
    'dashboard-port': { type: 'string' },
    'exporter-port': { type: 'string' },
    policy: { type: 'string' },
    demo: { type: 'boolean' },
    'no-demo': { type: 'boolean' },
    'log-level': { type: 'string' },
  });
  const logLevel = values['log-level'] ?? DEFAULTS.logLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new TesseraError('INVALID_INPUT', `must be one of ${LOG_LEVELS.join(', ')}, got '${logLevel}'`, { field: '--log-level' });
  if (values.state && values['control-plane'])
    throw new TesseraError('INVALID_INPUT', 'cannot be combined with --state: the stock control plane keeps its state in its own etcd', { field: '--control-plane' });
  return {
    topologyPath: values.topology ?? DEFAULTS.topology,
    schedulerConfigPath: values['scheduler-config'] ?? DEFAULTS.schedulerConfig,
    deviceConfigPath: values['device-config'] ?? DEFAULTS.deviceConfig,
    kubeconfigPath: values.kubeconfig ?? DEFAULTS.kubeconfig,
    ...(values.state ? { statePath: values.state } : {}),
    ...(values['control-plane'] ? { controlPlane: values['control-plane'] } : {}),
    host: values.host ?? DEFAULTS.host,
    apiPort: portFlag(values['api-port'], DEFAULTS.apiPort, '--api-port'),
    extenderPort: portFlag(values['extender-port'], DEFAULTS.extenderPort, '--extender-port'),
    dashboardPort: portFlag(values['dashboard-port'], DEFAULTS.dashboardPort, '--dashboard-port'),
    exporterPort: portFlag(values['exporter-port'], DEFAULTS.exporterPort, '--exporter-port'),
    policy: values.policy ?? DEFAULT_CONFIG.policy,
    demo: !values['no-demo'],
    logLevel,
  };
}

function banner(local: LocalCluster): string {
  const kubectl = `kubectl --kubeconfig ${local.kubeconfigPath}`;
  const gpus = local.topology.nodes.reduce((sum, n) => sum + n.gpuCount, 0);
  return [
    `Tessera local cluster is up: ${local.topology.nodes.length} nodes, ${gpus} GPUs.`,
    '',
    `  dashboard    ${local.urls.dashboard}`,
    `  API server   ${local.urls.api}   (kubeconfig: ${local.kubeconfigPath})`,
    `  extender     ${local.urls.extender}`,
    `  metrics      ${local.urls.exporter}/metrics`,
    ...(local.demoPods > 0 ? ['', `Submitted ${local.demoPods} demo pods (start with --no-demo for an idle cluster).`] : []),
    '',
    'Try:',
    `  ${kubectl} apply -f examples/      # the invalid one is refused by the webhook, the field named`,
    `  ${kubectl} get pods -o wide`,
    `  ${kubectl} describe pod shared-notebook   # its grant: tessera.io/decision and HAMi's annotations`,
    '',
    'Ctrl-C stops everything.',
  ].join('\n');
}

export const upCommand: Command = {
  name: 'up',
  daemon: true,
  summary: 'run the whole stack locally (embedded cluster, extender, fake GPU nodes) with a live dashboard',
  usage: USAGE,
  async run(argv) {
    const { logLevel, ...options } = parseUpArgs(argv);
    const log = pino({ level: logLevel }, pino.destination(2));
    const stopped = waitForSignal();
    const local = await startLocalCluster({ ...options, log });
    console.log(banner(local));
    const signal = await stopped;
    console.log(`\n${signal}: stopping…`);
    // The stock control plane's processes each get up to 5 s before SIGKILL (clients together, then the API server,
    // then etcd): its stop may take longer than a daemon's grace.
    if (!(await stoppedWithinGrace(local.stop(), log, options.controlPlane ? CONTROL_PLANE_STOP_GRACE_MS : STOP_GRACE_MS))) return EXIT_FAILURE;
    console.log(options.statePath ? `Stopped. State saved to ${options.statePath}.` : 'Stopped.');
    return EXIT_OK;
  },
};
