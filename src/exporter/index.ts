/** Prometheus metrics: the scheduler view and DCGM-style GPU/MIG series. */
export { tesseraBuildInfo } from './build-info.js';
export { registerFamilies } from './registry.js';
export { SCHEDULER_VIEW_FAMILIES } from './scheduler-view.js';
export { startExporter } from './service.js';
