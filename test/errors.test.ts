import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, TesseraError } from '../src/errors.js';

describe('error catalogue', () => {
  const docs = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');

  it('documents every code in docs/errors.md with its status', () => {
    for (const [code, spec] of Object.entries(ERROR_CATALOGUE)) {
      expect(docs, `docs/errors.md lacks ${code}`).toMatch(new RegExp(`\\| \`${code}\` \\| ${spec.status} \\|`));
    }
  });

  it('documents no code the catalogue lacks', () => {
    const documented = [...docs.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(ERROR_CATALOGUE).sort());
  });

  it('prefixes the message with the field and serialises code, field and hint', () => {
    const error = new TesseraError('INVALID_INPUT', 'must be a positive integer', { field: 'spec.gpus' });
    expect(error.message).toBe('spec.gpus: must be a positive integer');
    expect(error.toJSON()).toEqual({
      code: 'INVALID_INPUT',
      message: 'spec.gpus: must be a positive integer',
      field: 'spec.gpus',
      hint: ERROR_CATALOGUE.INVALID_INPUT.hint,
    });
  });
});
