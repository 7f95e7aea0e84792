/**
 * The last good topology, fed ConfigMap by ConfigMap as a watch delivers them. A ConfigMap that fails to parse is
 * refused with the error and the previous good state stays in force, so one bad edit never takes a node's GPUs
 * away. Per-node ConfigMaps take precedence over nodes written inline in a seeds'-format cluster ConfigMap.
 */
import { err, ok, type Result } from '../errors.js';
import { DEFAULT_NODE_POOL_LABEL_KEY, TOPOLOGY_CONFIGMAP, parseNodeTopology, parseTopology, type ConfigMapData, type NodeTopology, type Topology } from './topology.js';

/** Which node a ConfigMap name describes: null for the cluster ConfigMap, undefined for an unrelated one. */
export function configMapNode(name: string): string | null | undefined {
  if (name === TOPOLOGY_CONFIGMAP) return null;
  return name.startsWith(`${TOPOLOGY_CONFIGMAP}-`) ? name.slice(TOPOLOGY_CONFIGMAP.length + 1) : undefined;
}

export class TopologyStore {
  private cluster: Topology = { migStrategy: 'none', nodePoolLabelKey: DEFAULT_NODE_POOL_LABEL_KEY, nodePools: {}, nodes: {} };
  /** Whether the cluster ConfigMap is in the seeds' format (nodes inline). */
  private legacy = false;
  private readonly nodes = new Map<string, NodeTopology>();

  /** Applies a changed ConfigMap; answers the error and keeps the previous state when it does not parse. */
  apply(name: string, data: ConfigMapData): Result<void> {
    const node = configMapNode(name);
    if (node === undefined) return ok(undefined);
    if (node === null) {
      const result = parseTopology(data);
      if (!result.ok) return result;
      this.cluster = result.value;
      this.legacy = Object.keys(result.value.nodes).length > 0;
      return ok(undefined);
    }
    const result = parseNodeTopology(node, data, this.cluster.migStrategy);
    if (!result.ok) return err(result.error);
    this.nodes.set(node, result.value);
    return ok(undefined);
  }

  /** Forgets a deleted ConfigMap. */
  remove(name: string): void {
    const node = configMapNode(name);
    if (node === null) this.cluster = { ...this.cluster, nodePools: {}, nodes: {} };
    else if (node !== undefined) this.nodes.delete(node);
  }

  /** The whole topology now: pools from the cluster ConfigMap, nodes from theirs (or inline ones). */
  topology(): Topology {
    return { ...this.cluster, nodes: { ...this.cluster.nodes, ...Object.fromEntries(this.nodes) } };
  }

  node(name: string): NodeTopology | undefined {
    return this.nodes.get(name) ?? this.cluster.nodes[name];
  }

  /** Whether the node has its own ConfigMap (as opposed to an inline seeds'-format entry, or nothing). */
  hasNodeConfigMap(name: string): boolean {
    return this.nodes.has(name);
  }

  /** True when the cluster ConfigMap is in the seeds' format and should be rewritten in the newer one. */
  clusterIsLegacy(): boolean {
    return this.legacy;
  }
}
