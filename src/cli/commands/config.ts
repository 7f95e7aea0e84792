/** `tessera config check <device-config.yaml>`: validates a HAMi-style device config and summarises it. */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadDeviceConfig } from '../../config/index.js';
import { TesseraError } from '../../errors.js';
import { EXIT_OK, type Command } from '../command.js';

const USAGE = `Usage: tessera config check <device-config.yaml> [--json]

Validates a HAMi device config (v2.9 or v2.10, as HAMi's chart renders it): every field, and every
knownMigGeometries geometry placed on each of its models. Another vendor's section, and an allowlist name
Tessera reads otherwise, is listed as a notice. Exit 0 when valid, 2 with the offending field.`;

async function check(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { json: { type: 'boolean', default: false } } });
  } catch (cause) {
    throw new TesseraError('INVALID_INPUT', (cause as Error).message, { cause });
  }
  const [file, ...extra] = parsed.positionals;
  if (file === undefined) throw new TesseraError('INVALID_INPUT', 'a device config file is required', { field: 'file' });
  if (extra.length > 0) throw new TesseraError('INVALID_INPUT', `one file only, got also '${extra.join(' ')}'`, { field: 'file' });
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new TesseraError('INVALID_INPUT', `cannot read ${file}: ${(cause as Error).message}`, { field: 'file', cause });
  }
  const loaded = loadDeviceConfig(text);
  if (!loaded.ok) throw new TesseraError('INVALID_CONFIG', `${file}: ${loaded.error.message}`, { cause: loaded.error });
  const config = loaded.value;
  if (parsed.values.json) {
    console.log(JSON.stringify(config, null, 2));
  } else {
    const geometries = config.nvidia.knownMigGeometries.reduce((n, k) => n + k.allowedGeometries.length * k.models.length, 0);
    console.log(
      `${file}: valid (${config.nvidia.knownMigGeometries.length} knownMigGeometries entries, ${geometries} model geometries placed, ${config.nvidia.migProfileAllowlist.length} migProfileAllowlist entries, ${config.nodeconfig.length} nodeconfig entries)`,
    );
    for (const notice of config.notices) console.log(`  notice: ${notice.field}: ${notice.message}`);
  }
  return EXIT_OK;
}

export const configCommand: Command = {
  name: 'config',
  summary: 'validate configuration (config check <device-config.yaml>)',
  usage: USAGE,
  async run(argv: string[]): Promise<number> {
    const [sub, ...rest] = argv;
    if (sub === 'check') return check(rest);
    throw new TesseraError('INVALID_INPUT', `expected 'check', got '${sub ?? ''}'`, { field: 'subcommand' });
  },
};
