import { describe, expect, it } from 'vitest';
import { ClusterState, DEFAULT_RUN_CONTEXT, decide } from '../../src/scheduler/core/index.js';
import { fgdPolicy } from '../../src/scheduler/policies/index.js';
import { FailureLog } from '../../src/simulator/failures.js';
import type { OpenbPod } from '../../src/simulator/openb/csv.js';
import { openbNodeSpec, openbRequest, openbShape } from '../../src/simulator/openb/replay.js';

const pod = (name: string, cpuMilli: number, gpus: number, gpuMilli: number, gpuSpec: string[] = []): OpenbPod => ({ name, cpuMilli, memoryMib: 0, gpus, gpuMilli, gpuSpec });

describe('failures by shape', () => {
  it('names the cause: a model nowhere, GPU room stranded by CPU, GPU free only in pieces', () => {
    // 'a': two T4 GPUs with 500 milli left each and 8 cores; 'c': one free P100 GPU and half a core left.
    const state = new ClusterState([
      openbNodeSpec({ name: 'a', cpuMilli: 8000, memoryMib: 1 << 20, gpus: 2, model: 'T4' }),
      openbNodeSpec({ name: 'c', cpuMilli: 4000, memoryMib: 1 << 20, gpus: 1, model: 'P100' }),
    ]);
    const holds = [
      { node: 'a', request: { ...openbRequest(pod('h0', 0, 1, 500)), useGpuUuids: ['a-gpu-0'] } },
      { node: 'a', request: { ...openbRequest(pod('h1', 0, 1, 500)), useGpuUuids: ['a-gpu-1'] } },
      { node: 'c', request: openbRequest(pod('busy', 3500, 0, 0)) },
    ];
    for (const { node, request } of holds) {
      const held = decide(state, request, node, fgdPolicy);
      expect(held.ok && state.apply(held.value).ok).toBe(true);
    }
    const log = new FailureLog(openbShape);
    const context = DEFAULT_RUN_CONTEXT;
    log.record(state, openbRequest(pod('v100', 1000, 1, 500, ['V100M32'])), fgdPolicy, context);
    // A whole P100: free on c, which lacks the core.
    log.record(state, openbRequest(pod('cpu', 1000, 1, 1000, ['P100'])), fgdPolicy, context);
    // Three GPUs: no node has them.
    log.record(state, openbRequest(pod('three', 0, 3, 1000)), fgdPolicy, context);
    // 600 milli of a T4: a has 1000 free, in two pieces of 500.
    log.record(state, openbRequest(pod('frag', 0, 1, 600, ['T4'])), fgdPolicy, context);
    expect(log.table()).toEqual([
      { shape: '1 x 1000m', models: 'P100', failed: 1, causes: { 'cpu/memory': 1 } },
      { shape: '1 x 500m', models: 'V100M32', failed: 1, causes: { 'model or mode': 1 } },
      { shape: '1 x 600m', models: 'T4', failed: 1, causes: { 'gpu fragmented': 1 } },
      { shape: '3 x 1000m', models: '', failed: 1, causes: { 'model or mode': 1 } },
    ]);
  });
});
