/**
 * One ajv instance for the wire contracts, and the step that turns ajv's first error into a `TesseraError` that
 * names the offending field (`tessera.io/decision: containers.0.devices.1.memoryMiB: must be >= 0`).
 */
import { Ajv, type AnySchema, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { TesseraError } from '../errors.js';

// ajv-formats is CommonJS; under NodeNext its default export arrives as the module object.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

export const ajv = addFormats(new Ajv({ allErrors: false, strict: true }));

/** Dotted path of the field an ajv error is about (`required` errors name the missing property). */
export function fieldOf(error: ErrorObject, prefix: string): string {
  const path = error.instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (error.keyword === 'required') path.push(String((error.params as { missingProperty: string }).missingProperty));
  if (error.keyword === 'additionalProperties') path.push(String((error.params as { additionalProperty: string }).additionalProperty));
  return [prefix, ...path].filter((p) => p !== '').join('.');
}

function messageOf(error: ErrorObject): string {
  if (error.keyword === 'required') return 'is required';
  if (error.keyword === 'additionalProperties') return 'is not a known field';
  if (error.keyword === 'enum') return `${error.message ?? 'is invalid'} (${(error.params as { allowedValues: unknown[] }).allowedValues.join(', ')})`;
  return error.message ?? 'is invalid';
}

/** The TesseraError for a failed validation: code INVALID_INPUT unless the caller says otherwise. */
export function validationError(errors: ErrorObject[] | null | undefined, prefix: string, code: 'INVALID_INPUT' | 'INVALID_CONFIG' = 'INVALID_INPUT'): TesseraError {
  const first = errors?.[0];
  if (!first) return new TesseraError(code, 'is invalid', { field: prefix });
  return new TesseraError(code, messageOf(first), { field: fieldOf(first, prefix) });
}

/** Compiles `schema` once and returns a checker that answers the typed value or throws a field-naming error. */
export function compileChecker<T>(schema: AnySchema, prefix: string): (value: unknown) => T {
  const validate = ajv.compile<T>(schema);
  return (value: unknown): T => {
    if (validate(value)) return value as T;
    throw validationError(validate.errors, prefix);
  };
}

/** Parses JSON text, naming `field` when it is not JSON. */
export function parseJson(text: string, field: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new TesseraError('INVALID_INPUT', `is not valid JSON (${(cause as Error).message})`, { field, cause });
  }
}
