/**
 * The `--demo` workload: a small mix of pods so the dashboard has something to show on first start. MIG pods of
 * several sizes, HAMi-core shares, a two-GPU pod, a mode-pinned pod, CPU-only pods, and one pod that fits nowhere
 * (so a pending pod with its reasons is on the page too). Pods that exist already (a restart with `--state`) are
 * left alone.
 */
import { CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { isConflict, withRetry } from '../kube/index.js';

export const DEMO_LABEL = 'tessera.io/demo';

interface DemoPod {
  name: string;
  gpus?: number;
  memoryMiB?: number;
  memoryPercent?: number;
  cores?: number;
  mode?: 'mig' | 'hami-core';
  gpuType?: string;
  cpu: string;
}

const DEMO_PODS: readonly DemoPod[] = [
  { name: 'demo-mig-1g-a', gpus: 1, memoryMiB: 4864, mode: 'mig', cpu: '1' },
  { name: 'demo-mig-1g-b', gpus: 1, memoryMiB: 4864, mode: 'mig', cpu: '1' },
  { name: 'demo-mig-2g', gpus: 1, memoryMiB: 9856, mode: 'mig', cpu: '2' },
  { name: 'demo-mig-3g', gpus: 1, memoryMiB: 19968, mode: 'mig', cpu: '4' },
  { name: 'demo-mig-h100-3g', gpus: 1, memoryMiB: 40000, mode: 'mig', gpuType: 'H100', cpu: '4' },
  { name: 'demo-mig-whole', gpus: 1, memoryMiB: 40192, mode: 'mig', cpu: '8' },
  { name: 'demo-hami-notebook', gpus: 1, memoryMiB: 16384, cores: 30, mode: 'hami-core', cpu: '1' },
  { name: 'demo-hami-inference', gpus: 1, memoryMiB: 24576, cores: 50, mode: 'hami-core', cpu: '2' },
  { name: 'demo-two-gpus', gpus: 2, memoryPercent: 50, cpu: '8' },
  { name: 'demo-cpu-only', cpu: '2' },
  { name: 'demo-too-many-gpus', gpus: 12, cpu: '1' },
];

function manifest(pod: DemoPod, schedulerName: string): V1Pod {
  const limits: Record<string, string> = {};
  if (pod.gpus !== undefined) limits['nvidia.com/gpu'] = String(pod.gpus);
  if (pod.memoryMiB !== undefined) limits['nvidia.com/gpumem'] = String(pod.memoryMiB);
  if (pod.memoryPercent !== undefined) limits['nvidia.com/gpumem-percentage'] = String(pod.memoryPercent);
  if (pod.cores !== undefined) limits['nvidia.com/gpucores'] = String(pod.cores);
  const annotations: Record<string, string> = {};
  if (pod.mode) annotations['nvidia.com/vgpu-mode'] = pod.mode;
  if (pod.gpuType) annotations['nvidia.com/use-gputype'] = pod.gpuType;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: pod.name, namespace: 'default', labels: { [DEMO_LABEL]: 'true' }, annotations },
    spec: {
      schedulerName,
      containers: [{ name: 'main', image: 'nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04', command: ['sleep', 'infinity'], resources: { requests: { cpu: pod.cpu, memory: '1Gi' }, limits } }],
    },
  };
}

/** Submits the demo pods that do not exist yet; returns how many it created. */
export async function submitDemo(kubeConfig: KubeConfig, schedulerName: string): Promise<number> {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  let created = 0;
  for (const pod of DEMO_PODS) {
    try {
      await withRetry(() => api.createNamespacedPod({ namespace: 'default', body: manifest(pod, schedulerName) }));
      created++;
    } catch (error) {
      if (!isConflict(error)) throw error;
    }
  }
  return created;
}
