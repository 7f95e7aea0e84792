/**
 * The fake GPU nodes: per node, a simulated kubelet (src/kubelet) serving the real device-plugin gRPC API on its
 * own kubelet.sock, and the Tessera device plugin (src/deviceplugin) on the fake backend, which takes its GPUs from
 * the fake GPU operator's topology. The plugin registers with its kubelet, publishes the node's GPU inventory and
 * answers Allocate for the pods bound there; the kubelet moves them to Running and gives devices back on deletion.
 * Each node also publishes HAMi's register and handshake annotations, as `tessera device-plugin` does.
 */
import type { KeyObject } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { DeviceConfig } from '../config/index.js';
import { TesseraError } from '../errors.js';
import { DevicePluginDaemon, FakeBackend, hamiNodeSettings, HamiRegistrar } from '../deviceplugin/index.js';
import type { Topology } from '../topology/index.js';
import { NodeLease, SimKubelet } from '../kubelet/index.js';
import type { LocalTopology } from './topology.js';
import type { RequestConfig } from '../request/index.js';

export interface GpuNodesOptions {
  topology: LocalTopology;
  operator: Topology;
  kubeConfig: KubeConfig;
  /** The scheduler's public key, which decisions verify with. */
  schedulerKey: KeyObject;
  /** Each node's own private key, by node name. */
  nodeKey(node: string): KeyObject;
  requestConfig: RequestConfig;
  /** HAMi's deviceSplitCount. */
  splitCount: number;
  /** The HAMi device config: what HAMi's register annotation reports (scaling, MIG profiles allowed). */
  deviceConfig: DeviceConfig;
  log: Logger;
}

export interface GpuNodes {
  stop(): Promise<void>;
}

/** Starts every node's kubelet, then its device plugin (which registers with that kubelet). */
export async function startGpuNodes(options: GpuNodesOptions): Promise<GpuNodes> {
  // Short paths: a unix socket path must fit in 108 bytes.
  const root = await mkdtemp(join(tmpdir(), 'tsr-'));
  const running: Array<{ stop(): Promise<void> }> = [];
  const stop = async (): Promise<void> => {
    for (const part of running.reverse()) await part.stop();
    await rm(root, { recursive: true, force: true });
  };
  try {
    for (const [i, node] of options.topology.nodes.entries()) {
      const deviceDir = join(root, String(i));
      const podResourcesSocket = join(deviceDir, 'pod-resources.sock');
      const log = options.log.child({ node: node.name });
      const kubelet = new SimKubelet({ node: node.name, kubeConfig: options.kubeConfig, deviceDir, podResourcesSocket, log: log.child({ component: 'kubelet' }) });
      await kubelet.start();
      running.push(kubelet);
      const lease = new NodeLease({ node: node.name, kubeConfig: options.kubeConfig, log: log.child({ component: 'kubelet' }) });
      await lease.start();
      running.push(lease);
      const nodeTopology = options.operator.nodes[node.name];
      if (!nodeTopology) throw new TesseraError('INTERNAL', `the operator topology lacks node ${node.name}`);
      const backend = new FakeBackend(nodeTopology);
      const plugin = new DevicePluginDaemon({
        node: node.name,
        mode: node.mode,
        backend,
        kubeConfig: options.kubeConfig,
        schedulerKey: options.schedulerKey,
        nodeKey: options.nodeKey(node.name),
        log: log.child({ component: 'device-plugin' }),
        deviceDir,
        podResourcesSocket,
        splitCount: options.splitCount,
        requestConfig: options.requestConfig,
      });
      await plugin.start();
      running.push(plugin);
      // The topology sets the node's mode here, as `--mode` does for `tessera device-plugin`.
      const settings = { ...hamiNodeSettings(options.deviceConfig, node.name), operatingMode: node.mode, mode: node.mode };
      const registrar = new HamiRegistrar({ node: node.name, backend, kubeConfig: options.kubeConfig, settings, config: options.deviceConfig, log: log.child({ component: 'device-plugin' }) });
      await registrar.start();
      running.push(registrar);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { stop };
}
