/**
 * Families of MIG traces that differ in what matters to a MIG placer: the mix of instance sizes, the arrival rate
 * (offered load), the lifetime distribution (exponential or heavy-tailed), the GPU models, and whether a node keeps
 * an instance after its pod leaves. Generated in memory, seeded and deterministic; the split into the families a
 * policy may be tuned on and the ones held back for reporting is fixed here, so no tuning can see the held-back
 * ones by accident. Pure: builds the cluster file and trace text and parses them with the simulator's own parsers.
 */
import { Rng } from '../rng.js';
import type { IdleMigInstances, NodeSpec } from '../../scheduler/core/index.js';
import { parseClusterFile } from './cluster-file.js';
import { parseTraceFile, type TraceEvent } from './trace-file.js';

export type Lifetime = 'exponential' | 'pareto' | 'lognormal';

export interface MigFamily {
  readonly name: string;
  readonly split: 'tuned' | 'held-back';
  /** Node groups: catalog model, nodes, GPUs per node. */
  readonly nodes: readonly { readonly model: string; readonly count: number; readonly gpus: number }[];
  /** GPU memory asked (MiB, the top of a range: each pod asks between 70% and 100% of it) and how often. */
  readonly mix: readonly { readonly memoryMiB: number; readonly weight: number }[];
  readonly pods: number;
  /** Offered load: GPU memory the pods would hold on average if all were placed / the cluster's GPU memory. */
  readonly load: number;
  readonly lifetime: Lifetime;
  /** Mean lifetime, s. */
  readonly meanLifeS: number;
  /** What a node does with an instance whose pod left: keep it (free, reusable) or destroy it. */
  readonly idle: IdleMigInstances;
}

/** Sizes around the small end (1g-heavy), the middle (2g/3g/4g-heavy) and the top (half and whole GPUs). */
const SMALL = [
  { memoryMiB: 4800, weight: 45 },
  { memoryMiB: 9800, weight: 25 },
  { memoryMiB: 19900, weight: 15 },
  { memoryMiB: 40000, weight: 10 },
  { memoryMiB: 80000, weight: 5 },
];
const MIDDLE = [
  { memoryMiB: 4800, weight: 10 },
  { memoryMiB: 11900, weight: 30 },
  { memoryMiB: 19900, weight: 30 },
  { memoryMiB: 23900, weight: 15 },
  { memoryMiB: 40000, weight: 15 },
];
const LARGE = [
  { memoryMiB: 9800, weight: 20 },
  { memoryMiB: 40000, weight: 30 },
  { memoryMiB: 80000, weight: 40 },
  { memoryMiB: 140000, weight: 10 },
];
const EVEN = [
  { memoryMiB: 5900, weight: 20 },
  { memoryMiB: 9800, weight: 20 },
  { memoryMiB: 19900, weight: 20 },
  { memoryMiB: 23900, weight: 20 },
  { memoryMiB: 40000, weight: 20 },
];

const A100_40 = 'A100-SXM4-40GB';
const A100_80 = 'A100-SXM4-80GB';
const H100 = 'H100-SXM5-80GB';
const H200 = 'H200-141GB';
const A30 = 'A30-24GB';

export const MIG_FAMILIES: readonly MigFamily[] = [
  { name: 'small-a100-h100-exp-keep', split: 'tuned', nodes: [g(A100_40, 3), g(H100, 3)], mix: SMALL, pods: 1500, load: 1.1, lifetime: 'exponential', meanLifeS: 1400, idle: 'keep' },
  {
    name: 'middle-a30-a100-exp-destroy',
    split: 'tuned',
    nodes: [g(A30, 4), g(A100_40, 2), g(A100_80, 2)],
    mix: MIDDLE,
    pods: 1500,
    load: 1.0,
    lifetime: 'exponential',
    meanLifeS: 1200,
    idle: 'destroy',
  },
  { name: 'large-h100-h200-pareto-keep', split: 'tuned', nodes: [g(H100, 3), g(H200, 2)], mix: LARGE, pods: 1200, load: 1.0, lifetime: 'pareto', meanLifeS: 1500, idle: 'keep' },
  { name: 'even-a100-h100-lognormal-keep', split: 'tuned', nodes: [g(A100_40, 2), g(A100_80, 2), g(H100, 2)], mix: EVEN, pods: 1500, load: 1.3, lifetime: 'lognormal', meanLifeS: 1000, idle: 'keep' },
  {
    name: 'small-a100x2-h100-exp-keep',
    split: 'held-back',
    nodes: [g(A100_40, 2), g(A100_80, 2), g(H100, 2)],
    mix: SMALL,
    pods: 2000,
    load: 1.0,
    lifetime: 'exponential',
    meanLifeS: 1400,
    idle: 'keep',
  },
  { name: 'middle-a30-h200-pareto-keep', split: 'held-back', nodes: [g(A30, 4), g(H200, 2)], mix: MIDDLE, pods: 1500, load: 1.1, lifetime: 'pareto', meanLifeS: 1200, idle: 'keep' },
  { name: 'large-a100-h100-lognormal-destroy', split: 'held-back', nodes: [g(A100_80, 3), g(H100, 3)], mix: LARGE, pods: 1200, load: 0.9, lifetime: 'lognormal', meanLifeS: 1500, idle: 'destroy' },
  {
    name: 'even-all-fast-exp-keep',
    split: 'held-back',
    nodes: [g(A30, 2), g(A100_40, 2), g(H100, 2), g(H200, 1)],
    mix: EVEN,
    pods: 2000,
    load: 1.5,
    lifetime: 'exponential',
    meanLifeS: 300,
    idle: 'keep',
  },
  { name: 'small-h100-h200-pareto-destroy', split: 'held-back', nodes: [g(H100, 3), g(H200, 2)], mix: SMALL, pods: 1500, load: 1.2, lifetime: 'pareto', meanLifeS: 1200, idle: 'destroy' },
];

function g(model: string, count: number): MigFamily['nodes'][number] {
  return { model, count, gpus: 4 };
}

export interface MigFamilyTrace {
  nodes: NodeSpec[];
  events: TraceEvent[];
  idle: IdleMigInstances;
}

/** One trace of `family`, the same for the same seed; `pods` overrides the family's pod count (smaller tests). */
export function generateMigFamily(family: MigFamily, seed: number, pods = family.pods): MigFamilyTrace {
  const cluster = `nodes:\n${family.nodes
    .map((n) => `  - name: ${n.model.toLowerCase()}\n    count: ${n.count}\n    mode: mig\n    gpu: { model: ${n.model}, count: ${n.gpus} }\n    cpuMilli: 256000\n    memoryMiB: 2097152\n`)
    .join('')}`;
  const nodes = parseClusterFile(`${family.name}.yaml`, cluster);
  const capacity = nodes.reduce((sum, n) => sum + n.gpus.reduce((s, gpu) => s + gpu.memoryMiB, 0), 0);
  const total = family.mix.reduce((s, m) => s + m.weight, 0);
  const meanAsk = (0.85 * family.mix.reduce((s, m) => s + m.memoryMiB * m.weight, 0)) / total;
  const meanGapS = (family.meanLifeS * meanAsk) / (family.load * capacity);
  const rng = new Rng(seed);
  const uniform = (): number => (rng.uint32() + 0.5) / 2 ** 32;
  // In any order: the trace parser sorts events by time.
  const lines: string[] = [];
  let now = 0;
  for (let i = 0; i < pods; i++) {
    now += -meanGapS * Math.log(uniform());
    const at = Math.round(now * 1000) / 1000;
    const name = `pod-${String(i).padStart(5, '0')}`;
    let x = uniform() * total;
    const size = family.mix.find((m) => (x -= m.weight) < 0) ?? family.mix[family.mix.length - 1];
    const memoryMiB = Math.round((size?.memoryMiB ?? 0) * (0.7 + 0.3 * uniform()));
    lines.push(JSON.stringify({ at, pod: podJson(name, memoryMiB) }));
    const end = Math.round((now + lifetime(family, uniform)) * 1000) / 1000;
    lines.push(JSON.stringify({ at: end, delete: `sim/${name}` }));
  }
  return { nodes, events: parseTraceFile(`${family.name}.jsonl`, lines.join('\n')), idle: family.idle };
}

/** A lifetime with the family's mean: exponential, Pareto (shape 1.5: infinite variance) or lognormal (sigma 1.5). */
function lifetime(family: MigFamily, uniform: () => number): number {
  const mean = family.meanLifeS;
  if (family.lifetime === 'exponential') return -mean * Math.log(uniform());
  if (family.lifetime === 'pareto') {
    const shape = 1.5;
    return ((mean * (shape - 1)) / shape) * uniform() ** (-1 / shape);
  }
  const sigma = 1.5;
  const normal = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  return mean * Math.exp(sigma * normal - (sigma * sigma) / 2);
}

function podJson(name: string, memoryMiB: number): object {
  return {
    metadata: { name, namespace: 'sim', annotations: { 'nvidia.com/vgpu-mode': 'mig' } },
    spec: { containers: [{ name: 'main', resources: { requests: { cpu: '1', memory: '4Gi' }, limits: { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': String(memoryMiB) } } }] },
  };
}
