import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeInventory, encodeInventory } from '../../src/api/inventory.js';
import { TesseraError } from '../../src/errors.js';
import { inventoryArb } from './arbitraries.js';

describe('node inventory annotation', () => {
  it('round-trips every valid inventory', () => {
    fc.assert(
      fc.property(inventoryArb, (inventory) => {
        expect(decodeInventory(encodeInventory(inventory))).toEqual(inventory);
      }),
      { numRuns: 200 },
    );
  });

  it('names the field of a malformed GPU and refuses a repeated GPU', () => {
    fc.assert(
      fc.property(
        inventoryArb.filter((inv) => inv.gpus.length > 0),
        (inventory) => {
          const broken = { ...inventory, gpus: [{ ...inventory.gpus[0], memoryMiB: 0 }, ...inventory.gpus.slice(1)] };
          expect(() => decodeInventory(JSON.stringify(broken))).toThrow('tessera.io/node-inventory.gpus.0.memoryMiB');
          const repeated = { ...inventory, gpus: [...inventory.gpus, inventory.gpus[0]] };
          expect(() => decodeInventory(JSON.stringify(repeated))).toThrow(`gpus.${inventory.gpus.length}.uuid: repeats GPU`);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('answers arbitrary JSON with an inventory or a TesseraError', () => {
    fc.assert(
      fc.property(fc.json(), (text) => {
        try {
          decodeInventory(text);
        } catch (error) {
          expect(error).toBeInstanceOf(TesseraError);
        }
      }),
      { numRuns: 200 },
    );
  });
});
