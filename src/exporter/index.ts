/** Prometheus metrics: the scheduler view and DCGM-style GPU/MIG series. */
export { tesseraBuildInfo } from './build-info.js';
export { registerFamilies } from './registry.js';
export { SCHEDULER_VIEW_FAMILIES } from './scheduler-view.js';
export { startExporter, type Exporter, type ExporterOptions } from './service.js';
