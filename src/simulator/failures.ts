/**
 * Why pods failed, per request shape, so a margin between policies can be explained and not only measured. A failed
 * pod is asked once more with reasons (`schedule` with `explain`), and counted under one cause:
 *
 *   model or mode   no node could ever take it (its GPU models or vgpu-mode exist nowhere, or too few GPUs)
 *   cpu/memory      a node had the GPU room but not the CPU or memory: capacity stranded beside busy CPUs
 *   gpu fragmented  no node had the GPU room, though the nodes it may use held that much GPU free in all
 *   gpu full        no node had the GPU room, and the nodes it may use held less GPU free than it asks
 *   mig             no MIG instance could be made for it now
 *
 * GPU room is read on the allocator's projection (`NodeView.gpuLeft`, milli-GPU per GPU).
 */
import { eachFit, type NodeFit, type NodeView, type Policy, type RunContext } from '../scheduler/core/index.js';
import type { PodRequest } from '../request/index.js';
import type { ClusterState } from '../scheduler/core/index.js';
import { milliOf } from '../scheduler/policies/index.js';

export type FailureCause = 'model or mode' | 'cpu/memory' | 'gpu fragmented' | 'gpu full' | 'mig';

export interface FailureRow {
  /** The request's size as the caller labels it (openb: GPUs x milli-GPU). */
  shape: string;
  /** The GPU models it may use; '' for any. */
  models: string;
  failed: number;
  causes: Partial<Record<FailureCause, number>>;
}

export class FailureLog {
  private readonly rows = new Map<string, FailureRow>();

  constructor(private readonly label: (request: PodRequest) => string) {}

  /** Records why `request` found no node. */
  record(state: ClusterState, request: PodRequest, policy: Policy, context: RunContext): void {
    const failed: NodeFit[] = [];
    eachFit(
      state,
      request,
      policy,
      { context },
      () => undefined,
      (fit) => failed.push(fit),
    );
    const cause = causeOf(state, request, failed);
    const shape = this.label(request);
    const models = request.useGpuTypes.join('|');
    const key = `${shape} ${models}`;
    let row = this.rows.get(key);
    if (!row) {
      row = { shape, models, failed: 0, causes: {} };
      this.rows.set(key, row);
    }
    row.failed++;
    row.causes[cause] = (row.causes[cause] ?? 0) + 1;
  }

  /** Adds another log's rows (seeds of one policy). */
  merge(rows: readonly FailureRow[]): void {
    for (const r of rows) {
      const key = `${r.shape} ${r.models}`;
      const row = this.rows.get(key) ?? { shape: r.shape, models: r.models, failed: 0, causes: {} };
      row.failed += r.failed;
      for (const [cause, n] of Object.entries(r.causes) as [FailureCause, number][]) row.causes[cause] = (row.causes[cause] ?? 0) + n;
      this.rows.set(key, row);
    }
  }

  /** Most failed first. */
  table(): FailureRow[] {
    return [...this.rows.values()].sort((a, b) => b.failed - a.failed || (a.shape < b.shape ? -1 : a.shape > b.shape ? 1 : 0));
  }
}

function causeOf(state: ClusterState, request: PodRequest, failed: readonly NodeFit[]): FailureCause {
  const demand = request.containers.find((c) => c.gpu)?.gpu ?? null;
  const typed = request.useGpuTypes.length + request.noUseGpuTypes.length > 0;
  let usable = 0;
  let freeMilli = 0;
  let perGpu = 0;
  let mig = false;
  for (const fit of failed) {
    if (fit.outcome === 'unresolvable') continue;
    const reason = fit.reasons[0];
    const node = state.node(fit.node);
    // The allocator checks CPU before the GPU model: a node of another model is no candidate, whatever it lacks.
    if (!node || !reason || (demand && typed && !node.gpus.some((g) => typeAllowed(request, g.model)))) continue;
    usable++;
    if (reason.kind === 'InsufficientResource' && reason.resource === 'mig') mig = true;
    if (!demand || node.allocation !== 'shared') continue;
    for (let i = 0; i < node.gpuLeft.length; i++) freeMilli += node.gpuLeft[i] ?? 0;
    const first = node.gpus[0];
    if (perGpu === 0 && first) perGpu = milliOf(first, memoryOn(first, demand.memory), demand.cores);
    const cpuOrMemory = reason.kind === 'InsufficientResource' && (reason.resource === 'cpu' || reason.resource === 'memory');
    if (cpuOrMemory && gpuRoom(node, demand.count, demand.memory, demand.cores)) return 'cpu/memory';
  }
  if (usable === 0) return 'model or mode';
  if (!demand) return 'cpu/memory';
  if (mig) return 'mig';
  return freeMilli >= perGpu * demand.count ? 'gpu fragmented' : 'gpu full';
}

const memoryOn = (gpu: { memoryMiB: number }, memory: { mib: number } | { percent: number }): number => ('mib' in memory ? memory.mib : Math.floor((gpu.memoryMiB * memory.percent) / 100));

/** The pod's GPU type filters on one model, as the allocator reads them (fit.ts). */
function typeAllowed(request: PodRequest, model: string): boolean {
  const matches = (t: string): boolean => (request.gpuTypeMatch === 'exact' ? model === t : model.toLowerCase().includes(t));
  return (request.useGpuTypes.length === 0 || request.useGpuTypes.some(matches)) && !request.noUseGpuTypes.some(matches);
}

/** Whether `count` GPUs of the node each have the room one vGPU of this size takes. */
function gpuRoom(node: NodeView, count: number, memory: { mib: number } | { percent: number }, cores: number): boolean {
  let room = 0;
  for (let i = 0; i < node.gpus.length; i++) {
    const gpu = node.gpus[i];
    if (gpu && (node.gpuLeft[i] ?? 0) >= milliOf(gpu, memoryOn(gpu, memory), cores)) room++;
  }
  return room >= count;
}
