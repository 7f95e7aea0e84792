/**
 * The extender learns the workload its policy keeps room for from the pods it knows, by the rule the simulator
 * follows too (policies/workload.ts `ProfileLearner`): every `refreshMs`, the profile of every GPU pod not finished; when it
 * changes, the MIG planner's demand and, for a policy that needs them (`Policy.needsTypical`), the run context's
 * typical shapes and scarce homes follow, and the allocator drops the verdicts it kept under the old ones. A slow loop on purpose: the profile is a mix over many pods, and each change
 * costs one recomputation of every node's verdicts.
 */
import type { Logger } from 'pino';
import type { DemandMix } from '../../geometry/index.js';
import type { MigPlanner } from '../core/index.js';
import { parsePodRequest, type PodRequest, type RequestConfig } from '../../request/index.js';
import { ProfileLearner, type WorkloadProfile } from '../policies/index.js';
import type { ClusterView } from './cluster-view.js';

export interface WorkloadLearnerOptions {
  view: ClusterView;
  requestConfig: RequestConfig;
  refreshMs: number;
  /** The MIG planner for a demand mix (absent: the planner does not depend on demand). */
  plannerFor?: (demand: DemandMix) => MigPlanner;
  /** Takes the new typical shapes and scarce homes into the run context (absent: the policy is not given them). */
  setLearned?: (learned: Pick<WorkloadProfile, 'typical' | 'scarceHomes'>) => void;
  log: Logger;
}

export interface WorkloadLearner {
  /** Recomputes now; true when the profile changed. */
  refresh(): boolean;
  stop(): void;
}

const FINISHED = new Set(['Succeeded', 'Failed']);

export function startWorkloadLearner(options: WorkloadLearnerOptions): WorkloadLearner {
  const { view, requestConfig, log } = options;
  const learner = new ProfileLearner(options.refreshMs);
  // A pod's resources do not change, so each pod is parsed once (by uid) rather than on every refresh: with tens
  // of thousands of pods, parsing them all would hold the event loop for a noticeable time each round.
  let parsedByUid = new Map<string, PodRequest | null>();
  const refresh = (): boolean => {
    const requests: PodRequest[] = [];
    const seen = new Map<string, PodRequest | null>();
    for (const pod of view.knownPods()) {
      const uid = pod.metadata?.uid;
      if (!uid || FINISHED.has(pod.status?.phase ?? '')) continue;
      let request = parsedByUid.get(uid);
      if (request === undefined) {
        const parsed = parsePodRequest(pod, requestConfig);
        request = parsed.ok && parsed.value.containers.some((c) => c.gpu) ? parsed.value : null;
      }
      seen.set(uid, request);
      if (request) requests.push(request);
    }
    parsedByUid = seen;
    const gpus = view.state.nodes().flatMap((n) => n.gpus);
    // The interval timer is the rule's period here; the simulator asks `due` on its own clock.
    const profile = learner.learn(Date.now(), gpus, requests, view.state.nodes());
    if (!profile) return false;
    options.setLearned?.(profile);
    if (options.plannerFor) view.state.setMigPlanner(options.plannerFor(profile.migDemand));
    else view.state.forgetVerdicts();
    log.info(
      { pods: requests.length, typicalShapes: profile.typical.length, keptNodes: profile.scarceHomes.keptFor.size, migSizes: profile.migDemand.byMemoryMiB?.length ?? 0 },
      'workload profile updated',
    );
    return true;
  };
  const timer = setInterval(refresh, options.refreshMs);
  timer.unref();
  return { refresh, stop: () => clearInterval(timer) };
}
