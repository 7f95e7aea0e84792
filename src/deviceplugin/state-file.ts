/**
 * The plugin's handouts on disk, so that a restart between kubelet's Allocate and the pod's record does not lose
 * which grant went out for which device IDs (kubelet's own checkpoint does the same for its side). Written
 * atomically (temporary file, then rename); a missing, unreadable or malformed file is treated as empty.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { compileChecker, decisionSchema, parseJson } from '../api/index.js';
import type { Handout } from './ledger.js';

const deviceSchema = decisionSchema.properties.containers.items.properties.devices.items;

const checkState = compileChecker<{ handouts: Handout[] }>(
  {
    type: 'object',
    additionalProperties: false,
    required: ['handouts'],
    properties: {
      handouts: {
        type: 'array',
        maxItems: 100_000,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['deviceIds', 'grantOf', 'content', 'position', 'devices'],
          properties: {
            deviceIds: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 63 }, maxItems: 64 },
            grantOf: { type: 'string', minLength: 1, maxLength: 253 },
            content: { type: 'string', maxLength: 256 * 1024 },
            position: { type: 'integer', minimum: 0 },
            devices: { type: 'array', items: deviceSchema, maxItems: 64 },
          },
        },
      },
    },
  },
  'device-plugin state',
);

export function loadHandouts(file: string, log: Logger): Handout[] {
  if (!existsSync(file)) return [];
  try {
    return checkState(parseJson(readFileSync(file, 'utf8'), file)).handouts;
  } catch (error) {
    log.warn({ err: error, file }, 'ignoring an unreadable device-plugin state file');
    return [];
  }
}

export function saveHandouts(file: string, handouts: readonly Handout[]): void {
  mkdirSync(dirname(file), { recursive: true });
  const temporary = `${file}.tmp`;
  writeFileSync(temporary, JSON.stringify({ handouts }));
  renameSync(temporary, file);
}
