/**
 * The local cluster's shape (`config/local-topology.yaml`, or `tessera up --topology <file>`): which fake nodes to
 * create, each with its CPU and memory and its fake GPUs, and whether its GPUs run MIG (Tessera changes the
 * geometry on demand) or HAMi-core (shared in software). It becomes the fake GPU operator's topology model, which
 * the fake device-plugin backend, the status updater and the exporter read, and one Node object per node.
 */
import { readFileSync } from 'node:fs';
import type { V1Node } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { ajv, NODE_MODES, type NodeMode, TESSERA_API_VERSION, validationError } from '../api/index.js';
import { TesseraError } from '../errors.js';
import { resolveGpuModel } from '../geometry/index.js';
import { sharingMode } from '../modes/index.js';
import { DEFAULT_NODE_POOL_LABEL_KEY, DEFAULT_DRIVER_VERSION, nodeFromPool, type Topology } from '../topology/index.js';

export const LOCAL_TOPOLOGY_KIND = 'LocalTopology';

export interface LocalNode {
  name: string;
  mode: NodeMode;
  /** Product name with dashes, as GPU feature discovery labels it (`NVIDIA-A100-SXM4-40GB`). */
  gpuProduct: string;
  gpuCount: number;
  gpuMemoryMiB: number;
  /** Allocatable CPU and memory as Kubernetes quantities (`64`, `512Gi`). */
  cpu: string;
  memory: string;
  /** Most pods the node takes. */
  pods: number;
}

export interface LocalTopology {
  nodes: LocalNode[];
}

const quantity = { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$', maxLength: 32 } as const;

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['apiVersion', 'kind', 'nodes'],
  properties: {
    apiVersion: { const: TESSERA_API_VERSION },
    kind: { const: LOCAL_TOPOLOGY_KIND },
    nodes: {
      type: 'array',
      minItems: 1,
      maxItems: 200,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'mode', 'gpuProduct', 'gpuCount', 'gpuMemory'],
        properties: {
          name: { type: 'string', maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' },
          mode: { enum: NODE_MODES },
          gpuProduct: { type: 'string', minLength: 1, maxLength: 253, pattern: '^\\S+$' },
          gpuCount: { type: 'integer', minimum: 1, maximum: 16 },
          gpuMemory: { type: 'integer', minimum: 1, maximum: 16 * 1024 * 1024 },
          cpu: quantity,
          memory: quantity,
          pods: { type: 'integer', minimum: 1, maximum: 10_000 },
        },
      },
    },
  },
} as const;
const check = ajv.compile(schema);

const DEFAULTS = { cpu: '64', memory: '512Gi', pods: 110 };

/** Validates a parsed topology document; errors name the field (`<source>.nodes.2.mode`). */
export function localTopology(value: unknown, source: string): LocalTopology {
  if (!check(value)) throw validationError(check.errors, source, 'INVALID_CONFIG');
  const raw = value as { nodes: Array<Omit<LocalNode, 'gpuMemoryMiB' | 'cpu' | 'memory' | 'pods'> & { gpuMemory: number; cpu?: string; memory?: string; pods?: number }> };
  const seen = new Set<string>();
  const nodes = raw.nodes.map(({ gpuMemory, ...node }, i) => {
    if (seen.has(node.name)) throw new TesseraError('INVALID_CONFIG', `repeats node '${node.name}'`, { field: `${source}.nodes.${i}.name` });
    seen.add(node.name);
    // A MIG node needs a model that can be MIG-partitioned: anything else would be accepted and never work.
    if (sharingMode(node.mode).allocation === 'mig') {
      const model = resolveGpuModel(node.gpuProduct);
      if (!model.ok || !model.value.mig) {
        const why = model.ok ? `${node.gpuProduct} does not support MIG` : `${node.gpuProduct} is not a GPU model the MIG catalog knows`;
        throw new TesseraError('INVALID_CONFIG', `is mig, but ${why}; use mode: hami-core for it (MIG models: A30, A100, H100, H200, B200)`, { field: `${source}.nodes.${i}.mode` });
      }
    }
    return { ...DEFAULTS, ...node, gpuMemoryMiB: gpuMemory };
  });
  return { nodes };
}

export function loadLocalTopology(path: string): LocalTopology {
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new TesseraError('INVALID_CONFIG', `cannot be read as YAML (${(cause as Error).message})`, { field: path, cause });
  }
  return localTopology(parsed, path);
}

/** The fake GPU operator's model of these nodes: idle GPUs with stable UUIDs; MIG nodes change geometry on demand. */
export function operatorTopology(topology: LocalTopology): Topology {
  return {
    migStrategy: 'mixed',
    nodePoolLabelKey: DEFAULT_NODE_POOL_LABEL_KEY,
    nodePools: {},
    nodes: Object.fromEntries(
      topology.nodes.map((n) => {
        const mig = sharingMode(n.mode).allocation === 'mig';
        return [
          n.name,
          nodeFromPool(n.name, {
            gpuProduct: n.gpuProduct,
            gpuCount: n.gpuCount,
            gpuMemoryMiB: n.gpuMemoryMiB,
            driverVersion: DEFAULT_DRIVER_VERSION,
            migStrategy: mig ? 'mixed' : 'none',
            dynamicMig: mig,
          }),
        ];
      }),
    ),
  };
}

/** The label local mode puts on its nodes, naming their GPU mode (what HAMi's nodeconfig keys on). */
export const LOCAL_MODE_LABEL = 'tessera.io/mode';

/** The Node object for a local node, Ready as its kubelet starts with it (GPU inventory comes from the device plugin). */
export function nodeObject(node: LocalNode, now: Date): V1Node {
  const resources = { cpu: node.cpu, memory: node.memory, pods: String(node.pods) };
  const ready = { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'simulated kubelet is posting ready status', lastHeartbeatTime: now, lastTransitionTime: now };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: node.name, labels: { 'kubernetes.io/hostname': node.name, 'kubernetes.io/os': 'linux', [LOCAL_MODE_LABEL]: node.mode } },
    spec: {},
    status: { capacity: resources, allocatable: resources, conditions: [ready] },
  };
}
