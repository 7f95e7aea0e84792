/**
 * The FGD paper's evaluation protocol (fgd.md §1, "Order of events"), as pure functions of the trace and a seed:
 * name-sorted originals, a seeded shuffle, inflation by sampling with replacement until the GPU request reaches
 * `load` x capacity, and a fixed random node rank that breaks score ties.
 */
import { Rng } from '../rng.js';
import type { OpenbNode, OpenbPod } from './csv.js';

export interface OpenbRun {
  /** Nodes sorted by name. */
  nodes: OpenbNode[];
  /** Tie-break rank of each node of `nodes` (a permutation of 0..N-1; smaller wins). */
  nodeRank: number[];
  /** The arrival order: the shuffled originals, then the inflation samples. */
  pods: OpenbPod[];
  /** The originals sorted by name: the population the typical pod shapes are taken from. */
  originals: OpenbPod[];
  /** Total GPU capacity in milli-GPU. */
  capacityMilli: number;
}

export const DEFAULT_LOAD = 1.3;

const byName = <T extends { name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** milli x GPUs: what a pod adds to the arrived and allocated totals. */
export const totalMilli = (pod: OpenbPod): number => pod.gpuMilli * pod.gpus;

export function prepareOpenbRun(nodesIn: readonly OpenbNode[], podsIn: readonly OpenbPod[], seed: number, load = DEFAULT_LOAD): OpenbRun {
  const rng = new Rng(seed);
  // The published simulator consumes one draw inside a debug log before shuffling; keep the stream aligned.
  rng.uint32();
  const originals = [...podsIn].sort(byName);
  const pods = rng.shuffle([...originals]);
  const nodes = [...nodesIn].sort(byName);
  const capacityMilli = nodes.reduce((sum, n) => sum + n.gpus * 1000, 0);
  pods.push(
    ...inflate(
      originals,
      pods.reduce((sum, p) => sum + totalMilli(p), 0),
      load * capacityMilli,
      rng,
    ),
  );
  return { nodes, nodeRank: rng.perm(nodes.length), pods, originals, capacityMilli };
}

/**
 * Samples clones from the name-sorted originals until the next sample's per-GPU milli would pass the target
 * (fgd.md §1 step 5: the check uses milli, the total adds milli x GPUs, so it may overshoot; a CPU-only sample
 * never stops the loop).
 */
export function inflate(originals: readonly OpenbPod[], startTotal: number, targetMilli: number, rng: Rng): OpenbPod[] {
  const clones: OpenbPod[] = [];
  // With no GPU pod to draw, the loop could never reach the target.
  if (!originals.some((p) => p.gpuMilli > 0)) return clones;
  let total = startTotal;
  for (;;) {
    const candidate = originals[rng.intn(originals.length)] as OpenbPod;
    if (total + candidate.gpuMilli > targetMilli) return clones;
    clones.push({ ...candidate, name: `${candidate.name}-clone-${clones.length}` });
    total += totalMilli(candidate);
  }
}
