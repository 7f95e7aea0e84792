/**
 * Resource quantities in stored objects, checked as kube-apiserver checks them (k8s.io/apimachinery
 * resource.ParseQuantity, then ValidateNonnegativeQuantity): a pod's container requests and limits and overhead, a
 * node's capacity and allocatable. A value clients cannot parse breaks `kubectl describe` and every scheduler that
 * reads it, so it is refused at the door. Pure.
 */
import type { KubeObject } from './objects.js';
import type { ResourceType } from './resources.js';
import { KubeStatusError, type StatusCause } from './status.js';

/** The regular expression kube-apiserver's error quotes (resource.splitREString). */
const SPLIT = '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$';
const FORMAT_WRONG = `quantities must match the regular expression '${SPLIT}'`;
const SUFFIX_WRONG = "unable to parse quantity's suffix";

// parseQuantityString's scanner: sign, digits, an optional fraction, then suffix letters, an optional sign, digits.
const SCAN = /^[+-]?[0-9]*(?:\.[0-9]*)?([eEinumkKMGTP]*[-+]?[0-9]*)$/;
// The suffixes quantitySuffixer.interpret accepts: none, binary SI, decimal SI, or a decimal exponent.
const SUFFIX = /^(?:|Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][-+]?[0-9]{1,9})$/;

/** Why `value` is not a quantity, or undefined when it is one; `negative` tells whether it is below zero. */
function quantityProblem(value: unknown): { problem?: string; negative: boolean } {
  // A quantity is a JSON string, or a number as Quantity.UnmarshalJSON also takes.
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : typeof value === 'string' ? value.trim() : undefined;
  if (text === undefined || text === '') return { problem: FORMAT_WRONG, negative: false };
  const scanned = SCAN.exec(text);
  if (!scanned) return { problem: FORMAT_WRONG, negative: false };
  const suffix = scanned[1] ?? '';
  if (!SUFFIX.test(suffix)) return { problem: SUFFIX_WRONG, negative: false };
  const number = text.slice(0, text.length - suffix.length);
  return { negative: number.startsWith('-') && /[1-9]/.test(number) };
}

interface Quantities {
  field: string;
  list: unknown;
}

/** The resource lists of an object of `type`, each with the field path kube-apiserver names it by. */
function resourceLists(type: ResourceType, object: KubeObject): Quantities[] {
  if (type.group !== '') return [];
  if (type.plural === 'nodes') {
    const status = (object.status ?? {}) as Record<string, unknown>;
    return [
      { field: 'status.capacity', list: status.capacity },
      { field: 'status.allocatable', list: status.allocatable },
    ];
  }
  if (type.plural !== 'pods') return [];
  const spec = (object.spec ?? {}) as Record<string, unknown>;
  const lists: Quantities[] = [{ field: 'spec.overhead', list: spec.overhead }];
  for (const group of ['containers', 'initContainers']) {
    const containers = spec[group];
    if (!Array.isArray(containers)) continue;
    containers.forEach((container: unknown, index) => {
      const resources = ((container ?? {}) as { resources?: Record<string, unknown> }).resources ?? {};
      for (const kind of ['limits', 'requests']) lists.push({ field: `spec.${group}[${index}].resources.${kind}`, list: resources[kind] });
    });
  }
  return lists;
}

/** 422 Invalid naming every bad quantity, worded as kube-apiserver's field errors are. */
export function checkQuantities(type: ResourceType, object: KubeObject): void {
  const causes: StatusCause[] = [];
  for (const { field, list } of resourceLists(type, object)) {
    if (list === undefined || list === null || typeof list !== 'object' || Array.isArray(list)) continue;
    for (const [resource, value] of Object.entries(list)) {
      const path = `${field}[${resource}]`;
      const { problem, negative } = quantityProblem(value);
      const why = problem ?? (negative ? 'must be greater than or equal to 0' : undefined);
      if (why) causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(typeof value === 'string' ? value : String(value))}: ${why}`, field: path });
    }
  }
  if (causes.length === 0) return;
  const name = object.metadata.name ?? '';
  const errors = causes.map((c) => `${c.field}: ${c.message}`);
  const list = errors.length === 1 ? errors[0] : `[${errors.join(', ')}]`;
  throw new KubeStatusError(422, 'Invalid', `${type.kind} "${name}" is invalid: ${list}`, { name, group: type.group, kind: type.kind, causes });
}
