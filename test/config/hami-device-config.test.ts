/**
 * HAMi's own device configs (v2.9.0 and v2.10.0, as HAMi's chart renders them) load unchanged, read from
 * ../shared/data/hami (the shared checkout every developer has; see ../shared/README.md).
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { allowedGeometriesFor, loadDeviceConfig, migRestrictionFor, type DeviceConfig } from '../../src/config/device-config.js';
import { FakeBackend } from '../../src/deviceplugin/fake-backend.js';
import { filteredBackend, hamiNodeSettings } from '../../src/deviceplugin/hami-node-config.js';
import { topologyWithGpuIds } from '../fakeoperator/fixtures.js';
import { resolveGpuModel } from '../../src/geometry/index.js';
import { extenderDeviceOptions } from '../../src/scheduler/extender/device-options.js';
import { tesseraPolicy } from '../../src/scheduler/policies/index.js';

const SHARED = new URL('../../../shared/data/hami/', import.meta.url);

function hamiFile(path: string): string {
  const url = new URL(path, SHARED);
  if (!existsSync(url)) throw new Error(`${url.pathname} is missing: these tests read HAMi's files from the shared checkout at ../shared (see ../shared/README.md)`);
  return readFileSync(url, 'utf8');
}

function load(text: string): DeviceConfig {
  const result = loadDeviceConfig(text);
  if (!result.ok) throw result.error;
  return result.value;
}

const VERSIONS = ['v2.9.0', 'v2.10.0'] as const;
const VENDORS = { 'v2.9.0': 12 - 1, 'v2.10.0': 12 } as const;

describe("HAMi's device configs", () => {
  it.each(VERSIONS)('%s loads unchanged; each other vendor section is reported once, nothing NVIDIA is', (version) => {
    const text = hamiFile(`${version}/device-config.yaml`);
    const config = load(text);
    const raw = parse(text) as Record<string, unknown>;
    const vendorKeys = Object.keys(raw).filter((k) => k !== 'nvidia');
    expect(vendorKeys).toHaveLength(VENDORS[version]);
    const sectionNotices = config.notices.filter((n) => !n.field.startsWith('nvidia.'));
    expect(sectionNotices.map((n) => n.field).sort()).toEqual([...vendorKeys].sort());
    for (const notice of sectionNotices) expect(notice.message).toContain('not applicable to Tessera');
  });

  it('takes every nvidia field of v2.10.0 with its value', () => {
    const config = load(hamiFile('v2.10.0/device-config.yaml'));
    expect(config.nvidia).toMatchObject({
      overwriteEnv: false,
      defaultMemory: 0,
      defaultCores: 0,
      defaultGPUNum: 1,
      preConfiguredDeviceMemory: 0,
      memoryFactor: 1,
      deviceSplitCount: 10,
      deviceMemoryScaling: 1,
      deviceCoreScaling: 1,
      enableNumaTopology: false,
      gpuCorePolicy: 'default',
      libCudaLogLevel: 1,
      runtimeClassName: '',
    });
    expect(config.nvidia.migProfileAllowlist).toHaveLength(9);
    expect(config.nvidia.migProfileAllowlist[0]).toEqual({ models: ['A30'], profiles: ['1g.6gb', '2g.12gb', '4g.24gb'] });
  });

  it("keeps v2.9.0's core on each geometry entry", () => {
    const config = load(hamiFile('v2.9.0/device-config.yaml'));
    const a100 = config.nvidia.knownMigGeometries.find((k) => k.models.includes('A100-SXM4-80GB'));
    expect(a100?.allowedGeometries.at(-1)).toEqual([{ name: '7g.80gb', core: 98, memory: 80896, count: 1 }]);
  });

  it('resolves every model HAMi names to a MIG model of the catalog', () => {
    const v29 = load(hamiFile('v2.9.0/device-config.yaml'));
    const v210 = load(hamiFile('v2.10.0/device-config.yaml'));
    const names = [...v29.nvidia.knownMigGeometries.flatMap((k) => k.models), ...v210.nvidia.migProfileAllowlist.flatMap((k) => k.models)];
    expect(names).toEqual(expect.arrayContaining(['H100-PCIE-94GB', 'H100-SXM5-94GB', 'H20', 'H100 on GH200', 'H200-SXM5', 'RTX PRO 6000 Blackwell Server Edition']));
    for (const name of names) {
      const model = resolveGpuModel(name);
      expect(model.ok && model.value.mig !== null, name).toBe(true);
    }
    expect(v210.notices.filter((n) => n.field.includes('.models.'))).toEqual([]);
  });

  it("honours migProfileAllowlist: the extender's MIG planner offers only listed profiles", () => {
    const config = load(hamiFile('v2.10.0/device-config.yaml'));
    const { migPlanner } = extenderDeviceOptions(config, tesseraPolicy);
    if (!migPlanner) throw new Error('no MIG planner');
    // 1g.5gb is listed on the A100-40GB, 1g.10gb is not: 6 GiB gets a 2g.10gb, as under HAMi v2.10.
    expect(migPlanner.options('NVIDIA A100-SXM4-40GB', [], 6144).map((o) => o.profile)).toEqual(expect.arrayContaining(['2g.10gb']));
    for (const memoryMiB of [1024, 6144, 12_000, 30_000, 40_000]) {
      for (const option of migPlanner.options('NVIDIA A100-SXM4-40GB', [], memoryMiB)) {
        expect(['1g.5gb', '2g.10gb', '3g.20gb', '7g.40gb']).toContain(option.profile);
      }
    }
    // A30: no 1g.6gb+me, listed 4g.24gb still offered.
    expect(migPlanner.options('A30', [], 20_000).map((o) => o.profile)).toEqual(['4g.24gb']);
    // A profile name NVIDIA spells otherwise ('7g.79gb') is the model's 7g and is reported.
    const a100 = resolveGpuModel('A100-SXM4-80GB');
    if (!a100.ok) throw a100.error;
    expect(allowedGeometriesFor(config, a100.value)?.some((g) => g.some((e) => e.profile === '7g.80gb'))).toBe(true);
    expect(config.notices).toContainEqual({ field: 'nvidia.migProfileAllowlist.2.profiles.3', message: "'7g.79gb' is 7g.80gb on A100-SXM4-80GB" });
  });

  it('gives the planner the allowlist as a profile set, built once, and knownMigGeometries as geometries', () => {
    const a100 = resolveGpuModel('A100-SXM4-40GB');
    if (!a100.ok) throw a100.error;
    expect(migRestrictionFor(load(hamiFile('v2.10.0/device-config.yaml')), a100.value)).toEqual({ allowedProfiles: new Set(['1g.5gb', '2g.10gb', '3g.20gb', '7g.40gb']) });
    expect(migRestrictionFor(load(hamiFile('v2.9.0/device-config.yaml')), a100.value)).toMatchObject({ allowedGeometries: expect.any(Array) as unknown });
  });

  it('without an allowlist or geometries a model is not restricted', () => {
    const config = load('nvidia: {migProfileAllowlist: [{models: [A30], profiles: [1g.6gb]}]}');
    const h100 = resolveGpuModel('H100-SXM5-80GB');
    if (!h100.ok) throw h100.error;
    expect(allowedGeometriesFor(config, h100.value)).toBeUndefined();
  });

  it.each([
    ['nvidia: {memoryFactor: x}', 'nvidia.memoryFactor'],
    ['nvidia: {memoryFactor: -1}', 'nvidia.memoryFactor'],
    ['nvidia: {gpuCorePolicy: sometimes}', 'nvidia.gpuCorePolicy'],
    ['nvidia: {libCudaLogLevel: 7}', 'nvidia.libCudaLogLevel'],
    ['nvidia: {enableNumaTopology: maybe}', 'nvidia.enableNumaTopology'],
    ['nvidia: {runtimeClassName: Not_A_Name}', 'nvidia.runtimeClassName'],
    ['nvidia: {preConfiguredDeviceMemory: 1.5}', 'nvidia.preConfiguredDeviceMemory'],
    ['nvidia: {migProfileAllowlist: [{models: [A30], profiles: [x.6gb]}]}', 'nvidia.migProfileAllowlist.0.profiles.0'],
    ['nvidia: {migProfileAllowlist: [{models: [A30], profiles: []}]}', 'nvidia.migProfileAllowlist.0.profiles'],
    ['nvidia: {migProfileAllowlist: [{models: [A30]}]}', 'nvidia.migProfileAllowlist.0.profiles'],
    ['nvidia: {knownMigGeometries: [{models: [A30], allowedGeometries: [[{name: 1g.6gb, memory: 6144, count: 4, core: 101}]]}]}', 'nvidia.knownMigGeometries.0.allowedGeometries.0.0.core'],
    ['nvidia: {deviceCoreScalling: 2}', 'nvidia.deviceCoreScalling'],
    ['nvidiaa: {}', 'nvidiaa'],
    ['cambricon: 3', 'cambricon'],
    ['nodeconfig: [{name: n1, operatingmode: time-slicing}]', 'nodeconfig.0.operatingmode'],
    ['nodeconfig: [{name: n1, migstrategy: all}]', 'nodeconfig.0.migstrategy'],
    ['nodeconfig: [{name: n1, enablegetpreferredallocation: 1}]', 'nodeconfig.0.enablegetpreferredallocation'],
    ['nodeconfig: [{name: n1, preconfigureddevicememory: -5}]', 'nodeconfig.0.preconfigureddevicememory'],
  ])('rejects %s naming %s', (text, field) => {
    const result = loadDeviceConfig(text);
    expect(result.ok ? undefined : result.error.field).toBe(field);
  });

  it("takes HAMi's string log level and every nodeconfig key", () => {
    const config = load(`nvidia: {libCudaLogLevel: "3", deviceSplitCount: 6, deviceCoreScaling: 1.5, preConfiguredDeviceMemory: 122880}
nodeconfig:
  - name: gpu-a
    operatingmode: mps
    devicesplitcount: 4
    devicememoryscaling: 2
    devicecorescaling: 2
    preconfigureddevicememory: 1024
    libcudaloglevel: 4
    enablenumatopology: true
    migstrategy: single
    enablegetpreferredallocation: true
    filterdevices: {uuid: [GPU-x], index: [1]}
  - {name: gpu-b, operatingmode: mig}
`);
    expect(config.nvidia.libCudaLogLevel).toBe(3);
    expect(hamiNodeSettings(config, 'gpu-a')).toMatchObject({
      operatingMode: 'mps',
      mode: 'mps',
      splitCount: 4,
      memoryScaling: 2,
      coreScaling: 2,
      preConfiguredDeviceMemory: 1024,
      libCudaLogLevel: 4,
      enableNumaTopology: true,
      migStrategy: 'single',
      enableGetPreferredAllocation: true,
    });
    // A node without an entry of its own takes the nvidia: values.
    expect(hamiNodeSettings(config, 'gpu-c')).toMatchObject({ operatingMode: 'hami-core', splitCount: 6, coreScaling: 1.5, preConfiguredDeviceMemory: 122880, libCudaLogLevel: 3 });
    expect(hamiNodeSettings(config, 'gpu-b').mode).toBe('mig');
  });

  it('filterdevices leaves GPUs out of what the device plugin discovers; preConfiguredDeviceMemory fills a GPU without memory', async () => {
    const topology = topologyWithGpuIds('NVIDIA A100-SXM4-80GB', 81920, ['GPU-a', 'GPU-b', 'GPU-c']);
    const config = load('nodeconfig: [{name: n1, filterdevices: {uuid: [GPU-a], index: [2]}}]');
    const backend = filteredBackend(new FakeBackend(() => Promise.resolve(topology)), hamiNodeSettings(config, 'n1'));
    expect((await backend.discover()).map((g) => g.uuid)).toEqual(['GPU-b']);
    const unified = { ...topology, gpuMemoryMiB: 0 };
    const skipped = filteredBackend(new FakeBackend(() => Promise.resolve(unified)), hamiNodeSettings(load(''), 'n1'));
    expect(await skipped.discover()).toEqual([]);
    const filled = filteredBackend(new FakeBackend(() => Promise.resolve(unified)), hamiNodeSettings(load('nvidia: {preConfiguredDeviceMemory: 122880}'), 'n1'));
    expect((await filled.discover()).map((g) => g.memoryMiB)).toEqual([122880, 122880, 122880]);
  });
});
