import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ClusterState } from '../../src/scheduler/core/index.js';
import { scarceHomes } from '../../src/scheduler/policies/index.js';
import { loadOpenb } from '../../src/simulator/openb/run.js';
import { openbNodeSpec, openbRequest } from '../../src/simulator/openb/replay.js';

const shared = path.resolve(import.meta.dirname, '../../../shared/data/openb');
const present = existsSync(path.join(shared, 'openb_pod_list_multigpu50.csv'));
if (!present) console.warn(`skipping the openb scarce-homes test: ${shared} is absent (check out the project's shared folder beside the repository)`);

// The published trace, read as the simulator reads it: the only pods that fit few nodes are the 8-GPU pods asking
// 120 cores, and the only nodes that hold them are the 128-core 8-GPU ones.
describe.skipIf(!present)('scarce homes on the openb multigpu50 trace', () => {
  const { nodes, pods } = present ? loadOpenb(path.join(shared, 'openb_node_list_gpu_node.csv'), path.join(shared, 'openb_pod_list_multigpu50.csv')) : { nodes: [], pods: [] };

  it('keeps the 128-core 8-GPU nodes, and only those, for the whole trace', () => {
    const state = new ClusterState(nodes.map(openbNodeSpec));
    const homes = scarceHomes(state.nodes(), pods.map(openbRequest));
    const wide = nodes.filter((n) => n.cpuMilli === 128_000 && n.gpus === 8);
    expect(wide.length).toBe(39);
    expect([...homes.keptFor.keys()].sort()).toEqual(wide.map((n) => n.name).sort());
    expect(new Set(homes.keptFor.values())).toEqual(new Set([39]));
  });

  it('keeps four of them per wide pod known, the emptiest first', () => {
    const state = new ClusterState(nodes.map(openbNodeSpec));
    const firstWide = pods.find((p) => p.gpus === 8 && p.cpuMilli >= 120_000);
    expect(firstWide).toBeDefined();
    const homes = scarceHomes(state.nodes(), firstWide ? [openbRequest(firstWide)] : []);
    expect(homes.keptFor.size).toBe(4);
  });
});
