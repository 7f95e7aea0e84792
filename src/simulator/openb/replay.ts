/**
 * One seed of the openb protocol with one policy: prepare the run (shuffle, inflation, node rank), schedule every
 * pod once in order, drop failures, record (allocated, arrived) after every event, and report the metric.
 */
import { nodeFragmentation, typicalShapes, type SharePolicyFactory, type TypicalShape } from '../../scheduler/policies/frag.js';
import { AllocationRecorder } from '../metric.js';
import { MemoizedShareScheduler, ShareCluster, type ShareRequest } from '../share-cluster.js';
import type { OpenbNode, OpenbPod } from './csv.js';
import { DEFAULT_LOAD, prepareOpenbRun, totalMilli } from './protocol.js';

export interface OpenbOutcome {
  seed: number;
  placed: number;
  failed: number;
  /**
   * The published metric: mean allocation % over events at the load's arrived column (fgd.md §1); the final
   * ratio when no event falls near that column.
   */
  allocationRatio: number;
  /** Allocated / capacity after the last pod, in %. */
  finalAllocationRatio: number;
  /** Expected fragment against the typical requests, summed over nodes, as % of GPU capacity, at the end. */
  gpuFragmentation: number;
  decisions: number;
  /** Final milli left per GPU of every node (nodes in name order). */
  layouts: { node: string; model: string; gpuMilliLeft: number[] }[];
}

export const requestOf = (pod: OpenbPod): ShareRequest => ({
  cpu: pod.cpuMilli,
  memory: pod.memoryMib,
  milli: pod.gpuMilli,
  gpus: pod.gpus,
  models: pod.gpuSpec,
});

export function typicalOf(originals: readonly OpenbPod[]): TypicalShape[] {
  return typicalShapes(originals.map(requestOf));
}

export interface OpenbReplayOptions {
  seed: number;
  load?: number;
  /** Called after each pod with (done, total), for progress display. */
  onProgress?: (done: number, total: number) => void;
}

export function replayOpenb(nodes: readonly OpenbNode[], pods: readonly OpenbPod[], policyFactory: SharePolicyFactory, options: OpenbReplayOptions): OpenbOutcome {
  const load = options.load ?? DEFAULT_LOAD;
  const run = prepareOpenbRun(nodes, pods, options.seed, load);
  const typical = typicalOf(run.originals);
  const cluster = new ShareCluster(run.nodes);
  const rankOrder = run.nodes.map((_, i) => i).sort((a, b) => (run.nodeRank[a] ?? 0) - (run.nodeRank[b] ?? 0));
  const scheduler = new MemoizedShareScheduler(cluster, policyFactory({ typical }), rankOrder);
  const recorder = new AllocationRecorder(run.capacityMilli);
  let arrived = 0;
  let placed = 0;
  run.pods.forEach((pod, i) => {
    arrived += totalMilli(pod);
    const req = requestOf(pod);
    const decision = scheduler.decide(req);
    if (decision) {
      cluster.allocate(decision.node, req, decision.gpus);
      placed++;
    }
    recorder.record(cluster.allocatedMilli, arrived);
    options.onProgress?.(i + 1, run.pods.length);
  });
  const finalAllocationRatio = (100 * cluster.allocatedMilli) / run.capacityMilli;
  // A small trace can jump past the load's column (no event within ±1 %): the end state is then the answer.
  const column = recorder.column(Math.round(load * 100));
  const fragment = cluster.nodes.reduce((sum, n) => sum + nodeFragmentation(n, typical), 0);
  return {
    seed: options.seed,
    placed,
    failed: run.pods.length - placed,
    allocationRatio: Number.isNaN(column) ? finalAllocationRatio : column,
    finalAllocationRatio,
    gpuFragmentation: (100 * fragment) / run.capacityMilli,
    decisions: run.pods.length,
    layouts: run.nodes.map((n, i) => ({ node: n.name, model: n.model, gpuMilliLeft: [...(cluster.nodes[i]?.gpuLeft ?? [])] })),
  };
}
