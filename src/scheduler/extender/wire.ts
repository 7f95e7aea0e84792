/**
 * The kube-scheduler extender wire format (k8s.io/kube-scheduler/extender/v1). The Go types carry no JSON tags,
 * so fields travel in PascalCase and Go decodes them case-insensitively: requests are accepted in any case and
 * normalised here; replies are always PascalCase, with arrays (never null) where kube-scheduler reads a list.
 * Embedded Pods and Nodes are ordinary Kubernetes JSON; only the fields Tessera reads are checked.
 */
import { TesseraError } from '../../errors.js';
import { ajv, validationError } from '../../api/index.js';

/** The parts of a Pod the extender reads. */
export interface WirePod {
  metadata: { name: string; namespace?: string; uid: string; annotations?: Record<string, string>; resourceVersion?: string };
  spec: {
    schedulerName?: string;
    nodeName?: string;
    containers: Array<{ name: string; resources?: { limits?: Record<string, string | number>; requests?: Record<string, string | number> } }>;
  };
  status?: { phase?: string };
}

export interface WireNode {
  metadata: { name: string };
}

export interface FilterArgs {
  pod: WirePod;
  /** Set when kube-scheduler runs without nodeCacheCapable. */
  nodes: WireNode[] | null;
  /** Set when kube-scheduler runs with nodeCacheCapable. */
  nodeNames: string[] | null;
}

export interface BindArgs {
  podName: string;
  podNamespace: string;
  podUid: string;
  node: string;
}

export interface FilterReply {
  Nodes: { metadata: Record<string, never>; items: WireNode[] } | null;
  NodeNames: string[] | null;
  FailedNodes: Record<string, string>;
  FailedAndUnresolvableNodes: Record<string, string>;
  Error: string;
}

export interface HostScore {
  Host: string;
  Score: number;
}

/** ExtenderPreemptionArgs, normalised: per node, the UIDs of the pods kube-scheduler would evict there. */
export interface PreemptArgs {
  pod: WirePod;
  victims: Record<string, { uids: string[]; numPDBViolations: number }>;
}

export interface PreemptReply {
  NodeNameToMetaVictims: Record<string, { Pods: Array<{ UID: string }>; NumPDBViolations: number }>;
}

/** kube-scheduler's MaxExtenderPriority: extender scores are 0..10 and multiplied by weight x 10. */
export const MAX_EXTENDER_PRIORITY = 10;

const quantity = { anyOf: [{ type: 'string', maxLength: 64 }, { type: 'number' }] } as const;
const resourceList = { type: 'object', additionalProperties: quantity } as const;
const dnsName = { type: 'string', minLength: 1, maxLength: 253 } as const;

const podSchema = {
  type: 'object',
  required: ['metadata', 'spec'],
  properties: {
    metadata: {
      type: 'object',
      required: ['name', 'uid'],
      properties: {
        name: dnsName,
        namespace: { type: 'string', maxLength: 253 },
        uid: dnsName,
        resourceVersion: { type: 'string' },
        annotations: { type: 'object', additionalProperties: { type: 'string' } },
      },
    },
    spec: {
      type: 'object',
      required: ['containers'],
      properties: {
        schedulerName: { type: 'string' },
        nodeName: { type: 'string' },
        containers: {
          type: 'array',
          maxItems: 256,
          items: {
            type: 'object',
            required: ['name'],
            properties: { name: dnsName, resources: { type: 'object', properties: { limits: resourceList, requests: resourceList } } },
          },
        },
      },
    },
    status: { type: 'object', properties: { phase: { type: 'string' } } },
  },
} as const;

const nodeSchema = { type: 'object', required: ['metadata'], properties: { metadata: { type: 'object', required: ['name'], properties: { name: dnsName } } } } as const;

const filterSchema = {
  type: 'object',
  required: ['pod'],
  properties: {
    pod: podSchema,
    nodes: { anyOf: [{ type: 'null' }, { type: 'object', properties: { items: { anyOf: [{ type: 'null' }, { type: 'array', items: nodeSchema }] } } }] },
    // Names are only looked up (an unknown one is reported unresolvable), so thousands are checked for type only.
    nodenames: { type: ['array', 'null'], items: { type: 'string' } },
  },
} as const;

const bindSchema = {
  type: 'object',
  required: ['podname', 'podnamespace', 'poduid', 'node'],
  properties: { podname: dnsName, podnamespace: dnsName, poduid: dnsName, node: dnsName },
} as const;

const victimsSchema = {
  type: 'object',
  additionalProperties: {
    type: ['object', 'null'],
    properties: { pods: { type: ['array', 'null'], items: { type: 'object' } }, numpdbviolations: { type: 'integer' } },
  },
} as const;

const preemptSchema = {
  type: 'object',
  required: ['pod'],
  properties: { pod: podSchema, nodenametovictims: { anyOf: [{ type: 'null' }, victimsSchema] }, nodenametometavictims: { anyOf: [{ type: 'null' }, victimsSchema] } },
} as const;

const checkFilter = ajv.compile(filterSchema);
const checkPreempt = ajv.compile(preemptSchema);
const checkBind = ajv.compile(bindSchema);
const checkPod = ajv.compile(podSchema);

/** The fields Go would match, keyed by their lower-cased names (Go's decoder ignores case). */
function lowerKeys(body: unknown, what: string): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new TesseraError('INVALID_INPUT', 'must be a JSON object', { field: what });
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) out[key.toLowerCase()] = value;
  return out;
}

/** Parses ExtenderArgs for filter and prioritize. */
export function parseFilterArgs(body: unknown): FilterArgs {
  const args = lowerKeys(body, 'ExtenderArgs');
  if (!checkFilter(args)) throw pascal(validationError(checkFilter.errors, 'ExtenderArgs'));
  const nodes = args.nodes as { items?: WireNode[] | null } | null | undefined;
  return {
    pod: args.pod as WirePod,
    nodes: nodes ? (nodes.items ?? []) : null,
    nodeNames: (args.nodenames as string[] | null | undefined) ?? null,
  };
}

/** Parses ExtenderBindingArgs. */
export function parseBindArgs(body: unknown): BindArgs {
  const args = lowerKeys(body, 'ExtenderBindingArgs');
  if (!checkBind(args)) throw pascal(validationError(checkBind.errors, 'ExtenderBindingArgs'));
  return { podName: args.podname as string, podNamespace: args.podnamespace as string, podUid: args.poduid as string, node: args.node as string };
}

/** Lower-cases the keys of a map's values (Victims / MetaVictims), as Go matches them. */
function lowerValues(map: unknown): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [key, value] of Object.entries((map ?? {}) as Record<string, unknown>)) out[key] = value === null ? {} : lowerKeys(value, key);
  return out;
}

/**
 * Parses ExtenderPreemptionArgs: `NodeNameToMetaVictims` (nodeCacheCapable) or `NodeNameToVictims` (full pods),
 * both reduced to victim UIDs per node.
 */
export function parsePreemptArgs(body: unknown): PreemptArgs {
  const args = lowerKeys(body, 'ExtenderPreemptionArgs');
  const normalised = {
    ...args,
    nodenametovictims: args.nodenametovictims && lowerValues(args.nodenametovictims),
    nodenametometavictims: args.nodenametometavictims && lowerValues(args.nodenametometavictims),
  };
  if (!checkPreempt(normalised)) throw pascal(validationError(checkPreempt.errors, 'ExtenderPreemptionArgs'));
  const meta = normalised.nodenametometavictims as Record<string, { pods?: Array<Record<string, unknown>> | null; numpdbviolations?: number }> | null | undefined;
  const full = normalised.nodenametovictims as Record<string, { pods?: Array<{ metadata?: { uid?: unknown } }> | null; numpdbviolations?: number }> | null | undefined;
  const victims: PreemptArgs['victims'] = {};
  for (const [node, v] of Object.entries(meta ?? {})) {
    victims[node] = { uids: (v.pods ?? []).map((p) => String(lowerKeys(p, node).uid ?? '')), numPDBViolations: v.numpdbviolations ?? 0 };
  }
  for (const [node, v] of Object.entries(meta ? {} : (full ?? {}))) {
    victims[node] = { uids: (v.pods ?? []).map((p) => String(p.metadata?.uid ?? '')), numPDBViolations: v.numpdbviolations ?? 0 };
  }
  return { pod: normalised.pod as WirePod, victims };
}

/** Checks a Pod from elsewhere (the admission webhook, the informer) against what the extender reads. */
export function parseWirePod(value: unknown, field: string): WirePod {
  if (!checkPod(value)) throw validationError(checkPod.errors, field);
  return value as WirePod;
}

const PASCAL: Record<string, string> = {
  pod: 'Pod',
  nodes: 'Nodes',
  nodenames: 'NodeNames',
  nodenametovictims: 'NodeNameToVictims',
  nodenametometavictims: 'NodeNameToMetaVictims',
  podname: 'PodName',
  podnamespace: 'PodNamespace',
  poduid: 'PodUID',
  node: 'Node',
};

/** Error fields in the caller's vocabulary (`ExtenderArgs.Pod.metadata.uid`), not our lower-cased one. */
function pascal(error: TesseraError): TesseraError {
  if (!error.field) return error;
  const [head, top, ...rest] = error.field.split('.');
  const field = [head, top === undefined ? undefined : (PASCAL[top] ?? top), ...rest].filter((p) => p !== undefined).join('.');
  return new TesseraError(error.code, error.message.slice(error.field.length + 2), { field });
}

/** The names of the nodes kube-scheduler offered, whichever mode it runs in. */
export function offeredNodeNames(args: FilterArgs): string[] {
  if (args.nodeNames) return args.nodeNames;
  return (args.nodes ?? []).map((n) => n.metadata.name);
}

/** A filter reply in the mode the request came in: names back for nodeCacheCapable, full Node objects otherwise. */
export function filterReply(args: FilterArgs, fit: string[], failed: Record<string, string>, unresolvable: Record<string, string>): FilterReply {
  if (args.nodeNames || !args.nodes) return { Nodes: null, NodeNames: fit, FailedNodes: failed, FailedAndUnresolvableNodes: unresolvable, Error: '' };
  const keep = new Set(fit);
  return { Nodes: { metadata: {}, items: args.nodes.filter((n) => keep.has(n.metadata.name)) }, NodeNames: null, FailedNodes: failed, FailedAndUnresolvableNodes: unresolvable, Error: '' };
}

/** A filter reply that fails the scheduling attempt with `message` (kube-scheduler logs it). */
export function filterErrorReply(message: string): FilterReply {
  return { Nodes: null, NodeNames: null, FailedNodes: {}, FailedAndUnresolvableNodes: {}, Error: message };
}
