/** `tessera up` options for tests and benches: the shipped configs, free ports, a kubeconfig in `dir`, no logs. */
import { join } from 'node:path';
import { pino } from 'pino';
import { PACKAGE_ROOT, type UpOptions } from '../../src/localmode/up.js';

export function ephemeralUpOptions(dir: string, overrides: Partial<UpOptions> = {}): UpOptions {
  return {
    topologyPath: join(PACKAGE_ROOT, 'config/local-topology.yaml'),
    schedulerConfigPath: join(PACKAGE_ROOT, 'config/scheduler-config.yaml'),
    deviceConfigPath: join(PACKAGE_ROOT, 'config/device-config.yaml'),
    kubeconfigPath: join(dir, 'kubeconfig'),
    host: '127.0.0.1',
    apiPort: 0,
    extenderPort: 0,
    dashboardPort: 0,
    exporterPort: 0,
    policy: 'hami',
    demo: false,
    log: pino({ level: 'silent' }),
    ...overrides,
  };
}
