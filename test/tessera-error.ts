/** Test helper: the field a TesseraError names when `run` throws one (other errors pass through). */
import { TesseraError } from '../src/errors.js';

export function fieldOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    if (error instanceof TesseraError) return error.field;
    throw error;
  }
  throw new Error('expected a TesseraError');
}
