/**
 * The extender's decisions: filter, prioritize and bind as kube-scheduler calls them. Each handler reads the
 * cluster view, asks the allocator (pure), and for bind hands the result to the effects. No node lock: capacity is
 * taken in the book synchronously when bind decides, so concurrent binds on one node each see the others' grants.
 */
import type { KeyObject } from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import { LRUMap } from 'mnemonist';
import type { Logger } from 'pino';
import { type Decision, describeInFlightConflict, encodeDecision, mayJoinInFlight, signedDecision } from '../../api/index.js';
import { TesseraError } from '../../errors.js';
import { BestNode, MAX_NODE_SCORE, allocationOf, decide, eachFit, type Allocation, type NodeFit, type Policy, type RankedNode, type RunContext } from '../core/index.js';
import type { ClusterView } from './cluster-view.js';
import { CycleCache, type CycleScores } from './cycle-cache.js';
import type { PodRef } from './effects.js';
import type { ExtenderMetrics } from './metrics.js';
import type { ExtenderService } from './server.js';
import { MAX_EXTENDER_PRIORITY, filterReply, offeredNodeNames, type BindArgs, type FilterArgs, type FilterReply, type HostScore, type PreemptArgs, type PreemptReply } from './wire.js';
import { parsePodRequest, reasonText, type PodRequest, type RequestConfig } from '../../request/index.js';

/** The writes bind needs (effects.ts implements them against the API server). */
export interface BindEffects {
  /**
   * Binds the pod to the decision's node with the decision (`text`, its annotation value) in one write. `cached` is
   * the informer's copy of the pod, which saves a read when it is current. Resolves once the pod is bound.
   */
  bindWithDecision(pod: PodRef, decision: Decision, text: string, cached?: V1Pod): Promise<void>;
  /** Withdraws `decision` (when one was granted) from the pod with a signed release. */
  markFailed(pod: PodRef, reason: string, message: string, decision?: Decision): Promise<void>;
}

/** Whether this replica may decide now, and a bounded wait for the informers' first sync. */
export interface Readiness {
  notReadyReason(): string | undefined;
  /** Resolves true once synced, false after `ms`. */
  waitSynced(ms: number): Promise<boolean>;
}

export interface ExtenderOptions {
  view: ClusterView;
  effects: BindEffects;
  readiness: Readiness;
  policy: Policy;
  context: RunContext;
  requestConfig: RequestConfig;
  /** The scheduler's Ed25519 private key. */
  key: KeyObject;
  log: Logger;
  metrics: ExtenderMetrics;
  now: () => number;
  syncWaitMs: number;
  /** `best`: filter answers only the node the policy ranks first; `all`: every fitting node (ExtenderConfig.filterAnswers). */
  filterAnswers: 'best' | 'all';
}

/** Maps the policy's 0..MAX_NODE_SCORE onto the extender's 0..MAX_EXTENDER_PRIORITY. */
export const extenderScore = (score: number): number => Math.round((score * MAX_EXTENDER_PRIORITY) / MAX_NODE_SCORE);

// A node's verdict is kept (and shared) until the node changes, so its text is written once per change, not once
// per filter: at 5,000 nodes a tenth of filter's garbage was these strings.
const fitTexts = new WeakMap<NodeFit, string>();
function fitText(fit: NodeFit): string {
  let text = fitTexts.get(fit);
  if (text === undefined) {
    text = fit.reasons.map(reasonText).join('; ') || fit.outcome;
    fitTexts.set(fit, text);
  }
  return text;
}

/** Why a node whose reported devices do not hold all its grants yet takes no pod (ClusterView.settling). */
const SETTLING = 'a grant on this node does not fit the devices it reports now; it takes no new pod until they agree';

export class Extender implements ExtenderService {
  private readonly cycles = new CycleCache();
  /** Pods this process bound, by uid, to their node (bounded): the informer may not show the binding yet. */
  private readonly bound = new LRUMap<string, string>(100_000);
  /**
   * Per node, the last in-flight verdict and what it was computed from (the request, the node's allocator version,
   * its book stamp, the policy context): while alike pods drain, filter recomputes it only where the last bind
   * changed something. It cost most of a 500-node filter on the real control plane (bench k8s).
   */
  private readonly joinVerdicts = new Map<string, { requestKey: number; version: number; stamp: number; conflict: string | undefined }>();
  /** Request keys by their text (bounded): a number compares in one step where the text took a string per node. */
  private readonly requestIds = new LRUMap<string, number>(1024);
  private nextRequestId = 0;
  private contextVersion = 0;

  constructor(private readonly o: ExtenderOptions) {}

  notReadyReason(): string | undefined {
    return this.o.readiness.notReadyReason();
  }

  /** The workload learner's typical shapes and scarce homes, for the decisions from now on. */
  setLearned(learned: Pick<RunContext, 'typical' | 'scarceHomes'>): void {
    this.o.context = { ...this.o.context, typical: learned.typical, scarceHomes: learned.scarceHomes };
    this.contextVersion++;
  }

  private async ensureReady(): Promise<void> {
    if (this.o.readiness.notReadyReason() === undefined) return;
    await this.o.readiness.waitSynced(this.o.syncWaitMs);
    const reason = this.o.readiness.notReadyReason();
    if (reason !== undefined) throw new TesseraError('UNAVAILABLE', `tessera extender not ready: ${reason}`);
  }

  private request(pod: unknown): PodRequest {
    const parsed = parsePodRequest(pod, this.o.requestConfig);
    if (!parsed.ok) throw new TesseraError('INVALID_REQUEST', reasonText(parsed.error));
    return parsed.value;
  }

  async filter(args: FilterArgs): Promise<FilterReply> {
    const started = performance.now();
    await this.ensureReady();
    const names = offeredNodeNames(args);
    const parsed = parsePodRequest(args.pod, this.o.requestConfig);
    if (!parsed.ok) {
      // No node can ever take an invalid request: say so for each, so preemption does not try.
      const why = reasonText(parsed.error);
      return filterReply(args, [], {}, Object.fromEntries(names.map((n) => [n, why])));
    }
    const request = parsed.value;
    const { view } = this.o;
    // kube-scheduler filters a pod only while it is unbound: a grant it still holds is from an attempt that failed.
    // Anyone can call filter: a grant of a pod that is bound already is never given back here.
    const stale = view.book.get(request.pod.uid);
    if (stale && !view.isBinding(request.pod.uid) && this.boundTo(request.pod.namespace, request.pod.name, request.pod.uid) === undefined) view.book.release(request.pod.uid);

    const generation = view.generation;
    const fit: string[] = [];
    const best = this.o.filterAnswers === 'all' ? undefined : new BestNode(view.state, this.o.context);
    // Scores are kept for prioritize, which kube-scheduler skips when filter answers one node.
    let scored: CycleScores | undefined;
    const failed: Record<string, string> = {};
    const unresolvable: Record<string, string> = {};
    const annotations = args.pod.metadata.annotations;
    const requestKey = this.requestKey(request);
    const ownNode = view.book.get(request.pod.uid)?.node;
    const accept = (r: RankedNode): boolean => {
      const waits = view.settling(r.node) ? SETTLING : this.inFlightConflict(request, annotations, r, r.node === ownNode ? undefined : requestKey);
      // Unschedulable for now, on this node and for this shape only: the node stays open to other shapes.
      if (waits !== undefined) failed[r.node] = waits;
      return waits === undefined;
    };
    const explain = (f: NodeFit): void => void ((f.outcome === 'unresolvable' ? unresolvable : failed)[f.node] = fitText(f));
    if (best) {
      // The policy's node alone, and no reasons for the others: kube-scheduler binds a pod with one feasible node
      // without scoring it, and reads the reasons only when no node is left (they were most of both sides' work at
      // 2,000 nodes). When no node fits, a second pass explains every one.
      // A node is checked for pods in flight only if it would be the best so far. Until one passes, every fitting
      // node is checked, so a filter that answers none has every refused node's reason.
      eachFit(view.state, request, this.o.policy, { candidates: names, context: this.o.context }, (r) => {
        if (best.beats(r) && accept(r)) best.offer(r);
      });
      if (best.node !== undefined) fit.push(best.node);
      else eachFit(view.state, request, this.o.policy, { candidates: names, context: this.o.context }, () => undefined, explain);
    } else {
      // Sized for every candidate: typed arrays live outside the heap, so the spare room costs no collection.
      const versions = new Float64Array(names.length);
      const scores = new Float64Array(names.length);
      eachFit(
        view.state,
        request,
        this.o.policy,
        { candidates: names, context: this.o.context },
        (r) => {
          if (!accept(r)) return;
          versions[fit.length] = r.version;
          scores[fit.length] = r.score;
          fit.push(r.node);
        },
        explain,
      );
      if (fit.length > 1) scored = { generation, nodes: fit, versions, scores };
    }
    // Counting thousands of reasons only for a message nobody reads would cost every filter.
    if (this.o.log.isLevelEnabled('debug')) this.o.log.debug({ pod: request.pod.name, fit: fit.length, failed: Object.keys(failed).length + Object.keys(unresolvable).length }, 'filter');
    this.cycles.set(request.pod.uid, { request, annotations: args.pod.metadata.annotations, scored });
    this.o.metrics.latency.observe({ verb: 'filter' }, (performance.now() - started) / 1000);
    return best?.node !== undefined ? filterReply(args, fit, {}, {}) : filterReply(args, fit, failed, unresolvable);
  }

  /** The node a pod is bound to, as far as this process knows (its own binds, the informer, a confirmed grant). */
  private boundTo(namespace: string, name: string, uid: string): string | undefined {
    const seen = this.o.view.pod(namespace, name);
    const held = this.o.view.book.get(uid);
    return this.bound.get(uid) ?? (seen?.metadata?.uid === uid ? seen.spec?.nodeName : undefined) ?? (held?.phase === 'confirmed' ? held.node : undefined);
  }

  /** A number per request apart from the pod's identity and per policy context: alike pods share one. */
  private requestKey(request: PodRequest): number {
    const text = `${this.contextVersion}\u0000${JSON.stringify({ ...request, pod: null })}`;
    let id = this.requestIds.get(text);
    if (id === undefined) {
      id = this.nextRequestId++;
      this.requestIds.set(text, id);
    }
    return id;
  }

  /**
   * Why the pod may not be in flight on the ranked node now, or undefined when it may (src/api/inflight.ts).
   * `requestKey`: the request's number (requestKey), to reuse the node's last verdict (undefined: do not).
   */
  private inFlightConflict(request: PodRequest, annotations: Record<string, string> | undefined, ranked: RankedNode, requestKey: number | undefined): string | undefined {
    const { view } = this.o;
    if (!view.hasInFlight(ranked.node)) return undefined;
    const stamp = view.book.stampOf(ranked.node);
    const cached = this.joinVerdicts.get(ranked.node);
    if (requestKey !== undefined && cached?.requestKey === requestKey && cached.version === ranked.version && cached.stamp === stamp) return cached.conflict;
    const allocation = allocationOf(view.state, request, ranked.placement);
    const conflict = allocation.ok ? this.joinConflict(allocation.value, annotations) : reasonText(allocation.error);
    if (requestKey !== undefined) this.joinVerdicts.set(ranked.node, { requestKey, version: ranked.version, stamp, conflict });
    return conflict;
  }

  private joinConflict(allocation: Allocation, annotations: Record<string, string> | undefined): string | undefined {
    const { view } = this.o;
    const shape = view.shapeOf(allocation, annotations);
    const verdict = mayJoinInFlight(view.inFlightShapes(allocation.node, allocation.pod.uid), shape);
    return verdict.join ? undefined : describeInFlightConflict(verdict.conflict);
  }

  async prioritize(args: FilterArgs): Promise<HostScore[]> {
    const started = performance.now();
    const uid = args.pod.metadata.uid;
    const names = offeredNodeNames(args);
    let cycle = this.cycles.get(uid);
    if (!cycle) {
      cycle = { request: this.request(args.pod), annotations: args.pod.metadata.annotations, scored: undefined };
      this.cycles.set(uid, cycle);
    }
    const { scored } = cycle;
    cycle.scored = undefined;
    const reply = (scored && this.cachedScores(scored, names)) ?? this.rescore(cycle.request, scored, names);
    this.o.metrics.latency.observe({ verb: 'prioritize' }, (performance.now() - started) / 1000);
    return reply;
  }

  /** The scores filter computed, when nothing changed since and kube-scheduler asks about exactly those nodes. */
  private cachedScores(scored: CycleScores, names: readonly string[]): HostScore[] | undefined {
    if (scored.generation !== this.o.view.generation || names.length !== scored.nodes.length) return undefined;
    const reply: HostScore[] = new Array(names.length);
    for (let i = 0; i < names.length; i++) {
      const name = names[i] as string;
      if (name !== scored.nodes[i]) return undefined;
      reply[i] = { Host: name, Score: extenderScore(scored.scores[i] ?? 0) };
    }
    return reply;
  }

  /** Scores kept where the node's version did not move, recomputed for the nodes that changed (all without filter's). */
  private rescore(request: PodRequest, scored: CycleScores | undefined, names: readonly string[]): HostScore[] {
    const { view } = this.o;
    const known = new Map<string, number>();
    scored?.nodes.forEach((node, i) => known.set(node, i));
    const score = new Map<string, number>();
    const stale: string[] = [];
    for (const name of names) {
      const i = known.get(name);
      if (scored && i !== undefined && scored.versions[i] === view.state.node(name)?.version) score.set(name, scored.scores[i] ?? 0);
      else stale.push(name);
    }
    if (stale.length > 0) {
      eachFit(view.state, request, this.o.policy, { candidates: stale, context: this.o.context }, (r) => score.set(r.node, r.score));
    }
    return names.map((n) => ({ Host: n, Score: extenderScore(score.get(n) ?? 0) }));
  }

  /**
   * Preemption: of the victims kube-scheduler proposes per node, keeps the nodes where evicting them frees GPUs
   * enough for the pod and drops the others (evicting there would not help). Each check takes the victims' grants
   * off the allocator's state and puts them back in the same turn, so no other call ever sees the difference.
   */
  async preempt(args: PreemptArgs): Promise<PreemptReply> {
    await this.ensureReady();
    const request = this.request(args.pod);
    const { state } = this.o.view;
    const kept: PreemptReply['NodeNameToMetaVictims'] = {};
    for (const [node, victims] of Object.entries(args.victims)) {
      const taken = victims.uids.map((uid) => state.allocation(uid)).filter((a): a is Allocation => a?.node === node);
      for (const a of taken) state.release(a.pod.uid);
      const fits = decide(state, request, node, this.o.policy, this.o.context).ok;
      for (const a of taken) state.apply(a);
      if (fits) kept[node] = { Pods: victims.uids.map((UID) => ({ UID })), NumPDBViolations: victims.numPDBViolations };
    }
    return { NodeNameToMetaVictims: kept };
  }

  /**
   * Decides on the chosen node, takes the capacity in the book, and binds the pod with its signed decision in one
   * write. A retried bind for the same pod and node reuses its grant; any failure gives the
   * capacity back and marks the pod.
   */
  async bind(args: BindArgs): Promise<string> {
    const started = performance.now();
    const { view, effects, log } = this.o;
    const ref: PodRef = { namespace: args.podNamespace, name: args.podName, uid: args.podUid };
    if (view.isBinding(ref.uid)) return `pod ${ref.namespace}/${ref.name} is already being bound`;
    // A bound pod's grant is in use: a second bind (a retry, or anyone replaying one) never moves or frees it.
    const boundTo = this.boundTo(ref.namespace, ref.name, ref.uid);
    if (boundTo !== undefined) return boundTo === args.node && view.book.get(ref.uid)?.node === boundTo ? '' : `pod ${ref.namespace}/${ref.name} is already bound to ${boundTo}`;
    view.beginBind(ref.uid);
    let decision: Decision | undefined;
    try {
      const granted = this.grant(ref, args.node);
      decision = granted.decision;
      view.trustDecision(granted.text, decision);
      await effects.bindWithDecision(ref, decision, granted.text, view.pod(ref.namespace, ref.name) as V1Pod | undefined);
      this.bound.set(ref.uid, args.node);
      this.o.metrics.binds.inc({ outcome: 'bound' });
      log.info({ pod: `${ref.namespace}/${ref.name}`, node: args.node, ms: performance.now() - started }, 'bound');
      return '';
    } catch (error) {
      if (decision) view.book.release(ref.uid);
      const message = error instanceof TesseraError ? error.message : `bind failed: ${(error as Error).message ?? String(error)}`;
      log.warn({ pod: `${ref.namespace}/${ref.name}`, node: args.node, err: error }, 'bind failed; capacity released');
      this.o.metrics.binds.inc({ outcome: 'failed' });
      await effects.markFailed(ref, 'FailedBinding', `tessera: ${message}`, decision);
      return message;
    } finally {
      view.endBind(ref.uid);
      this.o.metrics.latency.observe({ verb: 'bind' }, (performance.now() - started) / 1000);
    }
  }

  /** The pod's signed decision on `node` and its text: the one it holds already (a retried bind), or a new one taken now. */
  private grant(ref: PodRef, node: string): { decision: Decision; text: string } {
    const { view } = this.o;
    const held = view.book.get(ref.uid);
    if (held?.node === node) return { decision: held.decision, text: encodeDecision(held.decision) };
    if (held) view.book.release(ref.uid);
    // The pod as filter saw it, else as the informer has it (after a restart, filter may not have seen it).
    const cycle = this.cycles.get(ref.uid);
    const seen = view.pod(ref.namespace, ref.name);
    const pod = seen?.metadata?.uid === ref.uid ? seen : undefined;
    if (!cycle && !pod) throw new TesseraError('NOT_FOUND', `pod ${ref.namespace}/${ref.name} (uid ${ref.uid}) is not known`, { field: 'PodUID' });
    const request = cycle?.request ?? this.request(pod);
    if (view.settling(node)) throw new TesseraError('CONFLICT', `node ${node} cannot take the pod now: ${SETTLING}`, { field: 'Node' });
    const decided = decide(view.state, request, node, this.o.policy, this.o.context);
    if (!decided.ok) throw new TesseraError('CONFLICT', `node ${node} cannot take the pod: ${fitText(decided.error)}`, { field: 'Node' });
    const waits = this.joinConflict(decided.value, cycle?.annotations ?? pod?.metadata?.annotations);
    if (waits) throw new TesseraError('CONFLICT', `node ${node} cannot take the pod now: ${waits}`, { field: 'Node' });
    const signed = signedDecision(decided.value, new Date(this.o.now()).toISOString(), this.o.key);
    view.book.hold({ podUid: ref.uid, node, decision: signed.decision, allocation: decided.value, phase: 'reserved', since: this.o.now() });
    return signed;
  }
}
