/**
 * The GPU catalog as data: MIG profiles per model (from /work/shared/reference/mig.md and published
 * `nvidia-smi mig -lgip` output) and the whole-GPU models Tessera knows by memory.
 *
 * Memory figures are MiB as the driver reports them (GiB x 1024, rounded down where nvidia-smi rounds). Where no
 * exact published figure exists (B200 3g/4g/7g), the figure is a conservative lower bound: twice the next smaller
 * profile, so a container never gets less than the catalog promises.
 */
import type { GpuModel, MigProfile, MigSpec } from './types.js';

const ANY_1G_START_8 = [0, 1, 2, 3, 4, 5, 6];

/** MiB of each memory size class on one 8-slice model: 1 slice, 2 slices, 4 slices, 8 slices. */
interface EightSliceMemory {
  gb: readonly [string, string, string, string];
  mib: readonly [number, number, number, number];
}

/** The 8-memory-slice table of mig.md, filled in with one model's names and memory. */
function eightSliceSpec({ gb, mib }: EightSliceMemory): MigSpec {
  const [g1, g2, g4, g8] = gb;
  const [m1, m2, m4, m8] = mib;
  const profile = (id: number, name: string, computeSlices: number, memorySlices: number, memoryMiB: number, starts: number[], maxCount: number): MigProfile => ({
    id,
    name,
    computeSlices,
    memorySlices,
    memoryMiB,
    starts,
    maxCount,
    mediaExtensions: name.endsWith('+me'),
  });
  return {
    totalComputeSlices: 7,
    totalMemorySlices: 8,
    profiles: [
      profile(0, `7g.${g8}`, 7, 8, m8, [0], 1),
      profile(5, `4g.${g4}`, 4, 4, m4, [0], 1),
      profile(9, `3g.${g4}`, 3, 4, m4, [0, 4], 2),
      profile(14, `2g.${g2}`, 2, 2, m2, [0, 2, 4], 3),
      profile(15, `1g.${g2}`, 1, 2, m2, [0, 2, 4, 6], 4),
      profile(19, `1g.${g1}`, 1, 1, m1, ANY_1G_START_8, 7),
      profile(20, `1g.${g1}+me`, 1, 1, m1, ANY_1G_START_8, 1),
    ],
  };
}

const A30_SPEC: MigSpec = {
  totalComputeSlices: 4,
  totalMemorySlices: 4,
  profiles: [
    { id: 0, name: '4g.24gb', computeSlices: 4, memorySlices: 4, memoryMiB: 24064, starts: [0], maxCount: 1, mediaExtensions: false },
    { id: 5, name: '2g.12gb', computeSlices: 2, memorySlices: 2, memoryMiB: 11966, starts: [0, 2], maxCount: 2, mediaExtensions: false },
    { id: 14, name: '1g.6gb', computeSlices: 1, memorySlices: 1, memoryMiB: 5948, starts: [0, 1, 2, 3], maxCount: 4, mediaExtensions: false },
    { id: 21, name: '1g.6gb+me', computeSlices: 1, memorySlices: 1, memoryMiB: 5948, starts: [0, 1, 2, 3], maxCount: 1, mediaExtensions: true },
  ],
};

// A100-40GB: exact figures from mig.md. A100-80GB: 9.5 / 19.5 / 39.25 / 79 GiB. H100-80GB: 9.75 / 19.62 / 39.5 /
// 79.25 GiB. H200: 16 / 32.25 / 69.5 / 139.75 GiB. B200: 22 / 44.25 GiB, larger ones bounded below (see above).
const A100_40GB_SPEC = eightSliceSpec({ gb: ['5gb', '10gb', '20gb', '40gb'], mib: [4864, 9856, 19968, 40192] });
const A100_80GB_SPEC = eightSliceSpec({ gb: ['10gb', '20gb', '40gb', '80gb'], mib: [9728, 19968, 40192, 80896] });
const H100_80GB_SPEC = eightSliceSpec({ gb: ['10gb', '20gb', '40gb', '80gb'], mib: [9984, 20096, 40448, 81152] });
const H200_141GB_SPEC = eightSliceSpec({ gb: ['18gb', '35gb', '71gb', '141gb'], mib: [16384, 33024, 71168, 143104] });
const B200_180GB_SPEC = eightSliceSpec({ gb: ['23gb', '45gb', '90gb', '180gb'], mib: [22528, 45312, 90624, 181248] });
// H100 94GB (NVL, SXM5 94GB) and the 96GB H100s (H20, H100 on GH200): mig.md publishes no -lgip figures, so each
// profile is a lower bound, the H100-80GB figure scaled by the larger memory slice (x94/80, x96/80) and rounded
// down to 256 MiB. Profile names are NVIDIA's (HAMi's migProfileAllowlist names the same).
const H100_94GB_SPEC = eightSliceSpec({ gb: ['12gb', '24gb', '47gb', '94gb'], mib: [11520, 23552, 47360, 95232] });
const H100_96GB_SPEC = eightSliceSpec({ gb: ['12gb', '24gb', '48gb', '96gb'], mib: [11776, 24064, 48384, 97280] });

/**
 * RTX PRO 6000 Blackwell Server Edition: 4 compute and 4 memory slices, laid out as the A30. No published -lgip
 * figures: each profile's memory is a lower bound, 96% of its named size rounded down to 256 MiB.
 */
const RTX_PRO_6000_SPEC: MigSpec = {
  totalComputeSlices: 4,
  totalMemorySlices: 4,
  profiles: [
    { id: 0, name: '4g.96gb', computeSlices: 4, memorySlices: 4, memoryMiB: 94208, starts: [0], maxCount: 1, mediaExtensions: false },
    { id: 5, name: '2g.48gb', computeSlices: 2, memorySlices: 2, memoryMiB: 47104, starts: [0, 2], maxCount: 2, mediaExtensions: false },
    { id: 14, name: '1g.24gb', computeSlices: 1, memorySlices: 1, memoryMiB: 23552, starts: [0, 1, 2, 3], maxCount: 4, mediaExtensions: false },
  ],
};

/**
 * Memory assumed for the openb trace's anonymised models G2 and G3, whose memory the trace does not publish: the
 * trace requests GPUs by share, so the figure only matters to memory-based requests on those nodes.
 */
export const OPENB_UNKNOWN_MODEL_MEMORY_MIB = 16384;

/** Every catalog model with the spellings that name it (normalised: see names.ts). */
export const CATALOG: readonly { model: GpuModel; aliases: readonly string[] }[] = [
  { model: { name: 'A30-24GB', memoryMiB: 24258, mig: A30_SPEC }, aliases: ['A30', 'A30-PCIE', 'A30-PCIE-24GB'] },
  { model: { name: 'A100-SXM4-40GB', memoryMiB: 40960, mig: A100_40GB_SPEC }, aliases: ['A100-40GB', 'A100-SXM4-40GB'] },
  { model: { name: 'A100-PCIE-40GB', memoryMiB: 40960, mig: A100_40GB_SPEC }, aliases: ['A100-PCIE-40GB', 'A100-40GB-PCIE'] },
  {
    model: { name: 'A100-SXM4-80GB', memoryMiB: 81920, mig: A100_80GB_SPEC },
    aliases: ['A100-80GB', 'A100-SXM4-80GB', 'A100-SXM-80GB'],
  },
  { model: { name: 'A100-PCIE-80GB', memoryMiB: 81920, mig: A100_80GB_SPEC }, aliases: ['A100-80GB-PCIE', 'A100-PCIE-80GB'] },
  {
    model: { name: 'H100-SXM5-80GB', memoryMiB: 81559, mig: H100_80GB_SPEC },
    aliases: ['H100-80GB', 'H100-80GB-HBM3', 'H100-SXM5-80GB', 'H100-SXM-80GB', 'H100-SXM5', 'H100-SXM'],
  },
  { model: { name: 'H100-PCIE-80GB', memoryMiB: 81559, mig: H100_80GB_SPEC }, aliases: ['H100-PCIE', 'H100-PCIE-80GB', 'H100-80GB-PCIE'] },
  {
    model: { name: 'H200-141GB', memoryMiB: 143771, mig: H200_141GB_SPEC },
    aliases: ['H200', 'H200-141GB', 'H200-SXM5', 'H200-SXM5-141GB', 'H200-SXM-141GB', 'H200-NVL', 'H200-NVL-141GB'],
  },
  { model: { name: 'H100-NVL-94GB', memoryMiB: 95831, mig: H100_94GB_SPEC }, aliases: ['H100-NVL', 'H100-NVL-94GB', 'H100-PCIE-94GB'] },
  { model: { name: 'H100-SXM5-94GB', memoryMiB: 95831, mig: H100_94GB_SPEC }, aliases: ['H100-SXM5-94GB', 'H100-SXM-94GB'] },
  { model: { name: 'H20-96GB', memoryMiB: 97870, mig: H100_96GB_SPEC }, aliases: ['H20', 'H20-96GB'] },
  { model: { name: 'GH200-96GB', memoryMiB: 97870, mig: H100_96GB_SPEC }, aliases: ['H100-ON-GH200', 'GH200', 'GH200-96GB', 'GH200-480GB'] },
  {
    model: { name: 'RTX-PRO-6000-Blackwell', memoryMiB: 97887, mig: RTX_PRO_6000_SPEC },
    aliases: ['RTX-PRO-6000-Blackwell-Server-Edition', 'RTX-PRO-6000-Blackwell'],
  },
  { model: { name: 'B200-180GB', memoryMiB: 183359, mig: B200_180GB_SPEC }, aliases: ['B200', 'B200-180GB', 'B200-SXM-180GB'] },
  { model: { name: 'T4', memoryMiB: 15360, mig: null }, aliases: ['T4', 'T4-16GB'] },
  { model: { name: 'V100-16GB', memoryMiB: 16384, mig: null }, aliases: ['V100-SXM2-16GB', 'V100-PCIE-16GB', 'V100-16GB', 'V100M16'] },
  { model: { name: 'V100-32GB', memoryMiB: 32768, mig: null }, aliases: ['V100-SXM2-32GB', 'V100-PCIE-32GB', 'V100-32GB', 'V100M32', 'V100S-PCIE-32GB'] },
  { model: { name: 'P100-16GB', memoryMiB: 16384, mig: null }, aliases: ['P100', 'P100-PCIE-16GB', 'P100-SXM2-16GB', 'P100-16GB'] },
  { model: { name: 'A10', memoryMiB: 23028, mig: null }, aliases: ['A10', 'A10-24GB'] },
  { model: { name: 'L4', memoryMiB: 23034, mig: null }, aliases: ['L4', 'L4-24GB'] },
  { model: { name: 'L40S', memoryMiB: 46068, mig: null }, aliases: ['L40S', 'L40S-48GB'] },
  { model: { name: 'G2', memoryMiB: OPENB_UNKNOWN_MODEL_MEMORY_MIB, mig: null }, aliases: ['G2'] },
  { model: { name: 'G3', memoryMiB: OPENB_UNKNOWN_MODEL_MEMORY_MIB, mig: null }, aliases: ['G3'] },
];
