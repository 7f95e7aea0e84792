/**
 * Resource quantities in stored objects, handled as kube-apiserver handles them (k8s.io/apimachinery
 * resource.Quantity): a pod's container requests and limits and overhead, a node's capacity and allocatable.
 * Decoding parses each one (a value that is not a quantity is a 400 at decode, as Quantity.UnmarshalJSON fails
 * the whole body) and stores it in its canonical form (`1024Mi` -> `1Gi`, the number 16384 -> "16384"), as a
 * client reading it back from kube-apiserver sees it. Validation then refuses negative values and fractions of
 * extended resources with 422 Invalid naming the field. Pure.
 */
import type { KubeObject } from './objects.js';
import type { ResourceType } from './resources.js';
import { KubeStatusError, type StatusCause } from './status.js';

/** The regular expression kube-apiserver's error quotes (resource.splitREString). */
const SPLIT = '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$';
const FORMAT_WRONG = `quantities must match the regular expression '${SPLIT}'`;
const SUFFIX_WRONG = "unable to parse quantity's suffix";

// parseQuantityString's scanner: sign, digits, an optional fraction, then suffix letters, an optional sign, digits.
const SCAN = /^([+-]?)([0-9]*)(?:\.([0-9]*))?([eEinumkKMGTP]*[-+]?[0-9]*)$/;
const DECIMAL_SUFFIXES: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_SUFFIXES: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const BINARY_NAMES = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];

/**
 * Digits and exponents beyond these are refused (kube-apiserver has no such bound, but no real quantity comes
 * near them): they keep the exact arithmetic below cheap whatever a client sends.
 */
const MAX_DIGITS = 100;
const MAX_EXPONENT = 100;

type Format = 'DecimalSI' | 'BinarySI' | 'DecimalExponent';

/** A parsed quantity: its value in nano units (rounded up, away from zero, as ParseQuantity rounds) and its format. */
interface Quantity {
  nanos: bigint;
  format: Format;
}

const NANO = 1_000_000_000n;
/** The largest BinarySI value ParseQuantity keeps (maxAllowed, 2^63-1), in nano units. */
const MAX_BINARY = ((1n << 63n) - 1n) * NANO;

const pow10 = (n: number): bigint => 10n ** BigInt(n);

/** Parses as resource.ParseQuantity does; a string is why the value is not a quantity. */
function parseQuantity(value: unknown): Quantity | string {
  // A quantity is a JSON string, or a number as Quantity.UnmarshalJSON also takes (its text is parsed the same way).
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : typeof value === 'string' ? value.trim() : undefined;
  if (text === undefined || text === '') return FORMAT_WRONG;
  const scanned = SCAN.exec(text);
  if (!scanned) return FORMAT_WRONG;
  const [, sign = '', whole = '', fraction = '', suffix = ''] = scanned;
  let exponent10 = 0;
  let exponent2 = 0;
  let format: Format;
  if (suffix in DECIMAL_SUFFIXES) {
    exponent10 = DECIMAL_SUFFIXES[suffix]!;
    format = 'DecimalSI';
  } else if (suffix in BINARY_SUFFIXES) {
    exponent2 = BINARY_SUFFIXES[suffix]!;
    format = 'BinarySI';
  } else if (/^[eE][-+]?[0-9]+$/.test(suffix)) {
    exponent10 = Number(suffix.slice(1));
    format = 'DecimalExponent';
  } else return SUFFIX_WRONG;
  const digits = `${whole}${fraction}`.replace(/^0+/, '');
  if (digits.length > MAX_DIGITS || Math.abs(exponent10) > MAX_EXPONENT) return `the quantity has more than ${MAX_DIGITS} digits or an exponent beyond ±${MAX_EXPONENT}`;
  const mantissa = BigInt(digits || '0') << BigInt(exponent2);
  // value = mantissa * 10^scale; in nano units, rounded up to the next nano as ParseQuantity rounds.
  const scale = exponent10 - fraction.length + 9;
  let magnitude: bigint;
  if (scale >= 0) magnitude = mantissa * pow10(scale);
  else {
    const divisor = pow10(-scale);
    magnitude = mantissa / divisor + (mantissa % divisor === 0n ? 0n : 1n);
  }
  if (format === 'BinarySI') {
    if (magnitude > MAX_BINARY) magnitude = MAX_BINARY;
    // Below one, binary suffixes would round: ParseQuantity switches to decimal.
    if (magnitude > 0n && magnitude < NANO) format = 'DecimalSI';
  }
  return { nanos: sign === '-' ? -magnitude : magnitude, format };
}

/** Quantity.String(): CanonicalizeBytes. */
function canonical({ nanos, format }: Quantity): string {
  if (nanos === 0n) return '0';
  const negative = nanos < 0n;
  const magnitude = negative ? -nanos : nanos;
  let text: string;
  // BinarySI only for whole values of at least 1024; anything else would round or read oddly, so it is decimal.
  if (format === 'BinarySI' && magnitude >= 1024n * NANO && magnitude % NANO === 0n) {
    let units = magnitude / NANO;
    let power = 0;
    while (power < BINARY_NAMES.length - 1 && units % 1024n === 0n) {
      units /= 1024n;
      power++;
    }
    text = `${units}${BINARY_NAMES[power]}`;
  } else {
    // AsCanonicalBytes: strip factors of ten, then bring the exponent down to a multiple of three.
    let mantissa = magnitude;
    let exponent = -9;
    while (mantissa % 10n === 0n) {
      mantissa /= 10n;
      exponent++;
    }
    const aligned = Math.floor(exponent / 3) * 3;
    mantissa *= pow10(exponent - aligned);
    exponent = aligned;
    if (format === 'DecimalExponent') text = exponent === 0 ? `${mantissa}` : `${mantissa}e${exponent}`;
    else if (exponent > 18) text = `${mantissa * pow10(exponent - 18)}E`;
    else text = `${mantissa}${Object.keys(DECIMAL_SUFFIXES).find((s) => DECIMAL_SUFFIXES[s] === exponent)}`;
  }
  return negative ? `-${text}` : text;
}

interface ResourceList {
  field: string;
  /** The resource list itself, in the object being decoded. */
  list: Record<string, unknown>;
  /** For a container's lists: its limits (what its requests are checked against) and its resources' path. */
  container?: { limits: Record<string, unknown> | undefined; path: string };
}

const isMap = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/** The resource lists of an object of `type`, each with the field path kube-apiserver names it by. */
function resourceLists(type: ResourceType, object: KubeObject): ResourceList[] {
  if (type.group !== '') return [];
  const lists: ResourceList[] = [];
  const add = (field: string, list: unknown, container?: ResourceList['container']): void => {
    if (isMap(list)) lists.push({ field, list, ...(container ? { container } : {}) });
  };
  if (type.plural === 'nodes') {
    const status = isMap(object.status) ? object.status : {};
    add('status.capacity', status.capacity);
    add('status.allocatable', status.allocatable);
    return lists;
  }
  if (type.plural !== 'pods') return lists;
  const spec = isMap(object.spec) ? object.spec : {};
  add('spec.overhead', spec.overhead);
  for (const group of ['initContainers', 'containers']) {
    const containers = spec[group];
    if (!Array.isArray(containers)) continue;
    containers.forEach((container: unknown, index) => {
      const resources = isMap(container) && isMap(container.resources) ? container.resources : {};
      const path = `spec.${group}[${index}].resources`;
      const pair = { limits: isMap(resources.limits) ? resources.limits : undefined, path };
      add(`${path}.limits`, resources.limits, pair);
      add(`${path}.requests`, resources.requests, pair);
    });
  }
  return lists;
}

/**
 * Decoding: every quantity of `object` rewritten in place to its canonical string. A value that is not a quantity
 * throws what `refuse` makes of the reason (kube-apiserver: 400 on create and update, 422 naming `patch` on a patch).
 */
export function canonicalizeQuantities(type: ResourceType, object: KubeObject, refuse: (why: string) => KubeStatusError): void {
  for (const { list } of resourceLists(type, object)) {
    // Re-inserted in sorted order: kube-apiserver writes a map's keys sorted, and clients see that order.
    for (const [resource, value] of Object.entries(list).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      // A null in a resource list decodes as the zero quantity.
      const parsed = value === null ? { nanos: 0n, format: 'DecimalSI' as const } : parseQuantity(value);
      if (typeof parsed === 'string') throw refuse(parsed);
      delete list[resource];
      list[resource] = canonical(parsed);
    }
  }
}

/** The 400 a create or update whose body holds something that is not a quantity gets. */
export const quantityDecodeError =
  (type: ResourceType) =>
  (why: string): KubeStatusError =>
    new KubeStatusError(400, 'BadRequest', `${type.kind} in version "${type.version}" cannot be handled as a ${type.kind}: ${why}`);

/** Extended resources (a domain other than kubernetes.io, not a quota `requests.` name) are counted in whole units. */
const isExtended = (name: string): boolean => name.includes('/') && !/(^|\.)kubernetes\.io\//.test(name) && !name.startsWith('requests.');
/** kube's IsOvercommitAllowed: native resources but hugepages may be requested below their limit. */
const overcommitAllowed = (name: string): boolean => !isExtended(name) && !name.startsWith('hugepages-');

/**
 * Validation of canonical quantities (after canonicalizeQuantities): 422 Invalid naming every bad one, worded as
 * kube-apiserver's field errors are (ValidateResourceQuantityValue and ValidateResourceRequirements).
 */
export function checkQuantities(type: ResourceType, object: KubeObject): void {
  const causes: StatusCause[] = [];
  const cause = (field: string, value: string, why: string): void => {
    causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(value)}: ${why}`, field });
  };
  for (const { field, list, container } of resourceLists(type, object)) {
    const requests = container !== undefined && field.endsWith('.requests');
    for (const [resource, value] of Object.entries(list)) {
      const parsed = parseQuantity(value);
      if (typeof parsed === 'string') continue;
      const text = canonical(parsed);
      const path = `${field}[${resource}]`;
      if (parsed.nanos < 0n) cause(path, text, 'must be greater than or equal to 0');
      if (isExtended(resource) && parsed.nanos % NANO !== 0n) cause(path, text, 'must be an integer');
      if (!requests || container === undefined) continue;
      const limit = container.limits?.[resource];
      const parsedLimit = limit === undefined ? undefined : parseQuantity(limit);
      if (parsedLimit === undefined) {
        if (!overcommitAllowed(resource))
          causes.push({ reason: 'FieldValueRequired', message: 'Required value: Limit must be set for non overcommitable resources', field: `${container.path}.limits` });
      } else if (typeof parsedLimit !== 'string') {
        if (!overcommitAllowed(resource) && parsed.nanos !== parsedLimit.nanos) cause(field, text, `must be equal to ${resource} limit of ${canonical(parsedLimit)}`);
        else if (parsed.nanos > parsedLimit.nanos) cause(field, text, `must be less than or equal to ${resource} limit of ${canonical(parsedLimit)}`);
      }
    }
  }
  if (causes.length === 0) return;
  const name = object.metadata.name ?? '';
  const errors = causes.map((c) => `${c.field}: ${c.message}`);
  const list = errors.length === 1 ? errors[0] : `[${errors.join(', ')}]`;
  throw new KubeStatusError(422, 'Invalid', `${type.kind} "${name}" is invalid: ${list}`, { name, group: type.group, kind: type.kind, causes });
}

/** The value of a quantity in nano units (what the QoS class sums and compares), or undefined if it is none. */
export function quantityNanos(value: unknown): bigint | undefined {
  const parsed = parseQuantity(value);
  return typeof parsed === 'string' ? undefined : parsed.nanos;
}
