/** Local mode (`tessera up`): an embedded cluster with simulated GPU nodes, kubelets and the real daemons. */
export { type LocalCluster, PACKAGE_ROOT, startLocalCluster, type UpOptions } from './up.js';
