/**
 * HAMi's node score (hami.md "How it decides"), reproduced:
 *
 *   raw = 10 x (usedSlots / slots + usedCores / cores + usedMemory / memory)     over the node's healthy GPUs,
 *                                                                                   counting the pod as placed
 *   binpack: score = MAX x raw / 30          spread: score = MAX - MAX x raw / 30      (truncated to an integer)
 *
 * raw lies in [0, 30]; HAMi sorts on the float (highest for binpack, lowest for spread), and so does this (the
 * score keeps its fraction). A term with zero capacity counts as full. GPU choice: GPU-level binpack or spread
 * (`gpu-choice.ts`), HAMi's default being spread. MIG: the geometry engine's ranking, or HAMi's own v2.10 and
 * v2.9 rules as `hami-v2.10-mig` and `hami-v2.9-mig` (frag-mig.ts).
 */
import { chooseByPacking } from './gpu-choice.js';
import { hamiV210MigPlanner, hamiV29MigPlanner } from './frag-mig.js';
import { MAX_NODE_SCORE, clampScore, type Policy, type ScoreInput } from '../core/index.js';

/** The top of HAMi's raw scale: three fractions, each at most 1, times 10. */
export const HAMI_RAW_MAX = 30;

const fraction = (used: number, capacity: number): number => (capacity > 0 ? used / capacity : 1);

/**
 * HAMi's raw score from the node's totals after placement (slots, cores, memory: used and capacity), in
 * [0, HAMI_RAW_MAX].
 */
export function hamiRaw(slots: number, slotCapacity: number, cores: number, coreCapacity: number, memory: number, memoryCapacity: number): number {
  return 10 * (fraction(slots, slotCapacity) + fraction(cores, coreCapacity) + fraction(memory, memoryCapacity));
}

/** HAMi's raw node score after placement, in [0, HAMI_RAW_MAX]. */
export function hamiRawScore(input: Pick<ScoreInput, 'node' | 'added'>): number {
  const { gpuCapacity: capacity, gpuUsed: used } = input.node;
  const added = input.added;
  return hamiRaw(used.slots + added.slots, capacity.slots, used.cores + added.cores, capacity.cores, used.memoryMiB + added.memoryMiB, capacity.memoryMiB);
}

export const hamiPolicy: Policy = {
  name: 'hami',
  chooseDevice: chooseByPacking,
  // The node's GPU totals only.
  scoreCpu: 'steps',
  scoreNode(input) {
    const packed = (MAX_NODE_SCORE * hamiRawScore(input)) / HAMI_RAW_MAX;
    return clampScore(input.direction === 'binpack' ? packed : MAX_NODE_SCORE - packed);
  },
};

/** HAMi's node score with HAMi v2.10's MIG rule (the device config's allowlist, else its stock one). */
export const hamiV210Policy: Policy = { ...hamiPolicy, name: 'hami-v2.10-mig', migPlanner: (options) => hamiV210MigPlanner(options.restrictions) };

/** HAMi's node score with HAMi v2.9's MIG rule (the device config's geometries, else its stock ones). */
export const hamiV29Policy: Policy = { ...hamiPolicy, name: 'hami-v2.9-mig', migPlanner: (options) => hamiV29MigPlanner(options.restrictions) };
