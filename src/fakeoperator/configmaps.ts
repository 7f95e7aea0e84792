/** Writing topology ConfigMaps: create, or replace when the content differs, re-reading on conflict. */
import type { CoreV1Api, V1ConfigMap } from '@kubernetes/client-node';
import { isNotFound, readModifyWrite } from '../kube/index.js';
import { NODE_TOPOLOGY_LABEL, TOPOLOGY_CONFIGMAP, TOPOLOGY_KEY, nodeTopologyConfigMapName, renderTopology, type ConfigMapData, type Topology } from '../topology/index.js';

export async function upsertConfigMap(core: CoreV1Api, namespace: string, name: string, data: ConfigMapData, labels: Record<string, string> = {}): Promise<V1ConfigMap> {
  return readModifyWrite(
    async () => {
      try {
        return await core.readNamespacedConfigMap({ name, namespace });
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },
    async (current) => {
      if (!current) return core.createNamespacedConfigMap({ namespace, body: { metadata: { name, namespace, labels }, data } });
      if (current.data?.[TOPOLOGY_KEY] === data[TOPOLOGY_KEY]) return current;
      return core.replaceNamespacedConfigMap({
        name,
        namespace,
        body: { ...current, metadata: { ...current.metadata, labels: { ...current.metadata?.labels, ...labels } }, data },
      });
    },
  );
}

/** Writes a whole topology as the newer format's ConfigMaps (the cluster one and one per node). */
export async function publishTopology(core: CoreV1Api, namespace: string, topology: Topology): Promise<void> {
  const { cluster, nodes } = renderTopology(topology);
  await upsertConfigMap(core, namespace, TOPOLOGY_CONFIGMAP, cluster);
  for (const [node, data] of Object.entries(nodes)) await upsertConfigMap(core, namespace, nodeTopologyConfigMapName(node), data, { [NODE_TOPOLOGY_LABEL]: node });
}
