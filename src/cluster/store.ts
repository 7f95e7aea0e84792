/**
 * The embedded cluster's state: objects per resource type, one global resourceVersion bumped by every write, a
 * bounded history of changes for watch resume, and the open watches. Every stored object is immutable: a write
 * stores a new object, so history entries and list results can share references. No I/O; the clock is injected.
 */
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { bindPod, type Binding } from './binding.js';
import { checkName, checkObject, objectJson, type KubeObject } from './objects.js';
import { applyCreateDefaults, applyDefaults } from './defaults.js';
import { canonicalizeQuantities, checkQuantities, quantityDecodeError } from './quantity.js';
import { RESOURCE_TYPES, apiVersionOf, findType, hasStatus, typeKey, type ResourceType } from './resources.js';
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector, type FieldSelector, type LabelSelector } from './selectors.js';
import { KubeStatusError, alreadyExists, badRequest, conflict, expired, notFound } from './status.js';

export type { KubeObject, ObjectMeta } from './objects.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

export interface WatchEvent {
  readonly type: WatchEventType;
  readonly object: KubeObject;
}

/** A resource type, or its name: `pods`, `nodes`, `leases.coordination.k8s.io`. */
export type TypeRef = ResourceType | string;

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
}

export interface ListResult {
  /** Shared with the store: read-only. */
  items: KubeObject[];
  resourceVersion: string;
  continue?: string;
  remainingItemCount?: number;
}

export interface WatchOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** "" or "0": start with an ADDED event per current object; otherwise the changes after this version. */
  resourceVersion?: string;
}

export interface WriteOptions {
  /** Write to the `status` subresource: only `.status` changes. */
  subresource?: 'status';
  dryRun?: boolean;
}

export interface DeleteOptions {
  /**
   * For a pod bound to a node (default: its spec.terminationGracePeriodSeconds): above 0, the pod is marked with
   * deletionTimestamp and removed later. Finalizers mark any object. Other deletes remove at once.
   */
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
}

export interface DeleteResult {
  object: KubeObject;
  /** false when the object was only marked for deletion (finalizers or a grace period). */
  removed: boolean;
}

export interface StoreSnapshot {
  resourceVersion: number;
  objects: Record<string, KubeObject[]>;
}

export interface StoreOptions {
  /** Changes kept for watch resume; a watch from an older resourceVersion gets 410 Expired. */
  historySize?: number;
  /** Bound on the serialized size of all stored objects (default 256 MiB); a write past it gets 507. */
  maxStoredBytes?: number;
  now?: () => Date;
}

/** One committed write, as persistence records it: the object stored, or the object removed. */
export interface Commit {
  readonly rv: number;
  readonly type: ResourceType;
  readonly deleted: boolean;
  readonly object: KubeObject;
}

interface HistoryEntry {
  readonly rv: number;
  readonly key: string;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: KubeObject;
  readonly previous: KubeObject | undefined;
}

interface Watcher {
  readonly namespace: string | undefined;
  readonly labels: LabelSelector;
  readonly fields: FieldSelector;
  readonly send: (event: WatchEvent) => void;
}

/** Namespaces every cluster has, as kube-apiserver creates them. */
const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

export const DEFAULT_HISTORY_SIZE = 10_000;
const DEFAULT_MAX_STORED_BYTES = 256 * 1024 * 1024;

export class Store {
  private rv = 0;
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private history: HistoryEntry[] = [];
  /** Newest resourceVersion no longer in history: watches must start at or after it. */
  private compactedRv = 0;
  private readonly watchers = new Map<string, Set<Watcher>>();
  private readonly commitListeners = new Set<(commit: Commit) => void>();
  private readonly historySize: number;
  private readonly maxStoredBytes: number;
  /** Serialized size of every stored object together (what a full list or snapshot writes). */
  private bytes = 0;
  private readonly now: () => Date;

  constructor(options: StoreOptions = {}) {
    this.historySize = Math.max(1, options.historySize ?? DEFAULT_HISTORY_SIZE);
    this.maxStoredBytes = options.maxStoredBytes ?? DEFAULT_MAX_STORED_BYTES;
    this.now = options.now ?? (() => new Date());
    for (const type of RESOURCE_TYPES) this.objects.set(typeKey(type), new Map());
    for (const name of SYSTEM_NAMESPACES) this.create('namespaces', { metadata: { name } });
    this.compactedRv = this.rv;
  }

  get resourceVersion(): string {
    return String(this.rv);
  }

  /** Serialized size of all stored objects, in bytes. */
  get storedBytes(): number {
    return this.bytes;
  }

  /** Called synchronously after every committed write, in resourceVersion order (the journal hooks here). */
  onCommit(listener: (commit: Commit) => void): () => void {
    this.commitListeners.add(listener);
    return () => this.commitListeners.delete(listener);
  }

  create(ref: TypeRef, body: unknown, options: { namespace?: string; dryRun?: boolean } = {}): KubeObject {
    const type = resolveType(ref);
    const input = decodeObject(type, structuredClone(body), quantityDecodeError(type));
    applyCreateDefaults(type, input);
    const namespace = this.namespaceFor(type, options.namespace ?? input.metadata.namespace, input.metadata.namespace);
    let name = input.metadata.name;
    if (!name) {
      if (!input.metadata.generateName) throw badRequest('metadata.name: Required value: name or generateName is required');
      name = input.metadata.generateName + randomSuffix();
    }
    checkName(type, name);
    checkQuantities(type, { ...input, metadata: { ...input.metadata, name } });
    const objects = this.table(type);
    if (objects.has(objectKey(namespace, name))) throw alreadyExists(type.plural, name, type.group);
    if (namespace !== undefined && type.plural !== 'namespaces' && !this.table(resolveType('namespaces')).has(objectKey(undefined, namespace))) {
      throw notFound('namespaces', namespace);
    }
    const { deletionTimestamp: _d, deletionGracePeriodSeconds: _g, resourceVersion: _r, ...metadata } = input.metadata;
    const object: KubeObject = {
      ...input,
      apiVersion: apiVersionOf(type),
      kind: type.kind,
      metadata: {
        ...metadata,
        name,
        ...(namespace !== undefined ? { namespace } : {}),
        uid: randomUUID(),
        generation: 1,
        creationTimestamp: timestamp(this.now()),
      },
      ...serverSetFields(type),
    };
    if (options.dryRun) return { ...object, metadata: { ...object.metadata, resourceVersion: this.resourceVersion } };
    return this.commit(type, 'ADDED', object, undefined);
  }

  get(ref: TypeRef, namespace: string | undefined, name: string): KubeObject {
    const type = resolveType(ref);
    const object = this.table(type).get(objectKey(type.namespaced ? namespace : undefined, name));
    if (!object) throw notFound(type.plural, name, type.group);
    return object;
  }

  list(ref: TypeRef, options: ListOptions = {}): ListResult {
    const type = resolveType(ref);
    const labels = parseLabelSelector(options.labelSelector);
    const fields = parseFieldSelector(options.fieldSelector);
    const after = options.continue ? decodeContinue(options.continue) : undefined;
    const prefix = type.namespaced && options.namespace ? `${options.namespace}/` : undefined;
    const keys = [...this.table(type).keys()].filter((k) => (prefix === undefined || k.startsWith(prefix)) && (after === undefined || k > after)).sort();
    const matching: KubeObject[] = [];
    let lastKey: string | undefined;
    let remaining = 0;
    const limit = options.limit && options.limit > 0 ? options.limit : Infinity;
    for (const key of keys) {
      const object = this.table(type).get(key)!;
      if (!matchesLabels(labels, object.metadata.labels) || !matchesFields(fields, object)) continue;
      if (matching.length < limit) {
        matching.push(object);
        lastKey = key;
      } else remaining++;
    }
    const result: ListResult = { items: matching, resourceVersion: this.resourceVersion };
    if (remaining > 0 && lastKey !== undefined) {
      result.continue = encodeContinue(lastKey, this.rv);
      // kube-apiserver counts what is left only when no selector filters the list.
      if (!options.labelSelector && !options.fieldSelector) result.remainingItemCount = remaining;
    }
    return result;
  }

  /** PUT: replaces the object (or only its status). A metadata.resourceVersion in the body must be current. */
  update(ref: TypeRef, namespace: string | undefined, name: string, body: unknown, options: WriteOptions = {}): KubeObject {
    const type = resolveType(ref);
    const input = decodeObject(type, structuredClone(body), quantityDecodeError(type));
    return this.replace(type, namespace, name, input, options);
  }

  /**
   * Read-modify-write in one step (patches, bindings): `change` gets the current object and returns the new one.
   * A resourceVersion that `change` sets must still be current, as for update.
   */
  mutate(ref: TypeRef, namespace: string | undefined, name: string, change: (current: KubeObject) => unknown, options: WriteOptions = {}): KubeObject {
    const type = resolveType(ref);
    const current = this.get(type, namespace, name);
    const next = decodeObject(type, change(structuredClone(current)), patchDecodeError);
    return this.replace(type, namespace, name, next, options);
  }

  /** pods/binding: sets spec.nodeName and the PodScheduled condition of a pending pod (409 when already bound). */
  bind(namespace: string, name: string, binding: Binding, options: { dryRun?: boolean } = {}): KubeObject {
    const type = resolveType('pods');
    const current = this.get(type, namespace, name);
    const next = bindPod(current, binding, timestamp(this.now()));
    if (options.dryRun) return next;
    return this.commit(type, 'MODIFIED', next, current);
  }

  delete(ref: TypeRef, namespace: string | undefined, name: string, options: DeleteOptions = {}): DeleteResult {
    const type = resolveType(ref);
    const current = this.get(type, namespace, name);
    const { uid, resourceVersion } = options.preconditions ?? {};
    if (uid !== undefined && uid !== current.metadata.uid) {
      throw conflict(type.plural, name, `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${current.metadata.uid}`, type.group);
    }
    if (resourceVersion !== undefined && resourceVersion !== current.metadata.resourceVersion) {
      throw conflict(type.plural, name, 'the object has been modified; please apply your changes to the latest version and try again', type.group);
    }
    const grace = gracePeriod(type, current, options.gracePeriodSeconds, (node) => this.kubeletAlive(node));
    const finalizers = current.metadata.finalizers ?? [];
    if (finalizers.length === 0 && grace <= 0) {
      if (options.dryRun) return { object: current, removed: true };
      if (type.plural === 'namespaces') this.removeNamespaceContents(name);
      return { object: this.commit(type, 'DELETED', current, current), removed: true };
    }
    const already = current.metadata.deletionGracePeriodSeconds;
    // A second delete may only shorten the grace period, as in kube-apiserver (BeforeDelete).
    if (current.metadata.deletionTimestamp !== undefined && (already === undefined || grace >= already)) return { object: current, removed: false };
    const marked: KubeObject = {
      ...current,
      metadata: { ...current.metadata, deletionTimestamp: timestamp(new Date(this.now().getTime() + grace * 1000)), deletionGracePeriodSeconds: grace },
    };
    if (options.dryRun) return { object: marked, removed: false };
    return { object: this.commit(type, 'MODIFIED', marked, current), removed: false };
  }

  /** Starts a watch; events go to `send` synchronously as writes commit. Returns the function that stops it. */
  watch(ref: TypeRef, options: WatchOptions, send: (event: WatchEvent) => void): () => void {
    const type = resolveType(ref);
    const watcher: Watcher = {
      namespace: type.namespaced ? options.namespace || undefined : undefined,
      labels: parseLabelSelector(options.labelSelector),
      fields: parseFieldSelector(options.fieldSelector),
      send,
    };
    const from = options.resourceVersion;
    if (from === undefined || from === '' || from === '0') {
      const prefix = watcher.namespace === undefined ? '' : `${watcher.namespace}/`;
      for (const [key, object] of this.table(type)) {
        if (key.startsWith(prefix) && this.matches(watcher, object)) send({ type: 'ADDED', object });
      }
    } else {
      const rv = Number(from);
      if (!/^\d+$/.test(from)) throw badRequest(`resourceVersion: invalid value "${from}"`);
      if (rv < this.compactedRv) throw expired(`too old resource version: ${rv} (${this.compactedRv})`);
      const key = typeKey(type);
      for (let i = firstAfter(this.history, rv); i < this.history.length; i++) {
        const entry = this.history[i]!;
        if (entry.key === key) this.deliver(watcher, entry);
      }
    }
    const set = this.watchers.get(typeKey(type)) ?? new Set();
    this.watchers.set(typeKey(type), set);
    set.add(watcher);
    return () => set.delete(watcher);
  }

  snapshot(): StoreSnapshot {
    const objects: Record<string, KubeObject[]> = {};
    for (const [key, table] of this.objects) objects[key] = [...table.values()];
    return { resourceVersion: this.rv, objects };
  }

  /** Replaces all state with a snapshot; history starts empty, so older watches must relist. */
  restore(snapshot: StoreSnapshot): void {
    for (const table of this.objects.values()) table.clear();
    this.bytes = 0;
    for (const [key, items] of Object.entries(snapshot.objects)) {
      const table = this.objects.get(key);
      if (!table) continue;
      for (const object of items) {
        table.set(objectKey(object.metadata.namespace, object.metadata.name ?? ''), object);
        this.bytes += sizeOf(object);
      }
    }
    this.rv = Math.max(this.rv, snapshot.resourceVersion);
    this.history = [];
    this.compactedRv = this.rv;
  }

  private replace(type: ResourceType, namespace: string | undefined, name: string, input: KubeObject, options: WriteOptions): KubeObject {
    const current = this.get(type, namespace, name);
    if (input.metadata.name !== undefined && input.metadata.name !== name) {
      throw badRequest(`the name of the object (${input.metadata.name}) does not match the name on the URL (${name})`);
    }
    const ns = type.namespaced ? namespace : undefined;
    if (input.metadata.namespace !== undefined && ns !== undefined && input.metadata.namespace !== ns) {
      throw badRequest(`the namespace of the object (${input.metadata.namespace}) does not match the namespace on the URL (${ns})`);
    }
    const precondition = input.metadata.resourceVersion;
    if (precondition !== undefined && precondition !== '' && precondition !== current.metadata.resourceVersion) {
      throw conflict(type.plural, name, 'the object has been modified; please apply your changes to the latest version and try again', type.group);
    }
    const next = this.prepareUpdate(type, current, input, options.subresource);
    if (isDeepStrictEqual(next, current)) return current;
    checkQuantities(type, next);
    if (options.dryRun) return next;
    const finished = next.metadata.deletionTimestamp !== undefined && (next.metadata.finalizers ?? []).length === 0;
    if (finished) return this.commit(type, 'DELETED', next, current);
    return this.commit(type, 'MODIFIED', next, current);
  }

  /** What a write may change: system metadata is kept, and status and spec are split by subresource. */
  private prepareUpdate(type: ResourceType, current: KubeObject, input: KubeObject, subresource: 'status' | undefined): KubeObject {
    const m = current.metadata;
    const next: KubeObject = {
      ...input,
      apiVersion: current.apiVersion,
      kind: current.kind,
      metadata: {
        ...input.metadata,
        name: m.name,
        ...(m.namespace !== undefined ? { namespace: m.namespace } : {}),
        uid: m.uid,
        resourceVersion: m.resourceVersion,
        generation: m.generation,
        creationTimestamp: m.creationTimestamp,
        ...(m.deletionTimestamp !== undefined ? { deletionTimestamp: m.deletionTimestamp, deletionGracePeriodSeconds: m.deletionGracePeriodSeconds } : {}),
      },
    };
    if (subresource === 'status') {
      // The status strategies keep the spec; metadata may change as on any write (kube-apiserver's pods/status too).
      next.spec = current.spec;
      if (next.spec === undefined) delete next.spec;
      if (input.status === undefined) next.status = current.status;
      if (isPod(type)) keepPodStatusFields(current, next);
      return next;
    }
    if (hasStatus(type)) {
      if (current.status === undefined) delete next.status;
      else next.status = current.status;
    }
    if (isPod(type)) checkPodUpdate(current, next);
    if (!isDeepStrictEqual(withoutMetaAndStatus(next), withoutMetaAndStatus(current))) next.metadata.generation = (m.generation ?? 0) + 1;
    return next;
  }

  private commit(type: ResourceType, eventType: HistoryEntry['type'], object: KubeObject, previous: KubeObject | undefined): KubeObject {
    const stored: KubeObject = { ...object, metadata: { ...object.metadata, resourceVersion: String(this.rv + 1) } };
    const table = this.table(type);
    const key = objectKey(stored.metadata.namespace, stored.metadata.name ?? '');
    const old = table.get(key);
    const oldBytes = old === undefined ? 0 : sizeOf(old);
    const newBytes = eventType === 'DELETED' ? 0 : sizeOf(stored);
    // Only growth is refused, so deletes and shrinking updates still work when the store is full.
    if (newBytes > oldBytes && this.bytes + newBytes - oldBytes > this.maxStoredBytes) throw storageFull(type, this.maxStoredBytes);
    this.rv++;
    this.bytes += newBytes - oldBytes;
    if (eventType === 'DELETED') table.delete(key);
    else table.set(key, stored);
    const entry: HistoryEntry = { rv: this.rv, key: typeKey(type), type: eventType, object: stored, previous };
    this.history.push(entry);
    // Trim in chunks so the amortized cost of a write stays constant.
    if (this.history.length > this.historySize * 1.25 + 16) {
      const drop = this.history.length - this.historySize;
      this.compactedRv = this.history[drop - 1]!.rv;
      this.history = this.history.slice(drop);
    }
    for (const listener of this.commitListeners) listener({ rv: this.rv, type, deleted: eventType === 'DELETED', object: stored });
    for (const watcher of this.watchers.get(entry.key) ?? []) this.deliver(watcher, entry);
    return stored;
  }

  /** Sends one change as the watcher sees it: objects entering or leaving its selection arrive as ADDED or DELETED. */
  private deliver(watcher: Watcher, entry: HistoryEntry): void {
    const now = this.matches(watcher, entry.object);
    const before = entry.previous !== undefined && entry.type !== 'DELETED' ? this.matches(watcher, entry.previous) : now;
    let type: WatchEventType | undefined;
    if (entry.type === 'MODIFIED') type = before && now ? 'MODIFIED' : now ? 'ADDED' : before ? 'DELETED' : undefined;
    else type = now ? entry.type : undefined;
    if (type === undefined) return;
    try {
      watcher.send({ type, object: entry.object });
    } catch {
      // A failing watcher (a closed socket) must not stop the write or the other watchers.
    }
  }

  private matches(watcher: Watcher, object: KubeObject): boolean {
    return (watcher.namespace === undefined || object.metadata.namespace === watcher.namespace) && matchesLabels(watcher.labels, object.metadata.labels) && matchesFields(watcher.fields, object);
  }

  private namespaceFor(type: ResourceType, requested: string | undefined, inBody: string | undefined): string | undefined {
    if (!type.namespaced) return undefined;
    if (inBody !== undefined && requested !== undefined && inBody !== requested) {
      throw badRequest(`the namespace of the provided object (${inBody}) does not match the namespace sent on the request (${requested})`);
    }
    const namespace = requested ?? inBody;
    if (!namespace) throw badRequest('metadata.namespace: Required value: a namespaced object needs a namespace');
    return namespace;
  }

  private removeNamespaceContents(namespace: string): void {
    for (const type of RESOURCE_TYPES) {
      if (!type.namespaced) continue;
      for (const [key, object] of [...this.table(type)]) if (key.startsWith(`${namespace}/`)) this.commit(type, 'DELETED', object, object);
    }
  }

  /**
   * Whether a kubelet serves `node`: its Lease in kube-node-lease was renewed within the lease's duration, the
   * heartbeat kube's node lifecycle controller reads (the simulated kubelet keeps one, src/kubelet/node-lease.ts).
   */
  private kubeletAlive(node: string): boolean {
    const lease = this.table(resolveType('leases.coordination.k8s.io')).get(objectKey(NODE_LEASE_NAMESPACE, node));
    const spec = (lease?.spec ?? {}) as { renewTime?: unknown; leaseDurationSeconds?: unknown };
    const renewed = typeof spec.renewTime === 'string' ? Date.parse(spec.renewTime) : NaN;
    const duration = typeof spec.leaseDurationSeconds === 'number' ? spec.leaseDurationSeconds : DEFAULT_NODE_LEASE_SECONDS;
    return Number.isFinite(renewed) && this.now().getTime() - renewed <= duration * 1000;
  }

  private table(type: ResourceType): Map<string, KubeObject> {
    return this.objects.get(typeKey(type))!;
  }
}

/** `pods`, `nodes`, `leases.coordination.k8s.io`, or a ResourceType itself. */
export function resolveType(ref: TypeRef): ResourceType {
  if (typeof ref !== 'string') return ref;
  const dot = ref.indexOf('.');
  const plural = dot < 0 ? ref : ref.slice(0, dot);
  const group = dot < 0 ? '' : ref.slice(dot + 1);
  const type = RESOURCE_TYPES.find((t) => t.plural === plural && t.group === group) ?? findType(group, 'v1', plural);
  if (!type) throw badRequest(`unknown resource type "${ref}"`);
  return type;
}

/**
 * A request body as kube-apiserver decodes it: shape, kind and apiVersion checked, quantities canonical, v1
 * defaults filled in. `refuse` makes the error for a value that is not a quantity.
 */
function decodeObject(type: ResourceType, body: unknown, refuse: (why: string) => KubeStatusError): KubeObject {
  const object = checkObject(type, body);
  canonicalizeQuantities(type, object, refuse);
  applyDefaults(type, object);
  return object;
}

/** A patch whose result does not decode is 422 Invalid naming `patch`, as kube-apiserver's patcher answers. */
function patchDecodeError(why: string): KubeStatusError {
  return new KubeStatusError(422, 'Invalid', `patch: Invalid value: the patched object does not decode: ${why}`, {
    causes: [{ reason: 'FieldValueInvalid', message: `Invalid value: the patched object does not decode: ${why}`, field: 'patch' }],
  });
}

/** Fields kube-apiserver sets on create whatever the client sent: a namespace starts Active. */
function serverSetFields(type: ResourceType): Partial<KubeObject> {
  if (type.group !== '') return {};
  if (type.plural === 'namespaces') return { spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } };
  return {};
}

const NODE_LEASE_NAMESPACE = 'kube-node-lease';
/** The kubelet's node lease duration when a Lease does not say. */
const DEFAULT_NODE_LEASE_SECONDS = 40;

/**
 * The grace period a delete gets (the pod strategy's CheckGracefulDelete): a pod bound to a node gets the one asked
 * for, else its spec.terminationGracePeriodSeconds, for its kubelet to stop it; a pod on no node or already finished
 * goes at once. Unlike kube-apiserver, a pod on a node no live kubelet serves goes at once too: nothing there would
 * ever finish the deletion (in a real cluster it stays Terminating until someone force-deletes it). Other types
 * have no graceful deletion: only finalizers keep them.
 */
function gracePeriod(type: ResourceType, object: KubeObject, requested: number | undefined, kubeletAlive: (node: string) => boolean): number {
  if (type.group !== '' || type.plural !== 'pods') return 0;
  const spec = (object.spec ?? {}) as { nodeName?: string; terminationGracePeriodSeconds?: number };
  const phase = ((object.status ?? {}) as { phase?: string }).phase;
  if (!spec.nodeName || phase === 'Succeeded' || phase === 'Failed' || !kubeletAlive(spec.nodeName)) return 0;
  return requested ?? spec.terminationGracePeriodSeconds ?? 0;
}

const isPod = (type: ResourceType): boolean => type.group === '' && type.plural === 'pods';

/**
 * podStatusStrategy: a status write cannot touch ownerReferences (old kubelets corrupted them), and a status
 * without qosClass keeps the class set at creation.
 */
function keepPodStatusFields(current: KubeObject, next: KubeObject): void {
  const owners = current.metadata.ownerReferences;
  if (owners === undefined) delete next.metadata.ownerReferences;
  else next.metadata.ownerReferences = owners;
  const qosClass = ((current.status ?? {}) as { qosClass?: unknown }).qosClass;
  const status = next.status;
  if (qosClass !== undefined && status !== null && typeof status === 'object' && (status as { qosClass?: unknown }).qosClass === undefined) {
    next.status = { ...status, qosClass };
  }
}

/** What ValidatePodUpdate lets an update change in a pod's spec; everything else is fixed once the pod exists. */
const POD_SPEC_UPDATE_RULE =
  'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)';

/**
 * A pod's spec is immutable but for images, activeDeadlineSeconds, tolerations and scheduling gates (kube's
 * ValidatePodUpdate): 422 Invalid otherwise. A pod is placed through pods/binding, never by writing nodeName.
 */
function checkPodUpdate(current: KubeObject, next: KubeObject): void {
  const before = (current.spec ?? {}) as Record<string, unknown>;
  const after = (next.spec ?? {}) as Record<string, unknown>;
  const name = current.metadata.name ?? '';
  const forbidden = (field: string, why: string): KubeStatusError =>
    new KubeStatusError(422, 'Invalid', `Pod "${name}" is invalid: ${field}: Forbidden: ${why}`, {
      name,
      group: '',
      kind: 'Pod',
      causes: [{ reason: 'FieldValueForbidden', message: `Forbidden: ${why}`, field }],
    });
  const mutable = structuredClone(before);
  for (const group of ['containers', 'initContainers']) {
    const old = Array.isArray(before[group]) ? (before[group] as unknown[]) : [];
    const now = Array.isArray(after[group]) ? (after[group] as unknown[]) : [];
    if (old.length !== now.length) throw forbidden(`spec.${group}`, `pod updates may not add or remove ${group === 'containers' ? 'containers' : 'init containers'}`);
    (mutable[group] as Array<Record<string, unknown>> | undefined)?.forEach((container, i) => {
      container.image = (now[i] as Record<string, unknown> | undefined)?.image;
    });
  }
  for (const field of ['activeDeadlineSeconds', 'tolerations', 'schedulingGates', 'terminationGracePeriodSeconds']) {
    if (after[field] === undefined) delete mutable[field];
    else mutable[field] = after[field];
  }
  if (!isDeepStrictEqual(mutable, after)) throw forbidden('spec', POD_SPEC_UPDATE_RULE);
}

function withoutMetaAndStatus(object: KubeObject): Record<string, unknown> {
  const { metadata: _m, status: _s, ...rest } = object;
  return rest;
}

const sizeOf = (object: KubeObject): number => Buffer.byteLength(objectJson(object));

function storageFull(type: ResourceType, limit: number): KubeStatusError {
  return new KubeStatusError(
    507,
    'InsufficientStorage',
    `the embedded API server stores at most ${limit} bytes of objects (maxStoredBytes, --max-stored-bytes); delete objects or raise the limit to write more ${type.plural}`,
  );
}

const objectKey = (namespace: string | undefined, name: string): string => (namespace === undefined ? name : `${namespace}/${name}`);

/** RFC 3339 with seconds, as Kubernetes writes Time fields. */
const timestamp = (date: Date): string => `${date.toISOString().slice(0, 19)}Z`;

const SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
function randomSuffix(): string {
  let suffix = '';
  for (let i = 0; i < 5; i++) suffix += SUFFIX_ALPHABET[Math.floor(Math.random() * SUFFIX_ALPHABET.length)];
  return suffix;
}

function firstAfter(history: readonly HistoryEntry[], rv: number): number {
  let lo = 0;
  let hi = history.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (history[mid]!.rv <= rv) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function encodeContinue(key: string, rv: number): string {
  return Buffer.from(JSON.stringify({ k: key, rv })).toString('base64url');
}

function decodeContinue(token: string): string {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (parsed !== null && typeof parsed === 'object' && typeof (parsed as { k?: unknown }).k === 'string') return (parsed as { k: string }).k;
  } catch {
    // fall through to the error below
  }
  throw badRequest('continue: invalid continue token');
}
