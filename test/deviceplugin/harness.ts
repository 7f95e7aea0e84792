/**
 * One simulated GPU node for the device-plugin tests, all real parts: the embedded API server, the simulated
 * kubelet (gRPC over unix sockets), the device-plugin daemon with the fake backend, and decisions made by the
 * allocator and signed as the extender signs them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Node, type V1Pod } from '@kubernetes/client-node';
import { pino } from 'pino';
import { HAMI_POD, TESSERA_POD } from '../../src/api/annotations.js';
import { decisionOf, decodeDecision, encodeDecision, type Decision, signDecision } from '../../src/api/decision.js';
import { generateSigningKey, publicKeyOf } from '../../src/api/signing.js';
import { EmbeddedCluster } from '../../src/cluster/index.js';
import { FakeBackend } from '../../src/deviceplugin/fake-backend.js';
import { DevicePluginDaemon, type DevicePluginConfig } from '../../src/deviceplugin/plugin.js';
import type { NodeTopology } from '../../src/topology/topology.js';
import { SimKubelet } from '../../src/kubelet/kubelet.js';
import { ClusterState, createGeometryPlanner, decide, type NodeMode, type NodeSpec } from '../../src/scheduler/core/index.js';
import { decisionAnnotations } from '../../src/scheduler/extender/effects.js';
import { hamiPolicy } from '../../src/scheduler/policies/hami.js';
import { parsePodRequest } from '../../src/request/index.js';

export const RESOURCE = 'nvidia.com/gpu';
export const log = pino({ level: process.env.TEST_LOG ?? 'silent' });

export interface NodeOptions {
  mode: NodeMode;
  gpus: number;
  product?: string;
  memoryMiB?: number;
  /** GPU indexes whose MIG operations fail. */
  failMigOn?: number[];
  splitCount?: number;
  /** false: the test or bench drives kubelet's admissions itself. */
  kubeletAdmits?: boolean;
  migIdleGraceMs?: number;
}

export interface GpuRequest {
  gpus: number;
  memoryMiB?: number;
  cores?: number;
}

let counter = 0;

export class TestNode {
  /** The scheduler's key (it signs the decisions here) and this node's own. */
  readonly key = generateSigningKey();
  readonly nodeKey = generateSigningKey();
  readonly name = 'gpu-node-1';
  private readonly state: ClusterState;
  private readonly api: CoreV1Api;
  private decidedAt = Date.parse('2026-01-01T00:00:00Z');
  daemon!: DevicePluginDaemon;
  private daemonConfig!: DevicePluginConfig;

  /** Stops the device plugin and starts a new one on the same node (what a DaemonSet pod restart does). */
  async restartDaemon(overrides: Partial<DevicePluginConfig> = {}): Promise<void> {
    await this.daemon.stop();
    this.daemon = new DevicePluginDaemon({ ...this.daemonConfig, ...overrides });
    await this.daemon.start();
  }

  /** Moves the daemon's clock ahead (idle grace periods). */
  clockOffsetMs = 0;

  private constructor(
    /** The node's topology as the fake backend reads it: tests change health and failure switches here. */
    readonly topology: NodeTopology,
    readonly cluster: EmbeddedCluster,
    readonly kubeConfig: KubeConfig,
    readonly kubelet: SimKubelet,
    readonly backend: FakeBackend,
    private readonly dir: string,
    spec: NodeSpec,
  ) {
    this.state = new ClusterState([spec], { migPlanner: createGeometryPlanner() });
    this.api = kubeConfig.makeApiClient(CoreV1Api);
  }

  static async start(options: NodeOptions): Promise<TestNode> {
    const cluster = await EmbeddedCluster.start();
    const kubeConfig = cluster.kubeConfig();
    const api = kubeConfig.makeApiClient(CoreV1Api);
    const name = 'gpu-node-1';
    await api.createNode({ body: { metadata: { name }, status: { allocatable: { cpu: '64', memory: '256Gi' } } } });
    const product = options.product ?? 'NVIDIA A100-SXM4-80GB';
    const memoryMiB = options.memoryMiB ?? 81_920;
    const topology: NodeTopology = {
      gpuProduct: product,
      gpuMemoryMiB: memoryMiB,
      driverVersion: '550.54.15',
      migStrategy: options.mode === 'mig' ? 'mixed' : 'none',
      dynamicMig: options.mode === 'mig',
      health: 'Healthy',
      failMigOperations: false,
      gpus: Array.from({ length: options.gpus }, (_, i) => ({
        id: `GPU-${String(i).padStart(8, '0')}-aaaa-bbbb-cccc-${String(++counter).padStart(12, '0')}`,
        health: 'Healthy' as const,
        failMigOperations: options.failMigOn?.includes(i) ?? false,
        status: { allocatedBy: null, usage: {} },
        migDevices: [],
      })),
    };
    const backend = new FakeBackend(() => Promise.resolve(topology));
    const dir = mkdtempSync('/tmp/tdp-');
    const deviceDir = join(dir, 'dp');
    const podResourcesSocket = join(dir, 'pr', 'kubelet.sock');
    const kubelet = new SimKubelet({ node: name, kubeConfig, deviceDir, podResourcesSocket, log, admitPods: options.kubeletAdmits ?? true });
    await kubelet.start();
    const node = new TestNode(topology, cluster, kubeConfig, kubelet, backend, dir, {
      name,
      mode: options.mode,
      cpuMilli: 64_000,
      memoryMiB: 256 * 1024,
      labels: {},
      splitCount: options.splitCount ?? 10,
      memoryScaling: 1,
      gpus: topology.gpus.map((g, index) => ({ uuid: g.id, index, model: product, memoryMiB, coreUnits: 100, healthy: true, numa: null, ...(options.mode === 'mig' ? { migInstances: [] } : {}) })),
    });
    node.daemonConfig = {
      node: name,
      mode: options.mode,
      backend,
      kubeConfig,
      schedulerKey: publicKeyOf(node.key),
      nodeKey: node.nodeKey,
      log,
      deviceDir,
      podResourcesSocket,
      stateFile: join(dir, 'state', 'handouts.json'),
      splitCount: options.splitCount ?? 10,
      pollMs: 0,
      migIdleGraceMs: options.migIdleGraceMs ?? 0,
      now: () => Date.now() + node.clockOffsetMs,
    };
    node.daemon = new DevicePluginDaemon(node.daemonConfig);
    await node.daemon.start();
    await kubelet.devices.waitForDevices(RESOURCE);
    return node;
  }

  /** UUID of GPU `index`. */
  inventoryGpu(index: number): string {
    return this.daemon.inventory().gpus[index]?.uuid ?? '';
  }

  async stop(): Promise<void> {
    await this.daemon.stop();
    await this.kubelet.stop();
    await this.cluster.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A pod JSON with one container per request. */
  podJson(name: string, requests: GpuRequest[], annotations: Record<string, string> = {}): V1Pod {
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'default', annotations },
      spec: {
        containers: requests.map((r, i) => ({
          name: `c${i}`,
          image: 'cuda',
          resources: {
            limits: {
              ...(r.gpus > 0 ? { [RESOURCE]: String(r.gpus) } : {}),
              ...(r.memoryMiB ? { 'nvidia.com/gpumem': String(r.memoryMiB) } : {}),
              ...(r.cores ? { 'nvidia.com/gpucores': String(r.cores) } : {}),
            },
          },
        })),
      },
    };
  }

  /** Decides the pod with the allocator (its capacity is taken), signed as the extender signs. */
  decide(pod: V1Pod): Decision {
    const request = parsePodRequest(pod);
    if (!request.ok) throw new Error(`test pod does not parse: ${JSON.stringify(request.error)}`);
    const allocation = decide(this.state, request.value, this.name, hamiPolicy);
    if (!allocation.ok) throw new Error(`test pod does not fit: ${JSON.stringify(allocation.error)}`);
    const applied = this.state.apply(allocation.value);
    if (!applied.ok) throw new Error(`apply failed: ${JSON.stringify(applied.error)}`);
    this.decidedAt += 1000;
    return signDecision(decisionOf(allocation.value, new Date(this.decidedAt).toISOString()), this.key);
  }

  /** Creates the pod, unbound. */
  create(pod: V1Pod): Promise<V1Pod> {
    return this.api.createNamespacedPod({ namespace: 'default', body: pod });
  }

  annotate(pod: V1Pod, annotations: Record<string, string>): Promise<V1Pod> {
    return this.api.patchNamespacedPod({ name: pod.metadata?.name ?? '', namespace: 'default', body: { metadata: { annotations } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  }

  async bind(pod: V1Pod): Promise<void> {
    const name = pod.metadata?.name ?? '';
    await this.api.createNamespacedPodBinding({
      name,
      namespace: 'default',
      body: { apiVersion: 'v1', kind: 'Binding', metadata: { name, namespace: 'default' }, target: { apiVersion: 'v1', kind: 'Node', name: this.name } },
    });
  }

  /** Creates, decides (uid from the server) and binds; returns the server's pod and the decision. */
  async createDecided(pod: V1Pod): Promise<{ pod: V1Pod; decision: Decision }> {
    const created = await this.create(pod);
    const decision = this.decide(created);
    return { pod: await this.annotate(created, decisionAnnotations(decision, encodeDecision(decision), Date.now())), decision };
  }

  async delete(name: string): Promise<void> {
    await this.api.deleteNamespacedPod({ name, namespace: 'default', gracePeriodSeconds: 0 });
  }

  read(name: string): Promise<V1Pod> {
    return this.api.readNamespacedPod({ name, namespace: 'default' });
  }

  /** Waits until `check` holds for the pod (or throws after the timeout). */
  async waitFor(name: string, check: (pod: V1Pod) => boolean, timeoutMs = 10_000): Promise<V1Pod> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pod = await this.read(name);
      if (check(pod)) return pod;
      if (Date.now() > deadline) throw new Error(`pod ${name} never got there: ${JSON.stringify({ phase: pod.status?.phase, annotations: pod.metadata?.annotations })}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  readNode(): Promise<V1Node> {
    return this.api.readNode({ name: this.name });
  }

  events(): Promise<{ reason?: string; message?: string; involvedObject: { name?: string } }[]> {
    return this.api.listNamespacedEvent({ namespace: 'default' }).then((l) => l.items);
  }
}

export const recordedDecision = (pod: V1Pod): Decision => decodeDecision(pod.metadata?.annotations?.[TESSERA_POD.decision] ?? '');
export const bindPhase = (pod: V1Pod): string | undefined => pod.metadata?.annotations?.[HAMI_POD.bindPhase];
export const settled = (pod: V1Pod): boolean => (bindPhase(pod) === 'success' && pod.status?.phase === 'Running') || pod.status?.phase === 'Failed';
