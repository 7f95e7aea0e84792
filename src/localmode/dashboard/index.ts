/** Local mode's dashboard: a read-only view of the cluster's GPUs and decisions. */
export { buildDashboardServer } from './server.js';
export { dashboardView } from './view.js';
