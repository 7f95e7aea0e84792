/**
 * The cluster as the allocator sees it: nodes, their GPUs and what each allocation holds. `apply` and `release`
 * touch one node (cost proportional to its GPUs), bump its version, and keep per-node summaries (largest free
 * memory and cores, GPUs with a free slot) so a request skips nodes that cannot fit without visiting each GPU.
 * By default (`idleMigInstances: 'destroy'`) `release` returns the node to exactly what it was before `apply`, MIG
 * layout included (a created instance is taken away again, a destroyed free one comes back): the model stays a
 * function of the allocations held. With `idleMigInstances: 'keep'` (real nodes, where the device plugin reclaims
 * idle instances only after a grace period) release frees the instance but leaves it in the GPU's layout, so a
 * later request can reuse it; accounting (memory, cores, slots) still returns exactly to the values before `apply`.
 */
import { LRUMap } from 'mnemonist';
import { err, ok, type Result } from '../../errors.js';
import { applyOps, resolveGpuModel, type MigInstance } from '../../geometry/index.js';
import { sharingMode, type SharingMode } from '../../modes/index.js';
import type { MigInstanceView, MigPlanner } from './mig.js';
import type { CpuSpan } from './policy.js';
import { MILLI_PER_GPU, type GpuTotals, type GpuVerdict, type GpuView, type NodeView } from './view.js';
import type { AllocatedDevice, Allocation, GpuSpec, NodeMode, NodeSpec } from './types.js';
import type { Reason } from '../../request/index.js';

interface MutableTotals {
  slots: number;
  cores: number;
  memoryMiB: number;
}

export class GpuState implements GpuView {
  readonly uuid: string;
  readonly index: number;
  /** Position in the node's `gpus` (index order). */
  readonly position: number;
  readonly model: string;
  /** Lower-cased model for HAMi's case-insensitive type filters. */
  readonly modelLower: string;
  readonly memoryMiB: number;
  readonly coreUnits: number;
  readonly healthy: boolean;
  readonly numa: number | null;
  usedMemoryMiB = 0;
  usedCores = 0;
  usedSlots = 0;
  readonly migInstances: MigInstance[] | null;
  /** Counts MIG layout changes, so a release can tell whether a later plan touched the layout. */
  layoutVersion = 0;

  constructor(spec: GpuSpec, position: number, allocation: SharingMode['allocation'], memoryScaling: number) {
    this.uuid = spec.uuid;
    this.index = spec.index;
    this.position = position;
    this.model = spec.model;
    this.modelLower = spec.model.toLowerCase();
    // Memory overcommit applies to software sharing only: a MIG instance's memory is physical.
    this.memoryMiB = allocation === 'mig' ? spec.memoryMiB : Math.floor(spec.memoryMiB * memoryScaling);
    this.coreUnits = spec.coreUnits;
    this.healthy = spec.healthy;
    this.numa = spec.numa;
    this.migInstances = allocation === 'mig' ? (spec.migInstances ?? []).map((i) => ({ profile: i.profile, start: i.start, inUse: false })).sort(byStart) : null;
  }
}

/** FGD's one-dimensional view of a GPU: the fraction its scarcer resource has left, in milli-GPU (policies/gradient.ts). */
function shareLeft(g: GpuState): number {
  // Numerator first: exact integers wherever the use is a whole number of milli-GPU.
  const memory = g.memoryMiB > 0 ? Math.floor((MILLI_PER_GPU * (g.memoryMiB - g.usedMemoryMiB)) / g.memoryMiB) : 0;
  const cores = g.coreUnits > 0 ? Math.floor((MILLI_PER_GPU * (g.coreUnits - g.usedCores)) / g.coreUnits) : 0;
  return Math.min(memory, cores);
}

/** The most memory and core units one of `gpus` offers. */
export function largestOf(gpus: readonly GpuState[]): { memoryMiB: number; coreUnits: number } {
  let memoryMiB = 0;
  let coreUnits = 0;
  for (const g of gpus) {
    memoryMiB = Math.max(memoryMiB, g.memoryMiB);
    coreUnits = Math.max(coreUnits, g.coreUnits);
  }
  return { memoryMiB, coreUnits };
}

const byStart = (a: { start: number }, b: { start: number }): number => a.start - b.start;

export class NodeState implements NodeView {
  readonly name: string;
  readonly mode: NodeMode;
  /** How the node's sharing mode carves its GPUs (src/modes). */
  readonly allocation: SharingMode['allocation'];
  version = 0;
  readonly labels: Readonly<Record<string, string>>;
  readonly splitCount: number;
  readonly cpuMilli: number;
  readonly memoryMiB: number;
  cpuUsedMilli = 0;
  memoryUsedMiB = 0;
  readonly gpus: GpuState[];
  readonly healthyGpus: GpuState[];
  /** Whether every healthy GPU offers the same memory (a percentage then means the same MiB on each). */
  readonly uniformMemory: boolean;
  /** The most memory and core units one healthy GPU offers (when empty). */
  readonly largestGpu: { readonly memoryMiB: number; readonly coreUnits: number };
  readonly byUuid: Map<string, GpuState>;
  readonly gpuCapacity: GpuTotals;
  readonly gpuUsed: MutableTotals = { slots: 0, cores: 0, memoryMiB: 0 };
  readonly model: string;
  readonly gpuLeft: number[];
  /** Largest free memory and cores on one healthy GPU, and healthy GPUs with a free slot. */
  maxFreeMemoryMiB = 0;
  maxFreeCores = 0;
  gpusWithFreeSlot = 0;

  constructor(
    spec: NodeSpec,
    /** Stable small number of the node in its ClusterState: verdict columns are indexed by it. */
    readonly ordinal: number,
  ) {
    this.name = spec.name;
    this.mode = spec.mode;
    this.allocation = sharingMode(spec.mode).allocation;
    this.labels = { ...spec.labels };
    this.splitCount = spec.splitCount;
    this.cpuMilli = spec.cpuMilli;
    this.memoryMiB = spec.memoryMiB;
    this.gpus = [...spec.gpus].sort((a, b) => a.index - b.index).map((g, i) => new GpuState(g, i, this.allocation, spec.memoryScaling));
    this.byUuid = new Map(this.gpus.map((g) => [g.uuid, g]));
    const healthy = this.gpus.filter((g) => g.healthy);
    this.healthyGpus = healthy;
    this.uniformMemory = healthy.every((g) => g.memoryMiB === healthy[0]?.memoryMiB);
    this.largestGpu = largestOf(healthy);
    this.gpuCapacity = {
      slots: healthy.length * spec.splitCount,
      cores: healthy.reduce((s, g) => s + g.coreUnits, 0),
      memoryMiB: healthy.reduce((s, g) => s + g.memoryMiB, 0),
    };
    this.model = this.gpus[0]?.model ?? '';
    this.gpuLeft = this.gpus.map(() => 0);
    this.refresh();
  }

  get cpuLeft(): number {
    return this.cpuMilli - this.cpuUsedMilli;
  }

  /** Recomputes the summaries after a change and bumps the version. */
  refresh(): void {
    this.version++;
    let maxMemory = 0;
    let maxCores = 0;
    let freeSlot = 0;
    this.gpuUsed.slots = 0;
    this.gpuUsed.cores = 0;
    this.gpuUsed.memoryMiB = 0;
    for (let i = 0; i < this.gpus.length; i++) {
      const g = this.gpus[i] as GpuState;
      if (!g.healthy) {
        this.gpuLeft[i] = 0;
        continue;
      }
      this.gpuUsed.slots += g.usedSlots;
      this.gpuUsed.cores += g.usedCores;
      this.gpuUsed.memoryMiB += g.usedMemoryMiB;
      this.gpuLeft[i] = g.usedSlots < this.splitCount ? shareLeft(g) : 0;
      if (g.usedSlots < this.splitCount) freeSlot++;
      maxMemory = Math.max(maxMemory, g.memoryMiB - g.usedMemoryMiB);
      maxCores = Math.max(maxCores, g.coreUnits - g.usedCores);
    }
    this.maxFreeMemoryMiB = maxMemory;
    this.maxFreeCores = maxCores;
    this.gpusWithFreeSlot = freeSlot;
  }
}

/** The plain-data picture of a node, for comparisons and debugging (no version: it counts changes, not content). */
export interface NodeSnapshot {
  readonly name: string;
  readonly cpuUsedMilli: number;
  readonly memoryUsedMiB: number;
  readonly gpus: readonly {
    readonly uuid: string;
    readonly usedMemoryMiB: number;
    readonly usedCores: number;
    readonly usedSlots: number;
    readonly migInstances: readonly MigInstanceView[] | null;
  }[];
}

/** A MIG GPU's layout before one device's plan; release restores it while the GPU is still at `version`. */
interface LayoutChange {
  readonly before: MigInstance[];
  readonly version: number;
}

interface Held {
  readonly allocation: Allocation;
  /** Per device in allocation order, what its MIG plan replaced; null when the pod holds no MIG device. */
  readonly layouts: (LayoutChange | null)[] | null;
}

/** A node version no node has: its entry holds nothing. */
const NO_VERSION = -1;

/** Entries a column grows to when node `ordinal` is beyond it. */
const columnSize = (ordinal: number): number => Math.max(64, ordinal * 2);

/** `old` copied into an array of `size` entries, those beyond it set to `fill`. */
function grownCopy(old: Float64Array, size: number, fill: number): Float64Array<ArrayBuffer> {
  const grown = new Float64Array(size).fill(fill);
  grown.set(old);
  return grown;
}

/**
 * The GPU verdicts of one pod shape, by node ordinal, each valid while the node's version is the one recorded.
 * Kept by shape rather than by node so that a decision reads one pair of arrays in node order.
 */
export class VerdictColumn {
  private versions = new Float64Array(0);
  private readonly verdicts: (GpuVerdict | undefined)[] = [];

  get(node: NodeState): GpuVerdict | undefined {
    return this.versions[node.ordinal] === node.version ? this.verdicts[node.ordinal] : undefined;
  }

  set(node: NodeState, verdict: GpuVerdict): void {
    if (node.ordinal >= this.versions.length) this.versions = grownCopy(this.versions, columnSize(node.ordinal), NO_VERSION);
    this.versions[node.ordinal] = node.version;
    this.verdicts[node.ordinal] = verdict;
  }
}

/** CPU steps a node keeps per version: pods of one GPU shape ask a few CPUs. */
const STEPS_KEPT = 4;
/** Per step: above, upTo, score. */
const STEP_FIELDS = 3;

/**
 * A policy's node scores for one request key (see fit.ts), by node ordinal, each valid while the node's version is
 * the one recorded: up to STEPS_KEPT per node, each for pods whose CPU falls in its step (above, upTo]
 * (`Policy.scoreCpu`), the oldest dropped first. Typed arrays: the scan reads one node after another, and numbers
 * kept unboxed cost no object per node.
 */
export class ScoreColumn {
  private versions = new Float64Array(0);
  private counts = new Uint8Array(0);
  private steps = new Float64Array(0);

  /** The node's score for a pod asking `cpu` milli, or NaN when none is kept. */
  find(node: NodeState, cpu: number): number {
    const at = node.ordinal;
    if (this.versions[at] !== node.version) return NaN;
    const count = this.counts[at] ?? 0;
    for (let i = 0, o = at * STEPS_KEPT * STEP_FIELDS; i < count; i++, o += STEP_FIELDS) {
      if (cpu > (this.steps[o] ?? 0) && cpu <= (this.steps[o + 1] ?? 0)) return this.steps[o + 2] ?? NaN;
    }
    return NaN;
  }

  /** Keeps `score` for pods whose CPU falls in `span`, on the node as it is. */
  keep(node: NodeState, span: CpuSpan, score: number): void {
    const at = node.ordinal;
    if (at >= this.versions.length) this.grow(at);
    let count = this.counts[at] ?? 0;
    if (this.versions[at] !== node.version) {
      this.versions[at] = node.version;
      count = 0;
    }
    const first = at * STEPS_KEPT * STEP_FIELDS;
    if (count === STEPS_KEPT) {
      this.steps.copyWithin(first, first + STEP_FIELDS, first + STEPS_KEPT * STEP_FIELDS);
      count--;
    }
    const o = first + count * STEP_FIELDS;
    this.steps[o] = span.above;
    this.steps[o + 1] = span.upTo;
    this.steps[o + 2] = score;
    this.counts[at] = count + 1;
  }

  private grow(ordinal: number): void {
    const size = columnSize(ordinal);
    const counts = new Uint8Array(size);
    counts.set(this.counts);
    this.versions = grownCopy(this.versions, size, NO_VERSION);
    this.counts = counts;
    this.steps = grownCopy(this.steps, size * STEPS_KEPT * STEP_FIELDS, 0);
  }
}

/** Pod shapes whose verdicts (and, apart, whose scores) are kept (least recently used dropped first). */
const MAX_SHAPES = 32;

/** Columns by key, the least recently used dropped first. */
class Columns<C> {
  private readonly byKey = new LRUMap<string, C>(MAX_SHAPES);
  /** Keys asked once lately: a column is made for a key asked again while its column would still be kept. */
  private readonly seen = new LRUMap<string, true>(MAX_SHAPES);

  constructor(private readonly create: () => C) {}

  get(key: string): C {
    let column = this.byKey.get(key);
    if (!column) {
      column = this.create();
      this.byKey.set(key, column);
    }
    return column;
  }

  /**
   * The column of a key asked for lately (among the last MAX_SHAPES keys), else undefined: a request seen once
   * (every pod asking its own CPU) would pay for a column per decision and never read it.
   */
  getRepeated(key: string): C | undefined {
    const kept = this.byKey.get(key);
    if (kept || this.seen.has(key)) return kept ?? this.get(key);
    this.seen.set(key, true);
    return undefined;
  }

  clear(): void {
    this.byKey.clear();
    this.seen.clear();
  }
}

const inconsistent = (message: string): Reason => ({ kind: 'Inconsistent', message });

export interface ClusterStateOptions {
  /** Plans MIG instances; required for clusters with MIG nodes (the geometry engine's planner). */
  readonly migPlanner?: MigPlanner;
  /**
   * What `release` does with a MIG instance: 'destroy' (default) restores the GPU's layout from before `apply`
   * (an instance the plan created goes away); 'keep' leaves the instance in the layout, free, for later reuse.
   */
  readonly idleMigInstances?: IdleMigInstances;
}

export type IdleMigInstances = 'keep' | 'destroy';

/** MIG instances created and destroyed by the plans of successful `apply` calls (ops skipped as already done excluded). */
export interface MigOpCounts {
  created: number;
  destroyed: number;
}

export interface MigOpsApplied extends MigOpCounts {
  /** GPUs whose layout an apply changed, once per GPU per apply (one mig-parted run on the node each). */
  reconfigurations: number;
}

export class ClusterState {
  private planner: MigPlanner | undefined;
  readonly idleMigInstances: IdleMigInstances;
  /**
   * Running totals of the create/destroy ops `apply` carried out on MIG layouts. A release in 'destroy' mode that
   * undoes a plan is not counted (it is the model forgetting the plan, not an op the device plugin runs).
   */
  readonly migOpsApplied: MigOpsApplied = { created: 0, destroyed: 0, reconfigurations: 0 };
  private readonly nodeMap = new Map<string, NodeState>();
  private nodeList: NodeState[] = [];
  private readonly held = new Map<string, Held>();
  private readonly verdicts = new Columns(() => new VerdictColumn());
  private readonly scores = new Columns(() => new ScoreColumn());
  /** By node ordinal, the node's place in name order; rebuilt after the node set changes. */
  private nameRanks: number[] | null = null;
  private nextOrdinal = 0;

  constructor(nodes: readonly NodeSpec[] = [], options: ClusterStateOptions = {}) {
    this.planner = options.migPlanner;
    this.idleMigInstances = options.idleMigInstances ?? 'destroy';
    for (const spec of nodes) this.setNode(spec);
  }

  /**
   * Rebuilds a state from node specs and the allocations held (the extender after a restart). Allocations that do
   * not fit (a node gone, a GPU over-committed) are returned with their reason and left out, never half-applied.
   */
  static fromAllocations(
    nodes: readonly NodeSpec[],
    allocations: readonly Allocation[],
    options: ClusterStateOptions = {},
  ): { state: ClusterState; rejected: { allocation: Allocation; reason: Reason }[] } {
    const state = new ClusterState(nodes, options);
    const rejected: { allocation: Allocation; reason: Reason }[] = [];
    for (const allocation of allocations) {
      const result = state.apply(allocation);
      if (!result.ok) rejected.push({ allocation, reason: result.error });
    }
    return { state, rejected };
  }

  /** By node ordinal, the place of the node's name in name order (the last tie-break of a ranking). */
  nameOrder(): readonly number[] {
    if (this.nameRanks === null) {
      const ranks: number[] = [];
      [...this.nodeList].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).forEach((n, i) => (ranks[n.ordinal] = i));
      this.nameRanks = ranks;
    }
    return this.nameRanks;
  }

  get migPlanner(): MigPlanner | undefined {
    return this.planner;
  }

  /**
   * Plans MIG layouts with `planner` from now on (the extender, when the workload it learns changes). The verdicts
   * kept per node were planned by the old one, so they are dropped and recomputed on demand.
   */
  setMigPlanner(planner: MigPlanner): void {
    this.planner = planner;
    this.forgetVerdicts();
  }

  /** Drops every kept verdict: for a caller whose policy inputs changed (`RunContext.typical`). */
  forgetVerdicts(): void {
    this.verdicts.clear();
    this.scores.clear();
  }

  /** The verdict column of a pod shape key (see fit.ts), created on first use. */
  verdictColumn(key: string): VerdictColumn {
    return this.verdicts.get(key);
  }

  /** The node scores of a request, policy and context key (see fit.ts), from the second time it is asked. */
  scoreColumn(key: string): ScoreColumn | undefined {
    return this.scores.getRepeated(key);
  }

  /** Adds or replaces a node; replacing one that holds allocations is refused (release them first). */
  setNode(spec: NodeSpec): Result<void, Reason> {
    const existing = this.nodeMap.get(spec.name);
    if (existing && (existing.gpuUsed.slots > 0 || existing.cpuUsedMilli > 0 || existing.memoryUsedMiB > 0 || this.holdsOn(spec.name))) {
      return err(inconsistent(`node ${spec.name} holds allocations; release them before replacing it`));
    }
    // A replacement keeps the ordinal and moves past the old version, so no verdict of the old node applies.
    const node = new NodeState(spec, existing?.ordinal ?? this.nextOrdinal++);
    if (existing) node.version = existing.version + 1;
    this.nodeMap.set(spec.name, node);
    if (existing) this.nodeList = this.nodeList.map((n) => (n === existing ? node : n));
    else this.nodeList.push(node);
    this.nameRanks = null;
    return ok(undefined);
  }

  removeNode(name: string): Result<void, Reason> {
    if (this.holdsOn(name)) return err(inconsistent(`node ${name} holds allocations; release them before removing it`));
    if (!this.nodeMap.delete(name)) return err({ kind: 'UnknownNode', node: name });
    this.nodeList = this.nodeList.filter((n) => n.name !== name);
    this.nameRanks = null;
    return ok(undefined);
  }

  node(name: string): NodeView | undefined {
    return this.nodeMap.get(name);
  }

  /** Nodes in the order they were added. */
  nodes(): readonly NodeView[] {
    return this.nodeList;
  }

  /** The allocator's own handle on the nodes (mutable state; not for policies). */
  internalNodes(): readonly NodeState[] {
    return this.nodeList;
  }

  internalNode(name: string): NodeState | undefined {
    return this.nodeMap.get(name);
  }

  allocation(podUid: string): Allocation | undefined {
    return this.held.get(podUid)?.allocation;
  }

  allocations(): Allocation[] {
    return [...this.held.values()].map((h) => h.allocation);
  }

  snapshot(name: string): NodeSnapshot | undefined {
    const node = this.nodeMap.get(name);
    if (!node) return undefined;
    return {
      name: node.name,
      cpuUsedMilli: node.cpuUsedMilli,
      memoryUsedMiB: node.memoryUsedMiB,
      gpus: node.gpus.map((g) => ({
        uuid: g.uuid,
        usedMemoryMiB: g.usedMemoryMiB,
        usedCores: g.usedCores,
        usedSlots: g.usedSlots,
        migInstances: g.migInstances ? g.migInstances.map((i) => ({ ...i })) : null,
      })),
    };
  }

  /**
   * Records an allocation. Refused, with nothing changed, when the pod already holds one, the node or a device is
   * unknown, or it would over-commit CPU, memory, GPU memory, cores or slots, or take a MIG instance in use.
   */
  apply(allocation: Allocation): Result<void, Reason> {
    if (this.held.has(allocation.pod.uid)) return err(inconsistent(`pod ${allocation.pod.uid} already holds an allocation`));
    const node = this.nodeMap.get(allocation.node);
    if (!node) return err({ kind: 'UnknownNode', node: allocation.node });
    if (allocation.mode !== node.mode) return err({ kind: 'ModeMismatch', requested: allocation.mode, node: node.mode });
    if (node.cpuUsedMilli + allocation.cpuMilli > node.cpuMilli) {
      return err({ kind: 'InsufficientResource', resource: 'cpu', requested: allocation.cpuMilli, used: node.cpuUsedMilli, capacity: node.cpuMilli });
    }
    if (node.memoryUsedMiB + allocation.memoryMiB > node.memoryMiB) {
      return err({ kind: 'InsufficientResource', resource: 'memory', requested: allocation.memoryMiB, used: node.memoryUsedMiB, capacity: node.memoryMiB });
    }
    const taken: { gpu: GpuState; device: AllocatedDevice; layout: LayoutChange | null; ops: MigOpCounts }[] = [];
    for (const container of allocation.containers) {
      const inContainer = new Set<string>();
      for (const device of container.devices) {
        const gpu = node.byUuid.get(device.uuid);
        const problem =
          gpu === undefined
            ? inconsistent(`GPU ${device.uuid} is not on node ${node.name}`)
            : gpu.index !== device.index
              ? inconsistent(`GPU ${device.uuid} has index ${gpu.index}, not ${device.index}`)
              : inContainer.has(device.uuid) && !device.mig
                ? inconsistent(`container ${container.name} names GPU ${device.uuid} twice`)
                : takeDevice(gpu, device, node.splitCount);
        if (gpu === undefined || 'kind' in problem) {
          for (const t of taken.reverse()) giveBack(t.gpu, t.device, t.layout, 'destroy');
          node.refresh();
          return err('kind' in problem ? problem : inconsistent('unreachable'));
        }
        inContainer.add(device.uuid);
        taken.push({ gpu, device, layout: problem.layout, ops: problem.ops });
      }
    }
    const reconfigured = new Set<GpuState>();
    for (const t of taken) {
      this.migOpsApplied.created += t.ops.created;
      this.migOpsApplied.destroyed += t.ops.destroyed;
      if (t.ops.created + t.ops.destroyed > 0) reconfigured.add(t.gpu);
    }
    this.migOpsApplied.reconfigurations += reconfigured.size;
    node.cpuUsedMilli += allocation.cpuMilli;
    node.memoryUsedMiB += allocation.memoryMiB;
    node.refresh();
    const layouts = taken.some((t) => t.layout !== null) ? taken.map((t) => t.layout) : null;
    this.held.set(allocation.pod.uid, { allocation, layouts });
    return ok(undefined);
  }

  /**
   * Releases a pod's allocation and returns it. The node's accounting ends exactly as before `apply`; its MIG
   * layout too in 'destroy' mode, while in 'keep' mode the pod's instances stay, free.
   */
  release(podUid: string): Result<Allocation, Reason> {
    const held = this.held.get(podUid);
    if (!held) return err(inconsistent(`pod ${podUid} holds no allocation`));
    const node = this.nodeMap.get(held.allocation.node);
    this.held.delete(podUid);
    if (!node) return ok(held.allocation);
    const devices = held.allocation.containers.flatMap((c) => c.devices);
    for (let i = devices.length - 1; i >= 0; i--) {
      const device = devices[i] as AllocatedDevice;
      const gpu = node.byUuid.get(device.uuid);
      if (gpu) giveBack(gpu, device, held.layouts?.[i] ?? null, this.idleMigInstances);
    }
    node.cpuUsedMilli -= held.allocation.cpuMilli;
    node.memoryUsedMiB -= held.allocation.memoryMiB;
    node.refresh();
    return ok(held.allocation);
  }

  private holdsOn(name: string): boolean {
    for (const h of this.held.values()) if (h.allocation.node === name) return true;
    return false;
  }
}

/** Takes one device on a GPU, or says why it cannot (nothing changed then). */
function takeDevice(gpu: GpuState, device: AllocatedDevice, splitCount: number): Reason | { layout: LayoutChange | null; ops: MigOpCounts } {
  let layout: LayoutChange | null = null;
  const ops: MigOpCounts = { created: 0, destroyed: 0 };
  if (gpu.usedSlots >= splitCount) {
    return { kind: 'InsufficientResource', resource: 'gpuslots', requested: 1, used: gpu.usedSlots, capacity: splitCount };
  }
  if (gpu.usedMemoryMiB + device.memoryMiB > gpu.memoryMiB) {
    return { kind: 'InsufficientResource', resource: 'gpumem', requested: device.memoryMiB, used: gpu.usedMemoryMiB, capacity: gpu.memoryMiB };
  }
  if (gpu.usedCores + device.cores > gpu.coreUnits || (device.cores >= gpu.coreUnits && gpu.usedSlots > 0)) {
    return { kind: 'InsufficientResource', resource: 'gpucores', requested: device.cores, used: gpu.usedCores, capacity: gpu.coreUnits };
  }
  if (gpu.migInstances === null) {
    if (device.mig) return inconsistent(`GPU ${gpu.uuid} is not in MIG mode`);
  } else {
    if (!device.mig) return inconsistent(`GPU ${gpu.uuid} is in MIG mode; the device names no instance`);
    const { profile, start } = device.mig;
    // The instance already there and free means its plan has run (a state rebuilt from the node's inventory):
    // take it as it is. Otherwise only the ops not yet reflected run: a grant applied again (its decision rewritten,
    // or a replay after a restart) finds the instances its plan carved beside its own already there, maybe in use
    // by the pods that took them since, and creating them again would fail the grant and show its slices free.
    const instances = gpu.migInstances;
    const present = (op: { profile: string; start: number }): boolean => instances.some((i) => i.start === op.start && i.profile === op.profile);
    const ready = instances.some((i) => i.start === start && i.profile === profile && !i.inUse);
    const plan = ready ? [] : device.mig.plan.filter((op) => (op.action === 'create') !== present(op) || (op.start === start && op.profile === profile));
    const model = resolveGpuModel(gpu.model);
    if (!model.ok) return inconsistent(`GPU ${gpu.uuid}: ${model.error.message}`);
    const applied = applyOps(model.value, gpu.migInstances, plan);
    if (!applied.ok) return inconsistent(`GPU ${gpu.uuid}: ${applied.error.message}`);
    for (const op of plan) ops[op.action === 'create' ? 'created' : 'destroyed']++;
    // Fresh objects: the old ones stay in `before`, for release to restore.
    const next = applied.value.map((i) => ({ ...i }));
    const target = next.find((i) => i.start === start && i.profile === profile);
    if (!target) return inconsistent(`GPU ${gpu.uuid} has no ${profile}@${start} after the plan`);
    if (target.inUse) return inconsistent(`GPU ${gpu.uuid}: ${profile}@${start} is already in use`);
    target.inUse = true;
    const before = gpu.migInstances.splice(0, gpu.migInstances.length, ...next);
    gpu.layoutVersion++;
    layout = { before, version: gpu.layoutVersion };
  }
  gpu.usedSlots += 1;
  gpu.usedMemoryMiB += device.memoryMiB;
  gpu.usedCores += device.cores;
  return { layout, ops };
}

/**
 * Undoes one device. 'keep': the instance is only marked free and stays in the layout. 'destroy': when the GPU's
 * layout is still what this device left, the layout before it comes back exactly; otherwise (a later pod
 * re-planned the GPU) the instance is freed, and dropped if its plan created it.
 */
function giveBack(gpu: GpuState, device: AllocatedDevice, layout: LayoutChange | null, idle: IdleMigInstances): void {
  gpu.usedSlots -= 1;
  gpu.usedMemoryMiB -= device.memoryMiB;
  gpu.usedCores -= device.cores;
  const instances = gpu.migInstances;
  if (!instances || !layout || !device.mig) return;
  if (idle === 'keep') {
    const kept = instances.find((i) => i.start === device.mig?.start && i.profile === device.mig.profile);
    if (kept) kept.inUse = false;
    gpu.layoutVersion++;
    return;
  }
  if (gpu.layoutVersion === layout.version) {
    instances.splice(0, instances.length, ...layout.before);
    gpu.layoutVersion--;
    return;
  }
  const { profile, start, plan } = device.mig;
  const at = instances.findIndex((i) => i.start === start && i.profile === profile);
  const target = instances[at];
  if (!target) return;
  target.inUse = false;
  gpu.layoutVersion++;
  if (plan.some((op) => op.action === 'create' && op.start === start && op.profile === profile)) instances.splice(at, 1);
}
