/**
 * `tessera mig models` lists the GPU catalog; `tessera mig plan` prints the geometry engine's ranked plans for one
 * request on one GPU. Flags are parsed and validated here; the decision is `planMig`'s.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { allowedGeometriesFor, loadDeviceConfig } from '../../config/index.js';
import { TesseraError, type Result } from '../../errors.js';
import { parseJson } from '../../api/index.js';
import { listGpuModels, parseMigInstances, planMig, resolveGpuModel, validateLayout, type MigPlan, type MigRequest, type PlanOptions } from '../../geometry/index.js';
import { EXIT_OK, type Command } from '../command.js';

const USAGE = `Usage:
  tessera mig models [--json]
  tessera mig plan --model <name> --request <MiB> [--instances '<json>'] [--profile <p>] [--min-compute <n>]
                   [--device-config <file>] [--limit <n>] [--json]

mig models   the GPU catalog: models, memory, MIG profiles (ID, slices, MiB, starts, max count)
mig plan     ranked ways to serve one MIG request on one GPU, best first

Options of mig plan:
  --model <name>          any spelling: A100-SXM4-40GB, "NVIDIA A100-PCIE-40GB", NVIDIA-H100-80GB-HBM3-MIG-1g.10gb
  --request <MiB>         instance memory needed (0: any)
  --instances <json>      current instances, e.g. '[{"profile":"3g.40gb","start":4,"inUse":true}]' (inUse defaults true)
  --profile <p>           exactly this profile
  --min-compute <n>       at least n compute slices
  --device-config <file>  apply the model's knownMigGeometries from this device config
  --limit <n>             at most n plans (default 10)
  --json                  one JSON document on stdout`;

function unwrap<T>(result: Result<T>): T {
  if (!result.ok) throw result.error;
  return result.value;
}

const OPTIONS = {
  model: { type: 'string' },
  request: { type: 'string' },
  instances: { type: 'string' },
  profile: { type: 'string' },
  'min-compute': { type: 'string' },
  'device-config': { type: 'string' },
  limit: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

function nonNegativeInteger(text: string | undefined, field: string, max: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === '' || !Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new TesseraError('INVALID_INPUT', `must be an integer in [0, ${max}], got '${text}'`, { field });
  }
  return value;
}

export interface MigPlanInput {
  modelName: string;
  instances: string;
  request: MigRequest;
  options: PlanOptions;
  json: boolean;
}

/** Checks every flag of `mig plan` and answers the engine's inputs, or throws an INVALID_INPUT naming the flag. */
export function parseMigPlanArgs(argv: string[]): MigPlanInput {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, strict: true, allowPositionals: false, options: OPTIONS }));
  } catch (cause) {
    throw new TesseraError('INVALID_INPUT', (cause as Error).message, { cause });
  }
  if (!values.model) throw new TesseraError('INVALID_INPUT', 'is required', { field: '--model' });
  const memoryMiB = nonNegativeInteger(values.request, '--request', 16_777_216);
  if (memoryMiB === undefined) throw new TesseraError('INVALID_INPUT', 'is required', { field: '--request' });
  const minComputeSlices = nonNegativeInteger(values['min-compute'], '--min-compute', 8);
  const limit = nonNegativeInteger(values.limit, '--limit', 1000) ?? 10;
  const request: MigRequest = {
    memoryMiB,
    ...(values.profile === undefined ? {} : { profile: values.profile }),
    ...(minComputeSlices === undefined ? {} : { minComputeSlices }),
  };
  const options: PlanOptions = { limit };
  if (values['device-config'] !== undefined) {
    const file = values['device-config'];
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (cause) {
      throw new TesseraError('INVALID_INPUT', `cannot read ${file}: ${(cause as Error).message}`, { field: '--device-config', cause });
    }
    const model = unwrap(resolveGpuModel(values.model));
    const geometries = allowedGeometriesFor(unwrap(loadDeviceConfig(text)), model);
    if (geometries) options.allowedGeometries = geometries;
  }
  return { modelName: values.model, instances: values.instances ?? '[]', request, options, json: values.json };
}

function describePlan(plan: MigPlan, rank: number): string {
  const at = (x: { profile: string; start: number }): string => `${x.profile}@${x.start}`;
  const parts = [`${String(rank).padStart(2)}. ${plan.kind.padEnd(11)} ${at(plan.target).padEnd(14)} score ${String(plan.score).padStart(4)}`];
  parts.push(`cost -${plan.cost.destroyed}/+${plan.cost.created}`);
  if (plan.destroy.length) parts.push(`destroy ${plan.destroy.map(at).join(' ')}`);
  if (plan.create.length) parts.push(`create ${plan.create.map(at).join(' ')}`);
  parts.push(`leaves ${plan.layout.map((x) => `${at(x)}${x.inUse ? '*' : ''}`).join(' ')}`);
  return parts.join('  ');
}

async function plan(argv: string[]): Promise<number> {
  const input = parseMigPlanArgs(argv);
  const model = unwrap(resolveGpuModel(input.modelName));
  if (!model.mig) throw new TesseraError('INVALID_INPUT', `${model.name} has no MIG`, { field: '--model' });
  const instances = unwrap(parseMigInstances(parseJson(input.instances, '--instances'), '--instances'));
  unwrap(validateLayout(model, instances));
  const plans = planMig(model, instances, input.request, input.options);
  if (input.json) {
    console.log(JSON.stringify({ model: model.name, request: input.request, plans }, null, 2));
  } else if (plans.length === 0) {
    console.log(`${model.name}: no way to serve ${input.request.memoryMiB} MiB without touching an instance in use`);
  } else {
    console.log(`${model.name}: ${plans.length} plan(s) for ${input.request.memoryMiB} MiB, best first (* = in use)`);
    plans.forEach((p, i) => console.log(describePlan(p, i + 1)));
  }
  return EXIT_OK;
}

async function models(argv: string[]): Promise<number> {
  let json: boolean;
  try {
    json = parseArgs({ args: argv, strict: true, allowPositionals: false, options: { json: { type: 'boolean', default: false } } }).values.json;
  } catch (cause) {
    throw new TesseraError('INVALID_INPUT', (cause as Error).message, { cause });
  }
  const catalog = listGpuModels();
  if (json) {
    console.log(JSON.stringify(catalog, null, 2));
    return EXIT_OK;
  }
  for (const model of catalog) {
    console.log(`${model.name}  ${model.memoryMiB} MiB  ${model.mig ? `MIG ${model.mig.totalComputeSlices}/${model.mig.totalMemorySlices} slices` : 'whole GPU'}`);
    for (const p of model.mig?.profiles ?? []) {
      console.log(
        `  ${p.name.padEnd(12)} id ${String(p.id).padStart(2)}  ${p.computeSlices}c/${p.memorySlices}m  ${String(p.memoryMiB).padStart(6)} MiB  starts ${p.starts.join(',')}  max ${p.maxCount}`,
      );
    }
  }
  return EXIT_OK;
}

export const migCommand: Command = {
  name: 'mig',
  summary: 'MIG catalog and geometry plans (mig models, mig plan)',
  usage: USAGE,
  async run(argv: string[]): Promise<number> {
    const [sub, ...rest] = argv;
    if (sub === 'plan') return plan(rest);
    if (sub === 'models') return models(rest);
    throw new TesseraError('INVALID_INPUT', `expected 'plan' or 'models', got '${sub ?? ''}'`, { field: 'subcommand' });
  },
};
