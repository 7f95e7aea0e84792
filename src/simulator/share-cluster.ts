/**
 * A cluster of fractional-share GPU nodes (the openb model: CPU, memory, milli-GPU per GPU) and a scheduler that
 * places one request at a time with a `SharePolicy`, memoized per node: a node's placement for a request shape is
 * kept until that node changes (its version moves), so each decision recomputes only the nodes touched since the
 * shape was last asked about. Node ties go to the lowest rank.
 */
import { MILLI_PER_GPU, gpusAvailable, modelAllowed, type ShareNodeView, type SharePlacement, type SharePolicy, type ShareShape } from '../scheduler/policies/frag.js';

export interface ShareNodeSpec {
  readonly name: string;
  readonly cpuMilli: number;
  readonly memoryMib: number;
  readonly gpus: number;
  readonly model: string;
}

export interface ShareRequest extends ShareShape {
  readonly memory: number;
}

interface NodeState extends ShareNodeView {
  cpuLeft: number;
  memLeft: number;
  gpuLeft: number[];
  gpuTasks: number[];
  version: number;
}

export class ShareCluster {
  readonly nodes: readonly NodeState[];
  private allocated = 0;

  constructor(specs: readonly ShareNodeSpec[]) {
    this.nodes = specs.map((s) => ({
      model: s.model,
      cpuLeft: s.cpuMilli,
      memLeft: s.memoryMib,
      gpuLeft: Array.from({ length: s.gpus }, () => MILLI_PER_GPU),
      gpuTasks: Array.from({ length: s.gpus }, () => 0),
      version: 0,
    }));
  }

  /** Milli-GPU allocated over all nodes. */
  get allocatedMilli(): number {
    return this.allocated;
  }

  /** CPU and memory always; model and GPUs only for GPU requests (CPU-only requests run anywhere). */
  fits(node: number, req: ShareRequest): boolean {
    const n = this.nodes[node];
    if (!n || n.cpuLeft < req.cpu || n.memLeft < req.memory) return false;
    if (req.gpus === 0) return true;
    return n.gpuLeft.length > 0 && modelAllowed(n, req) && gpusAvailable(n.gpuLeft, req);
  }

  allocate(node: number, req: ShareRequest, gpus: readonly number[]): void {
    const n = this.nodes[node];
    if (!n || !this.fits(node, req) || gpus.length !== req.gpus) throw new Error(`allocate: request does not fit node ${node}`);
    for (const g of gpus) {
      const left = n.gpuLeft[g];
      if (left === undefined || left < req.milli) throw new Error(`allocate: GPU ${g} of node ${node} lacks ${req.milli} milli`);
      n.gpuLeft[g] = left - req.milli;
      n.gpuTasks[g] = (n.gpuTasks[g] ?? 0) + 1;
    }
    n.cpuLeft -= req.cpu;
    n.memLeft -= req.memory;
    n.version++;
    this.allocated += req.milli * req.gpus;
  }

  /** Per GPU of every node: milli left. */
  layouts(): number[][] {
    return this.nodes.map((n) => [...n.gpuLeft]);
  }
}

interface CacheEntry {
  version: number;
  placement: SharePlacement | null;
}

export interface ShareDecision {
  node: number;
  gpus: readonly number[];
}

export class MemoizedShareScheduler {
  private readonly shapeIds = new Map<string, number>();
  /** cache[node][shapeId]. */
  private readonly cache: CacheEntry[][];

  /** `rankOrder`: node indices, best rank first. */
  constructor(
    private readonly cluster: ShareCluster,
    private readonly policy: SharePolicy,
    private readonly rankOrder: readonly number[],
  ) {
    this.cache = cluster.nodes.map(() => []);
  }

  decide(req: ShareRequest): ShareDecision | null {
    const shape = this.shapeId(req);
    let best: ShareDecision | null = null;
    let bestScore = -Infinity;
    for (const node of this.rankOrder) {
      const placement = this.placement(node, shape, req);
      if (placement !== null && placement.score > bestScore) {
        bestScore = placement.score;
        best = { node, gpus: placement.gpus };
      }
    }
    return best;
  }

  private placement(node: number, shape: number, req: ShareRequest): SharePlacement | null {
    const version = this.cluster.nodes[node]?.version ?? 0;
    const row = this.cache[node] as CacheEntry[];
    const cached = row[shape];
    if (cached && cached.version === version) return cached.placement;
    const placement = this.cluster.fits(node, req) ? this.policy.place(this.cluster.nodes[node] as ShareNodeView, req) : null;
    row[shape] = { version, placement };
    return placement;
  }

  private shapeId(req: ShareRequest): number {
    const key = `${req.cpu},${req.memory},${req.milli},${req.gpus},${req.models.join('|')}`;
    let id = this.shapeIds.get(key);
    if (id === undefined) {
      id = this.shapeIds.size;
      this.shapeIds.set(key, id);
    }
    return id;
  }
}
