/**
 * The one error catalogue. Every error Tessera reports to a user, an operator or a client has a stable code,
 * an HTTP status for the servers that surface it, and a hint that says what to do. Messages carry the specifics
 * (which field, which node); the catalogue carries what stays the same. test/errors.test.ts keeps the catalogue,
 * the codes used in src/ and docs/errors.md in agreement.
 */
export const ERROR_CATALOGUE = {
  INVALID_INPUT: { status: 400, hint: 'Fix the named field and try again.' },
  INVALID_CONFIG: { status: 400, hint: 'Fix the named field in the configuration file; `tessera config check <file>` validates it.' },
  UNKNOWN_GPU_MODEL: {
    status: 400,
    hint: 'Use a model from `tessera mig models`, or name a whole-GPU model with its memory in the device config.',
  },
  INVALID_MIG_LAYOUT: { status: 400, hint: 'Every MIG instance must start at a legal placement for its profile and must not overlap another.' },
  INVALID_REQUEST: { status: 400, hint: "Check the pod's nvidia.com/* resources and annotations against docs/requests.md." },
  NOT_FOUND: { status: 404, hint: 'Check the name and namespace.' },
  CONFLICT: { status: 409, hint: 'Re-read the object and retry with its current resourceVersion.' },
  UNAVAILABLE: { status: 503, hint: 'The component is starting or lost its upstream; retry shortly.' },
  INTERNAL: { status: 500, hint: 'This is a bug: report it with the log line that carries this code.' },
} as const satisfies Record<string, { status: number; hint: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export class TesseraError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly hint: string;
  /** Dotted path of the offending input field, when the error is about one. */
  readonly field: string | undefined;

  constructor(code: ErrorCode, message: string, options: { field?: string; cause?: unknown } = {}) {
    super(options.field ? `${options.field}: ${message}` : message, { cause: options.cause });
    this.name = 'TesseraError';
    this.code = code;
    this.status = ERROR_CATALOGUE[code].status;
    this.hint = ERROR_CATALOGUE[code].hint;
    this.field = options.field;
  }

  toJSON(): { code: ErrorCode; message: string; field?: string; hint: string } {
    return { code: this.code, message: this.message, ...(this.field ? { field: this.field } : {}), hint: this.hint };
  }
}

export function isTesseraError(value: unknown): value is TesseraError {
  return value instanceof TesseraError;
}

/** A value or the reason it could not be produced: used where throwing across a boundary is not allowed. */
export type Result<T, E = TesseraError> = { ok: true; value: T } | { ok: false; error: E };

export const ok = <T>(value: T): Result<T, never> => ({ ok: true, value });
export const err = <E>(error: E): Result<never, E> => ({ ok: false, error });
