/** Chained builders for the allocator tests: pods as the API server would hold them, and node specs. */
import type { GpuSpec, NodeMode, NodeSpec } from '../../../src/scheduler/core/index.js';
import { parsePodRequest, type PodRequest } from '../../../src/request/index.js';

type Resources = Record<string, string | number>;

interface ContainerJson {
  name: string;
  resources: { limits?: Resources; requests?: Resources };
}

export class PodBuilder {
  private readonly annotations: Record<string, string> = {};
  private readonly containers: ContainerJson[] = [];
  private readonly initContainers: ContainerJson[] = [];

  constructor(
    private readonly name = 'pod',
    private readonly uid = `uid-${name}`,
  ) {}

  container(limits: Resources = {}, requests: Resources = {}): this {
    this.containers.push({ name: `c${this.containers.length}`, resources: { limits, requests } });
    return this;
  }

  init(limits: Resources = {}, requests: Resources = {}): this {
    this.initContainers.push({ name: `i${this.initContainers.length}`, resources: { limits, requests } });
    return this;
  }

  annotate(key: string, value: string): this {
    this.annotations[key] = value;
    return this;
  }

  json(): Record<string, unknown> {
    return {
      metadata: { name: this.name, namespace: 'team', uid: this.uid, annotations: this.annotations },
      spec: { containers: this.containers, initContainers: this.initContainers },
    };
  }

  /** The parsed request; a test that builds an invalid pod uses `json()` and parses it itself. */
  request(): PodRequest {
    const result = parsePodRequest(this.json());
    if (!result.ok) throw new Error(`test pod does not parse: ${JSON.stringify(result.error)}`);
    return result.value;
  }
}

export const pod = (name?: string): PodBuilder => new PodBuilder(name);

export class NodeBuilder {
  private readonly gpuList: GpuSpec[] = [];
  private cpu = 64_000;
  private memory = 256 * 1024;
  private split = 10;

  constructor(
    private readonly name: string,
    private readonly mode: NodeMode = 'hami-core',
  ) {}

  gpus(count: number, model = 'NVIDIA A100-SXM4-40GB', memoryMiB = 40_960, extra: Partial<GpuSpec> = {}): this {
    for (let i = 0; i < count; i++) {
      const index = this.gpuList.length;
      this.gpuList.push({ uuid: `GPU-${this.name}-${index}`, index, model, memoryMiB, coreUnits: 100, healthy: true, numa: 0, ...extra });
    }
    return this;
  }

  resources(cpuMilli: number, memoryMiB: number): this {
    this.cpu = cpuMilli;
    this.memory = memoryMiB;
    return this;
  }

  splitCount(n: number): this {
    this.split = n;
    return this;
  }

  spec(): NodeSpec {
    return { name: this.name, mode: this.mode, cpuMilli: this.cpu, memoryMiB: this.memory, labels: {}, splitCount: this.split, memoryScaling: 1, gpus: this.gpuList };
  }
}

export const node = (name: string, mode?: NodeMode): NodeBuilder => new NodeBuilder(name, mode);
