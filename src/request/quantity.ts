/**
 * Kubernetes resource quantities (`8000`, `8Gi`, `500m`, `1e3`, `1.5G`), parsed exactly: a quantity is kept as a
 * fraction of big integers, so `0.1` x 1000 is 100 and not 100.00000000000001. Conversions round the way the
 * Kubernetes API does for requests (up).
 */

/** An exact non-negative-or-negative rational: numerator / denominator, denominator > 0. */
export interface Quantity {
  readonly numerator: bigint;
  readonly denominator: bigint;
}

const BINARY_SUFFIX: Record<string, bigint> = {
  Ki: 1n << 10n,
  Mi: 1n << 20n,
  Gi: 1n << 30n,
  Ti: 1n << 40n,
  Pi: 1n << 50n,
  Ei: 1n << 60n,
};
const DECIMAL_EXPONENT: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

// sign, digits with an optional fraction, then one of: binary suffix, decimal suffix, or decimal exponent.
const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:(Ki|Mi|Gi|Ti|Pi|Ei)|([numkMGTPE]?)|[eE]([+-]?\d{1,3}))$/;
/** Longer inputs are not quantities anyone writes, and would make big integers expensive. */
const MAX_LENGTH = 64;

/** Parses a quantity; null when the text is not one. */
export function parseQuantity(text: string): Quantity | null {
  if (text.length === 0 || text.length > MAX_LENGTH) return null;
  const match = QUANTITY.exec(text);
  if (!match) return null;
  const [, sign = '', number = '', binary, decimal, exponent] = match;
  const [whole = '', fraction = ''] = number.split('.');
  let numerator = BigInt(`${whole || '0'}${fraction}`);
  let denominator = 10n ** BigInt(fraction.length);
  if (sign === '-') numerator = -numerator;
  if (binary !== undefined) {
    numerator *= BINARY_SUFFIX[binary] ?? 1n;
  } else {
    const power = exponent !== undefined ? Number(exponent) : (DECIMAL_EXPONENT[decimal ?? ''] ?? 0);
    if (power >= 0) numerator *= 10n ** BigInt(power);
    else denominator *= 10n ** BigInt(-power);
  }
  return { numerator, denominator };
}

const ceilDiv = (a: bigint, b: bigint): bigint => (a >= 0n ? (a + b - 1n) / b : -(-a / b));

/** The quantity times `scale`, rounded up (CPU cores to milli: scale 1000). */
export function quantityCeil(q: Quantity, scale = 1n, per = 1n): number {
  return Number(ceilDiv(q.numerator * scale, q.denominator * per));
}

/** The quantity as an integer, or null when it has a fractional part. */
export function quantityInteger(q: Quantity): number | null {
  return q.numerator % q.denominator === 0n ? Number(q.numerator / q.denominator) : null;
}

export const BYTES_PER_MIB = 1n << 20n;
