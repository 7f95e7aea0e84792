/**
 * Carving: which instances to create in a GPU's empty slices so that later requests find a free instance of
 * their size instead of each changing the layout (every change is a mig-parted run on the node). The empty
 * slices are shared among the profiles the demand asks for in proportion to the slices it asks of each (how often
 * times the profile's memory slices; as seats are apportioned: profile q goes next when demand_q / (instances_q + 1)
 * is highest, counting the instances already there), each new instance at the legal start that keeps the most
 * capacity for the rest (score.ts).
 * Pure; an illegal layout, or a demand naming nothing on the model, carves nothing.
 */
import { decodeLayout, isLayoutFault } from './layout.js';
import { capacityScore, profileWeights, rawDemandWeights } from './score.js';
import { tablesFor } from './tables.js';
import type { DemandMix, GpuModel, MigInstance } from './types.js';

export function carveEmptySlices(model: GpuModel, instances: readonly MigInstance[], demand: DemandMix): { profile: string; start: number }[] {
  if (!model.mig) return [];
  const tables = tablesFor(model.mig);
  const layout = decodeLayout(tables, instances);
  if (isLayoutFault(layout)) return [];
  // Slices, not instances, are apportioned: demand by count alone would carve the last half of a GPU into small
  // instances that a large pod must then reclaim.
  const wanted = rawDemandWeights(tables, demand).map((w, p) => w * (tables.profiles[p]?.memorySlices ?? 0));
  const weights = profileWeights(tables, demand);
  const counts = [...layout.counts];
  let occupied = layout.occupied;
  const carved: { profile: string; start: number }[] = [];
  for (;;) {
    let next: { p: number; mask: number; start: number; priority: number } | null = null;
    for (let p = 0; p < tables.profiles.length; p++) {
      const profile = tables.profiles[p];
      const want = wanted[p] ?? 0;
      const count = counts[p] ?? 0;
      if (!profile || want <= 0 || count >= profile.maxCount) continue;
      const priority = want / (count + 1);
      if (next && priority <= next.priority) continue;
      const masks = tables.masks[p] ?? [];
      let kept = -1;
      for (let k = 0; k < masks.length; k++) {
        const mask = masks[k] as number;
        if ((mask & occupied) !== 0) continue;
        const score = capacityScore(tables, weights, tables.fullMask & ~(occupied | mask));
        if (score > kept) {
          kept = score;
          next = { p, mask, start: profile.starts[k] as number, priority };
        }
      }
    }
    if (!next) return carved;
    occupied |= next.mask;
    counts[next.p] = (counts[next.p] ?? 0) + 1;
    carved.push({ profile: tables.profiles[next.p]?.name ?? '', start: next.start });
  }
}
