/**
 * `tessera scheduler`: the scheduler extender kube-scheduler calls (filter, prioritize, bind), with the admission
 * webhook and metrics on the same port. Settings are validated before anything starts; SIGINT or SIGTERM stops
 * it cleanly (the lease is released so another replica takes over at once).
 */
import { pino } from 'pino';
import { loadDeviceConfig, reportNotices } from '../../config/index.js';
import { configFromArgs, DEFAULT_CONFIG, extenderDeviceOptions, startExtender } from '../../scheduler/extender/index.js';
import { POLICIES, policyByName } from '../../scheduler/policies/index.js';
import { EXIT_FAILURE, EXIT_OK, type Command } from '../command.js';
import { loadKubeConfig, loadSigningKey, readFlagFile, stoppedWithinGrace, waitForSignal } from '../process.js';

const USAGE = `Usage: tessera scheduler [options]

Runs the scheduler extender: kube-scheduler calls POST /filter, /prioritize and /bind (see
config/scheduler-config.yaml); the API server calls POST /webhook; GET /healthz, /readyz and /metrics.
Options may also come from a YAML file (--config, see config/extender.yaml); flags win.

Options:
  --config <file>              settings file
  --host <address>             extender listen address (default ${DEFAULT_CONFIG.host}: kube-scheduler runs beside it)
  --port <n>                   extender listen port (default ${DEFAULT_CONFIG.port}; 0 picks a free one)
  --client-ca-file <file>      serve the extender port over HTTPS and accept only client certificates this CA
                               signed (kube-scheduler's extender tlsConfig); needs --tls-cert-file
  --webhook-host <address>     HTTPS webhook listener address (default ${DEFAULT_CONFIG.webhookHost}); it serves only
                               /webhook, /healthz, /readyz and /metrics
  --trusted-users <a,b>        users that may change scheduler-owned pod annotations (the extender's and the
                               device plugins' service accounts, system:serviceaccount:<ns>:<name>)
  --kubeconfig <file>          kubeconfig (default: in-cluster, else $KUBECONFIG or ~/.kube/config)
  --device-config <file>       HAMi device config (default ${DEFAULT_CONFIG.deviceConfig})
  --policy <name>              scoring policy: ${Object.keys(POLICIES).join(', ')} (default ${DEFAULT_CONFIG.policy})
  --node-policy <p>            node packing when a pod names none: binpack | spread (default ${DEFAULT_CONFIG.nodePolicy})
  --gpu-policy <p>             GPU packing when a pod names none: binpack | spread (default ${DEFAULT_CONFIG.gpuPolicy})
  --scheduler-name <name>      schedulerName the webhook sets on GPU pods (default: leave it)
  --signing-key-file <file>    the Ed25519 private key (PEM) that signs decisions, or
  --signing-key-secret <ns/n>  a Secret holding it under 'signing-key'
                               (openssl genpkey -algorithm ed25519; device plugins get only its public key)
  --tls-cert-file <file>       serving certificate for the HTTPS listeners (the webhook needs TLS)
  --tls-key-file <file>        its private key
  --webhook-port <n>           HTTPS listener port (default ${DEFAULT_CONFIG.webhookPort})
  --reservation-ttl <s>        seconds a grant may wait for the device plugin (default ${DEFAULT_CONFIG.reservationTtlSeconds})
  --sync-wait <s>              seconds filter waits for the first sync (default ${DEFAULT_CONFIG.syncWaitSeconds})
  --workload-refresh <s>       seconds between relearning the workload from the pods; 0: never (default ${DEFAULT_CONFIG.workloadRefreshSeconds})
  --filter-answers <a>         best: filter answers the one node the policy chooses (kube-scheduler then skips
                               scoring and prioritize); all: every node that fits (default ${DEFAULT_CONFIG.filterAnswers})
  --leader-elect <bool>        elect a leader on a Lease (default ${DEFAULT_CONFIG.leaderElection.enabled})
  --lease-namespace <ns>       Lease namespace (default ${DEFAULT_CONFIG.leaderElection.namespace})
  --lease-name <name>          Lease name (default ${DEFAULT_CONFIG.leaderElection.name})
  --identity <id>              this replica's identity (default: hostname and a random suffix)
  --lease-duration <s>         (default ${DEFAULT_CONFIG.leaderElection.leaseDurationSeconds})
  --renew-deadline <s>         (default ${DEFAULT_CONFIG.leaderElection.renewDeadlineSeconds})
  --retry-period <s>           (default ${DEFAULT_CONFIG.leaderElection.retryPeriodSeconds})
  --log-level <level>          fatal, error, warn, info, debug, trace (default ${DEFAULT_CONFIG.logLevel})`;

export const schedulerCommand: Command = {
  name: 'scheduler',
  daemon: true,
  summary: 'run the scheduler extender kube-scheduler calls (filter, prioritize, bind, admission webhook)',
  usage: USAGE,
  async run(argv) {
    const config = configFromArgs(argv);
    const deviceConfig = loadDeviceConfig(readFlagFile(config.deviceConfig, '--device-config').toString('utf8'));
    if (!deviceConfig.ok) throw deviceConfig.error;
    const policy = policyByName(config.policy, '--policy');
    if (!policy.ok) throw policy.error;
    const log = pino({ level: config.logLevel });
    reportNotices(deviceConfig.value, log);
    const kubeConfig = loadKubeConfig(config.kubeconfig);
    const running = await startExtender({
      config,
      kubeConfig,
      signingKey: await loadSigningKey({ file: config.signingKeyFile, secret: config.signingKeySecret }, kubeConfig),
      ...(config.tlsCertFile
        ? {
            tls: {
              cert: readFlagFile(config.tlsCertFile, '--tls-cert-file'),
              key: readFlagFile(config.tlsKeyFile, '--tls-key-file'),
              ...(config.clientCaFile ? { clientCa: readFlagFile(config.clientCaFile, '--client-ca-file') } : {}),
            },
          }
        : {}),
      policy: policy.value,
      log,
      ...extenderDeviceOptions(deviceConfig.value, policy.value),
    });
    log.info({ url: running.url, secureUrl: running.secureUrl }, 'tessera scheduler listening');
    log.info({ signal: await waitForSignal() }, 'stopping');
    return (await stoppedWithinGrace(running.stop(), log)) ? EXIT_OK : EXIT_FAILURE;
  },
};
