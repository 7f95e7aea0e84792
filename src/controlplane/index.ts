/** The stock Kubernetes control plane run from upstream binaries: see docs/real-kubernetes.md. */
export { ADMIN_USER, ControlPlane, CONTROL_PLANE_BINARIES, freePort, freePorts, locateBinaries, type ControlPlaneOptions, type Identity } from './control-plane.js';
export { CertificateAuthority, type CertificateRequest, type KeyPairPem } from './pki.js';
export { ComponentProcess } from './process.js';
