/**
 * GPU feature discovery labels for one node, as NVIDIA's GFD writes them (mig.md "Labels and metrics around MIG").
 * Pure: plain GPU and MIG facts in, labels out. The fake operator feeds it from the topology; the device plugin
 * from what its backend discovers.
 *
 * - strategy `none` (or no MIG instance anywhere): `gpu.*` describe the whole GPUs.
 * - strategy `single`: every GPU must hold instances of one profile; `gpu.product` is `<Model>-MIG-<profile>`,
 *   `gpu.count` the instances, `gpu.memory` one instance's MiB, plus `gpu.slices.gi`/`.ci`. A node mixing profiles
 *   (or MIG and whole GPUs) is labelled `<Model>-MIG-INVALID` with a count of 0, as GFD does.
 * - strategy `mixed`: `gpu.*` describe the parent GPUs, and per profile `mig-<profile>.count`, `.memory`,
 *   `.multiprocessors`, `.slices.gi`, `.slices.ci` (`+` in a profile name becomes `.`, as in the resource names).
 */
/** The GPU operator's `mig.strategy`: how MIG devices are advertised (and labelled). */
export const MIG_STRATEGIES = ['none', 'single', 'mixed'] as const;
export type MigStrategy = (typeof MIG_STRATEGIES)[number];

export const GFD_PREFIX = 'nvidia.com/';

/** What GFD knows about one MIG profile on a GPU model. */
export interface GfdMigProfile {
  /** Profile name (`1g.10gb`, `1g.10gb+me`). */
  name: string;
  memoryMiB: number;
  /** Null when unknown: the `multiprocessors` label is then left out. */
  multiprocessors: number | null;
  /** GPU-instance (memory) slices and compute-instance slices the profile spans. */
  giSlices: number;
  ciSlices: number;
}

export interface GfdGpu {
  /** Product name with spaces as dashes (`NVIDIA-A100-SXM4-40GB`). */
  product: string;
  memoryMiB: number;
  /** The GPU's MIG instances now (empty: MIG off or no instances). */
  migInstances: GfdMigProfile[];
}

export interface GfdNode {
  migStrategy: MigStrategy;
  gpus: GfdGpu[];
}

/** A profile name as it may appear in a label key or resource name. */
export const migResourceSuffix = (profile: string): string => profile.replace(/\+/g, '.');

const labelValue = (product: string): string => product.trim().replace(/\s+/g, '-');

function wholeGpuLabels(gpus: GfdGpu[]): Record<string, string> {
  const first = gpus[0];
  return {
    [`${GFD_PREFIX}gpu.count`]: String(gpus.length),
    ...(first ? { [`${GFD_PREFIX}gpu.product`]: labelValue(first.product), [`${GFD_PREFIX}gpu.memory`]: String(first.memoryMiB) } : {}),
  };
}

function singleStrategyLabels(gpus: GfdGpu[]): Record<string, string> {
  const first = gpus[0];
  if (!first) return {};
  const profiles = new Set(gpus.flatMap((g) => (g.migInstances.length === 0 ? ['<whole>'] : g.migInstances.map((m) => m.name))));
  const profile = first.migInstances[0];
  if (profiles.size !== 1 || !profile) {
    return { [`${GFD_PREFIX}gpu.product`]: `${labelValue(first.product)}-MIG-INVALID`, [`${GFD_PREFIX}gpu.count`]: '0' };
  }
  return {
    [`${GFD_PREFIX}gpu.product`]: `${labelValue(first.product)}-MIG-${profile.name}`,
    [`${GFD_PREFIX}gpu.count`]: String(gpus.reduce((n, g) => n + g.migInstances.length, 0)),
    [`${GFD_PREFIX}gpu.memory`]: String(profile.memoryMiB),
    ...(profile.multiprocessors === null ? {} : { [`${GFD_PREFIX}gpu.multiprocessors`]: String(profile.multiprocessors) }),
    [`${GFD_PREFIX}gpu.slices.gi`]: String(profile.giSlices),
    [`${GFD_PREFIX}gpu.slices.ci`]: String(profile.ciSlices),
  };
}

function mixedProfileLabels(gpus: GfdGpu[]): Record<string, string> {
  const byProfile = new Map<string, { profile: GfdMigProfile; count: number }>();
  for (const instance of gpus.flatMap((g) => g.migInstances)) {
    const entry = byProfile.get(instance.name) ?? { profile: instance, count: 0 };
    entry.count++;
    byProfile.set(instance.name, entry);
  }
  const labels: Record<string, string> = {};
  for (const [name, { profile, count }] of [...byProfile].sort(([a], [b]) => a.localeCompare(b))) {
    const key = `${GFD_PREFIX}mig-${migResourceSuffix(name)}`;
    labels[`${key}.count`] = String(count);
    labels[`${key}.memory`] = String(profile.memoryMiB);
    if (profile.multiprocessors !== null) labels[`${key}.multiprocessors`] = String(profile.multiprocessors);
    labels[`${key}.slices.gi`] = String(profile.giSlices);
    labels[`${key}.slices.ci`] = String(profile.ciSlices);
  }
  return labels;
}

/** The GFD labels of a node (only keys under `nvidia.com/`). A node without GPUs gets `gpu.present=false`. */
export function gfdLabels(node: GfdNode): Record<string, string> {
  const anyMig = node.gpus.some((g) => g.migInstances.length > 0);
  const gpuLabels = node.migStrategy === 'single' && anyMig ? singleStrategyLabels(node.gpus) : wholeGpuLabels(node.gpus);
  return {
    [`${GFD_PREFIX}gpu.present`]: String(node.gpus.length > 0),
    [`${GFD_PREFIX}mig.strategy`]: node.migStrategy,
    ...gpuLabels,
    ...(node.migStrategy === 'mixed' ? mixedProfileLabels(node.gpus) : {}),
  };
}
