/** A simulated kubelet for local mode and tests: node status, lease, and the device-plugin client side. */
export { SimKubelet } from './kubelet.js';
export { NodeLease } from './node-lease.js';
