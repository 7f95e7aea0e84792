/** The fake GPU operator: publishes the topology ConfigMaps and runs the status updater (docs/fake-operator.md). */
export { publishTopology } from './configmaps.js';
export { startStatusUpdater } from './status-updater.js';
