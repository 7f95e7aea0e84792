/**
 * The extender's picture of the cluster, kept by the informers: GPU nodes from their inventory annotations (or,
 * on nodes run by HAMi's own device plugin, HAMi's register annotation), and every grant (the book) from pods'
 * signed decisions, the device lists HAMi's scheduler wrote, and this process's own binds in flight. The allocator's
 * `ClusterState` is derived from both and always holds exactly the book's grants on the known nodes.
 */
import { LRUMap } from 'mnemonist';
import type { Logger } from 'pino';
import { type Decision, decisionOf, decodeInventory, grantOf, HAMI_NODE, HAMI_POD, type NodeInventory, pinsGpus, type PodShape, shapeOf, TESSERA_NODE, type TrustedKeys } from '../../api/index.js';
import { sharingMode } from '../../modes/index.js';
import { TesseraError } from '../../errors.js';
import { ClusterState, type Allocation, type MigPlanner, type NodeSpec } from '../core/index.js';
import { hamiGrantOf, hamiInventory, type HamiPodLike } from './hami-nodes.js';
import { podGrant, type PodLike } from './pod-grant.js';
import { Reservations, type Reservation } from './reservations.js';
import { BYTES_PER_MIB, parseQuantity, quantityCeil, reasonText } from '../../request/index.js';

/** The Node fields the view reads (a client-node V1Node fits). */
export interface NodeLike {
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  status?: { allocatable?: Record<string, string> };
}

export interface ClusterViewOptions {
  /** The scheduler's public key and the nodes' published ones (node-keys.ts). */
  keys: TrustedKeys;
  log: Logger;
  /** HAMi's deviceMemoryScaling (1: no overcommit). */
  memoryScaling: number;
  /** Per-node overrides (the device config's nodeconfig `devicememoryscaling`). */
  nodeMemoryScaling?: Readonly<Record<string, number>>;
  migPlanner?: MigPlanner;
  /** The catalog's name for a model as the driver reports it; identity when the catalog does not know it. */
  resolveModel?: (reported: string) => string;
  /** Milliseconds, for the age of grants seen without a bind-time. */
  now: () => number;
}

/** Pods by namespace/name, the key bind arrives with. */
const podKey = (namespace: string, name: string): string => `${namespace}/${name}`;

function quantityOf(allocatable: Record<string, string> | undefined, name: string, scale: bigint, per: bigint): number {
  const q = allocatable?.[name] === undefined ? null : parseQuantity(String(allocatable[name]));
  // A node that reports no allocatable CPU or memory is not limited by the extender: kube-scheduler checks those.
  return q ? quantityCeil(q, scale, per) : Number.MAX_SAFE_INTEGER;
}

export class ClusterView {
  readonly state: ClusterState;
  readonly book: Reservations<Allocation>;
  private readonly inventories = new Map<string, string>();
  /** Nodes known from HAMi's register annotation: their memory is already scaled by HAMi's device plugin. */
  private readonly hamiNodes = new Set<string>();
  private changes = 0;
  private readonly pods = new Map<string, PodLike>();
  /** Pods this process is binding now: informer events about them wait for the bind's own outcome. */
  private readonly binding = new Set<string>();
  /** Decisions already verified, so a granted pod's further events cost no HMAC (bounded: an LRU). */
  private readonly verified = new LRUMap<string, Decision>(20_000);
  /** Shapes of granted pods, by uid, computed when first needed (src/api/inflight.ts). */
  private readonly shapes = new Map<string, PodShape>();
  /**
   * Grant changes on a node not applied yet, by pod uid. The device plugin exchanges grants between
   * interchangeable pods with one write per pod, so a pod's new grant collides with another pod's old one until
   * that pod's write arrives too. The old grants stay counted until all pending changes on the node apply together,
   * so capacity is never shown free while a device is in use.
   */
  private readonly pendingChanges = new Map<string, Reservation<Allocation>>();
  /**
   * Grants in the book that do not fit what their node reports now, by node: the allocator's view of that node is
   * behind the devices (a pod holds capacity the state shows free), so nothing new goes there until they fit.
   */
  private readonly waiting = new Map<string, Set<string>>();

  constructor(private readonly options: ClusterViewOptions) {
    this.state = new ClusterState([], options.migPlanner ? { migPlanner: options.migPlanner } : {});
    this.book = new Reservations<Allocation>({
      apply: (r) => this.applyGrant(r),
      release: (r) => {
        this.changes++;
        this.stopWaiting(r.podUid, r.node);
        this.shapes.delete(r.podUid);
        this.pendingChanges.delete(r.podUid);
        // Grants whose node is unknown (or that did not fit) were never applied; nothing to undo then.
        if (!this.state.allocation(r.podUid)) return;
        this.state.release(r.podUid);
        this.settleChanges(r.node);
        this.applyWaiting(r.node);
      },
    });
  }

  /** Bumps on every change to nodes or grants: equal generations mean an unchanged cluster. */
  get generation(): number {
    return this.changes;
  }

  /** Applies a grant to the allocator's state; one that does not fit now waits for capacity on its node. */
  private applyGrant(r: Reservation<Allocation>): boolean {
    this.changes++;
    if (!this.state.node(r.node)) return false;
    const applied = this.state.apply(r.allocation);
    if (applied.ok) {
      this.stopWaiting(r.podUid, r.node);
      return true;
    }
    let onNode = this.waiting.get(r.node);
    if (!onNode) this.waiting.set(r.node, (onNode = new Set()));
    onNode.add(r.podUid);
    // The node's report is behind what its pods hold (or two decisions overlap): the grant waits, and the node
    // settles (takes no new pod) until it fits.
    this.options.log.warn({ pod: r.podUid, node: r.node, reason: reasonText(applied.error) }, 'a grant does not fit its node now; it waits for capacity');
    return false;
  }

  /** Grants on `node` the allocator does not hold yet, tried again now that capacity was freed there. */
  private applyWaiting(node: string): void {
    for (const r of this.book.onNode(node)) {
      if (!this.state.allocation(r.podUid) && this.state.apply(r.allocation).ok) {
        this.changes++;
        this.stopWaiting(r.podUid, node);
      }
    }
  }

  private stopWaiting(podUid: string, node: string): void {
    const onNode = this.waiting.get(node);
    if (onNode?.delete(podUid) && onNode.size === 0) this.waiting.delete(node);
  }

  /** True while a grant on `node` waits to fit its devices: the node takes no new pod until it does. */
  settling(node: string): boolean {
    return this.waiting.has(node);
  }

  /** Records a changed grant for a pod on the same node and applies every pending change there that now fits. */
  private changeGrant(next: Reservation<Allocation>): void {
    this.pendingChanges.set(next.podUid, next);
    this.settleChanges(next.node);
  }

  /**
   * True while the other side of an exchange has not arrived: the pod it names is still on `node` with its old
   * grant. On a shared GPU the first side often fits on its own, and applying it alone would show the receiver's
   * old devices free while the other pod is about to be given them.
   */
  private awaitsPartner(change: Reservation<Allocation>): boolean {
    const partner = change.decision.exchangedWith;
    if (partner === undefined || this.pendingChanges.has(partner)) return false;
    const held = this.book.get(partner);
    return held !== undefined && held.node === change.node && held.decision.exchangedWith !== change.podUid;
  }

  /** Moves all pending changes on `node` from their old grants to their new ones at once, or none of them. */
  private settleChanges(node: string): void {
    const changes = [...this.pendingChanges.values()].filter((r) => r.node === node);
    if (changes.length === 0 || changes.some((r) => this.awaitsPartner(r))) return;
    const released: Allocation[] = [];
    for (const r of changes) {
      const old = this.state.release(r.podUid);
      if (old.ok) released.push(old.value);
    }
    const applied: string[] = [];
    for (const r of changes) {
      if (!this.state.apply(r.allocation).ok) break;
      applied.push(r.podUid);
    }
    if (applied.length === changes.length) {
      for (const r of changes) {
        this.pendingChanges.delete(r.podUid);
        this.shapes.delete(r.podUid);
        this.book.replace(r.podUid, r.decision, r.allocation);
      }
      this.changes++;
      return;
    }
    // Not all of them fit yet (the other half of an exchange has not arrived): undo in reverse, old grants stay.
    for (const uid of applied.reverse()) this.state.release(uid);
    for (const allocation of released.reverse()) this.state.apply(allocation);
  }

  /** A decision this process signed and wrote as `text`: the pod's events that carry it need no decode or HMAC. */
  trustDecision(text: string, decision: Decision): void {
    this.verified.set(text, decision);
  }

  beginBind(podUid: string): void {
    this.binding.add(podUid);
  }

  endBind(podUid: string): void {
    this.binding.delete(podUid);
  }

  isBinding(podUid: string): boolean {
    return this.binding.has(podUid);
  }

  /** The in-flight shape of a grant (an allocation or a decision) for a pod with these annotations (see src/api/inflight.ts). */
  shapeOf(grant: Allocation | Decision, annotations: Readonly<Record<string, string>> | undefined): PodShape {
    const gpus = this.state.node(grant.node)?.gpus ?? [];
    return shapeOf(grant, { modelOf: (uuid) => gpus.find((g) => g.uuid === uuid)?.model, pinned: pinsGpus(annotations) });
  }

  /** Shapes of the pods in flight on `node` (granted, not yet confirmed allocated), other than `exceptUid`. */
  inFlightShapes(node: string, exceptUid?: string): PodShape[] {
    const out: PodShape[] = [];
    for (const r of this.book.onNode(node)) {
      if (r.phase !== 'reserved' || r.podUid === exceptUid) continue;
      let shape = this.shapes.get(r.podUid);
      if (!shape) {
        shape = this.shapeOf(r.decision, this.pod(r.decision.pod.namespace, r.decision.pod.name)?.metadata?.annotations);
        this.shapes.set(r.podUid, shape);
      }
      out.push(shape);
    }
    return out;
  }

  /** True when some pod is in flight on `node`. */
  hasInFlight(node: string): boolean {
    return this.book.reservedOn(node) > 0;
  }

  /** Every pod the informer has shown and not yet deleted. */
  knownPods(): IterableIterator<PodLike> {
    return this.pods.values();
  }

  /** The pod as last seen by the informer (bind reads it from here rather than from the API). */
  pod(namespace: string, name: string): PodLike | undefined {
    return this.pods.get(podKey(namespace, name));
  }

  nodeSpec(node: NodeLike, inventory: NodeInventory): NodeSpec {
    const resolve = this.options.resolveModel ?? ((m: string) => m);
    return {
      name: inventory.node,
      mode: inventory.mode,
      cpuMilli: quantityOf(node.status?.allocatable, 'cpu', 1000n, 1n),
      memoryMiB: quantityOf(node.status?.allocatable, 'memory', 1n, BYTES_PER_MIB),
      labels: node.metadata?.labels ?? {},
      splitCount: inventory.splitCount,
      memoryScaling: this.hamiNodes.has(inventory.node) ? 1 : (this.options.nodeMemoryScaling?.[inventory.node] ?? this.options.memoryScaling),
      gpus: inventory.gpus.map((g) => ({
        uuid: g.uuid,
        index: g.index,
        model: resolve(g.model),
        memoryMiB: g.memoryMiB,
        coreUnits: g.coreUnits,
        healthy: g.health === 'Healthy',
        numa: g.numa,
        ...(sharingMode(inventory.mode).allocation === 'mig' ? { migInstances: g.mig.instances.map((i) => ({ profile: i.profile, start: i.start })) } : {}),
      })),
    };
  }

  /**
   * A node added or changed. Nodes without a (valid) inventory are not GPU nodes to the extender; a node with only
   * HAMi's register annotation (HAMi's device plugin runs there) is read from it.
   */
  upsertNode(node: NodeLike): void {
    const name = node.metadata?.name;
    if (!name) return;
    const annotations = node.metadata?.annotations;
    const own = annotations?.[TESSERA_NODE.inventory];
    const hami = own === undefined ? annotations?.[HAMI_NODE.register] : undefined;
    const text = own ?? (hami === undefined ? undefined : `${hami}\u0000${annotations?.[HAMI_NODE.handshake]?.startsWith('Deleted') === true}`);
    const fingerprint = text === undefined ? undefined : `${text}\u0000${JSON.stringify(node.status?.allocatable ?? {})}\u0000${JSON.stringify(node.metadata?.labels ?? {})}`;
    if (fingerprint === this.inventories.get(name)) return;
    let inventory: NodeInventory | undefined;
    try {
      inventory = own !== undefined ? decodeInventory(own) : hamiInventory(name, annotations, new Date(this.options.now()).toISOString());
      if (inventory && inventory.node !== name) throw new TesseraError('INVALID_INPUT', `names node ${inventory.node}`, { field: `${TESSERA_NODE.inventory}.node` });
    } catch (error) {
      this.options.log.warn({ node: name, err: error }, 'ignoring a node with an invalid inventory');
      this.removeNode(name);
      return;
    }
    if (!inventory) {
      this.removeNode(name);
      return;
    }
    if (own === undefined) this.hamiNodes.add(name);
    else this.hamiNodes.delete(name);
    this.changes++;
    // The allocator replaces a node only when it holds nothing: take the grants off, swap, put them back.
    const grants = [...this.book.onNode(name)];
    for (const r of grants) if (this.state.allocation(r.podUid)) this.state.release(r.podUid);
    const known = this.state.node(name) !== undefined;
    const replaced = this.state.setNode(this.nodeSpec(node, inventory));
    if (!replaced.ok) this.options.log.error({ node: name, reason: reasonText(replaced.error) }, 'could not update node');
    for (const r of grants) this.applyGrant(r);
    this.inventories.set(name, fingerprint ?? '');
    // Pods HAMi's scheduler placed here may have arrived before the node: their grants are read now.
    if (!known && own === undefined) {
      for (const pod of this.pods.values()) if (pod.spec?.nodeName === name && podGrant(pod, this.options.keys, this.verified).kind === 'none') this.holdHamiGrant(pod);
    }
  }

  removeNode(name: string): void {
    this.hamiNodes.delete(name);
    if (!this.inventories.delete(name) && !this.state.node(name)) return;
    this.changes++;
    for (const r of this.book.onNode(name)) if (this.state.allocation(r.podUid)) this.state.release(r.podUid);
    this.state.removeNode(name);
  }

  /**
   * A pod added or changed: its signed decision (if any) enters the book, and a finished, failed or given-up pod
   * leaves it at once. A pod without a decision changes nothing: this process's own binds in flight have not
   * written theirs yet.
   */
  upsertPod(pod: PodLike): void {
    const { uid, namespace = 'default', name } = pod.metadata ?? {};
    if (!uid || !name) return;
    this.pods.set(podKey(namespace, name), pod);
    // An older event of a pod being bound (say, the failure mark of its previous attempt) must not undo the grant.
    if (this.binding.has(uid)) return;
    const grant = podGrant(pod, this.options.keys, this.verified);
    if (grant.kind === 'over') {
      this.book.release(uid);
      return;
    }
    if (grant.kind === 'refused') {
      this.options.log.warn({ pod: `${namespace}/${name}`, reason: grant.reason }, 'ignoring a decision this scheduler did not sign');
      return;
    }
    if (grant.kind === 'none') {
      this.holdHamiGrant(pod);
      return;
    }
    const held = this.book.get(uid);
    const bindTime = Number(pod.metadata?.annotations?.[HAMI_POD.bindTime]);
    const next: Reservation<Allocation> = {
      podUid: uid,
      node: grant.decision.node,
      decision: grant.decision,
      allocation: grantOf(grant.decision),
      phase: 'reserved',
      since: Number.isFinite(bindTime) && bindTime > 0 ? bindTime * 1000 : this.options.now(),
    };
    if (!held) this.book.hold(next);
    else if (held.node !== next.node) {
      this.book.release(uid);
      this.book.hold(next);
    } else if (held.decision.signature !== next.decision.signature) {
      // Devices exchanged by the device plugin: applied once the other side of the exchange is known.
      if (this.state.allocation(uid)) this.changeGrant(next);
      else {
        this.book.release(uid);
        this.book.hold(next);
      }
    }
    if (grant.confirmed) this.book.confirm(uid);
  }

  /** A grant HAMi's scheduler gave (device lists, no Tessera decision) on a node known here, held once. */
  private holdHamiGrant(pod: PodLike): void {
    const uid = pod.metadata?.uid ?? '';
    if (this.book.get(uid)) return;
    let allocation: Allocation | undefined;
    try {
      allocation = hamiGrantOf(pod as HamiPodLike, (name) => this.state.node(name));
    } catch (error) {
      this.options.log.warn({ pod: `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`, err: error }, "ignoring HAMi's device lists on a pod: they do not parse");
      return;
    }
    if (!allocation) return;
    const since = Number(pod.metadata?.annotations?.[HAMI_POD.bindTime]);
    this.book.hold({
      podUid: uid,
      node: allocation.node,
      decision: decisionOf(allocation, new Date(this.options.now()).toISOString()),
      allocation,
      phase: 'reserved',
      since: Number.isFinite(since) && since > 0 ? since * 1000 : this.options.now(),
    });
    this.book.confirm(uid);
  }

  /** Reads again the pods bound to `node` (its published key changed: what it signed verifies differently). */
  recheckNode(node: string): void {
    for (const pod of [...this.pods.values()]) if (pod.spec?.nodeName === node) this.upsertPod(pod);
  }

  /** A pod deleted: its capacity is free at once. */
  removePod(pod: PodLike): void {
    const { uid, namespace = 'default', name } = pod.metadata ?? {};
    if (name) {
      const key = podKey(namespace, name);
      if (this.pods.get(key)?.metadata?.uid === uid) this.pods.delete(key);
    }
    if (uid) this.book.release(uid);
  }
}
