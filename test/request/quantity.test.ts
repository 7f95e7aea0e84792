import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseQuantity, quantityCeil, quantityInteger } from '../../src/request/index.js';

const MI = 1n << 20n;

describe('parseQuantity', () => {
  it.each([
    // text, as an integer (null: has a fraction), milli rounded up
    ['8000', 8000, 8_000_000],
    ['8Gi', 8 * 1024 ** 3, 8 * 1024 ** 3 * 1000],
    ['500m', null, 500],
    ['1e3', 1000, 1_000_000],
    ['1.5', null, 1500],
    ['0.1', null, 100], // exact: 0.1 x 1000 is 100, not 100.00000000000001
    ['1k', 1000, 1_000_000],
    ['2M', 2_000_000, 2_000_000_000],
    ['.5', null, 500],
    ['1E-3', null, 1],
    ['+7', 7, 7000],
    ['-3', -3, -3000],
    ['100n', null, 1], // rounds up, as Kubernetes does for requests
  ])('%s', (text, integer, milli) => {
    const q = parseQuantity(text);
    expect(q).not.toBeNull();
    if (!q) return;
    expect(quantityInteger(q)).toBe(integer);
    expect(quantityCeil(q, 1000n)).toBe(milli);
  });

  it('converts memory to MiB rounding up', () => {
    const q = parseQuantity('1025Ki');
    expect(q && quantityCeil(q, 1n, MI)).toBe(2);
    const g = parseQuantity('1Gi');
    expect(g && quantityCeil(g, 1n, MI)).toBe(1024);
  });

  it.each(['', 'abc', '1.2.3', '5Mb', '1Ki1', '--1', 'e3', '1e', '1 Gi', '0x10', 'Infinity', '1'.repeat(65)])('rejects %j', (text) => {
    expect(parseQuantity(text)).toBeNull();
  });

  it('never throws, whatever the text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (text) => {
        const q = parseQuantity(text);
        if (q) expect(q.denominator > 0n).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('reads back every integer and every milli value it is given', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e12, max: 1e12 }), (n) => {
        const whole = parseQuantity(String(n));
        expect(whole && quantityInteger(whole)).toBe(n);
        const milli = parseQuantity(`${n}m`);
        expect(milli && quantityCeil(milli, 1000n)).toBe(n);
      }),
      { numRuns: 300 },
    );
  });
});
