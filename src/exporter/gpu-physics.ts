/**
 * The fake GPU's physical figures: what power, clocks and temperature a GPU of a model shows at a utilization.
 * The figures are each product family's published board power and boost clocks, rounded; idle figures are
 * typical of an idle datacenter GPU. Pure.
 * Details: power = idle + (board power - idle) x u / 100; SM clock = idle clock when u = 0, boost otherwise;
 * GPU temperature = idle temperature + 0.45 x u; HBM runs 4 C above the GPU, GDDR (no HBM) reports 0 as DCGM does.
 */
import { resolveGpuModel } from '../geometry/index.js';

export interface GpuPhysics {
  boardPowerW: number;
  idlePowerW: number;
  boostSmClockMHz: number;
  idleSmClockMHz: number;
  memClockMHz: number;
  hbm: boolean;
}

const IDLE_TEMP_C = 32;

const FAMILIES: ReadonlyArray<{ family: RegExp; physics: GpuPhysics }> = [
  { family: /^A30/, physics: { boardPowerW: 165, idlePowerW: 30, boostSmClockMHz: 1440, idleSmClockMHz: 210, memClockMHz: 1215, hbm: true } },
  { family: /^A100-PCIE/, physics: { boardPowerW: 250, idlePowerW: 40, boostSmClockMHz: 1410, idleSmClockMHz: 210, memClockMHz: 1512, hbm: true } },
  { family: /^A100/, physics: { boardPowerW: 400, idlePowerW: 55, boostSmClockMHz: 1410, idleSmClockMHz: 210, memClockMHz: 1593, hbm: true } },
  { family: /^H100-PCIE|^H100-NVL/, physics: { boardPowerW: 350, idlePowerW: 50, boostSmClockMHz: 1755, idleSmClockMHz: 345, memClockMHz: 1593, hbm: true } },
  { family: /^H100|^H20|^GH200/, physics: { boardPowerW: 700, idlePowerW: 70, boostSmClockMHz: 1980, idleSmClockMHz: 345, memClockMHz: 2619, hbm: true } },
  { family: /^H200/, physics: { boardPowerW: 700, idlePowerW: 75, boostSmClockMHz: 1980, idleSmClockMHz: 345, memClockMHz: 3201, hbm: true } },
  { family: /^B200/, physics: { boardPowerW: 1000, idlePowerW: 120, boostSmClockMHz: 1965, idleSmClockMHz: 345, memClockMHz: 3996, hbm: true } },
  { family: /^V100|^P100/, physics: { boardPowerW: 300, idlePowerW: 40, boostSmClockMHz: 1530, idleSmClockMHz: 135, memClockMHz: 877, hbm: true } },
  { family: /^T4/, physics: { boardPowerW: 70, idlePowerW: 10, boostSmClockMHz: 1590, idleSmClockMHz: 300, memClockMHz: 5000, hbm: false } },
  { family: /^L4$/, physics: { boardPowerW: 72, idlePowerW: 12, boostSmClockMHz: 2040, idleSmClockMHz: 210, memClockMHz: 6251, hbm: false } },
  { family: /^A10$|^L40S|^RTX/, physics: { boardPowerW: 300, idlePowerW: 30, boostSmClockMHz: 1695, idleSmClockMHz: 210, memClockMHz: 6251, hbm: false } },
];

/** A GPU the catalog does not know: a generic 300 W datacenter board. */
const GENERIC: GpuPhysics = { boardPowerW: 300, idlePowerW: 40, boostSmClockMHz: 1500, idleSmClockMHz: 210, memClockMHz: 1500, hbm: false };

export function physicsOf(product: string): GpuPhysics {
  const model = resolveGpuModel(product);
  const name = model.ok ? model.value.name : '';
  return FAMILIES.find((f) => f.family.test(name))?.physics ?? GENERIC;
}

export interface GpuReadings {
  powerW: number;
  smClockMHz: number;
  memClockMHz: number;
  gpuTempC: number;
  memoryTempC: number;
}

/** Readings of a GPU at utilization `u` (0-100). */
export function readingsAt(physics: GpuPhysics, u: number): GpuReadings {
  const util = Math.min(100, Math.max(0, u));
  const gpuTempC = Math.round(IDLE_TEMP_C + 0.45 * util);
  return {
    powerW: Math.round((physics.idlePowerW + ((physics.boardPowerW - physics.idlePowerW) * util) / 100) * 1000) / 1000,
    smClockMHz: util > 0 ? physics.boostSmClockMHz : physics.idleSmClockMHz,
    memClockMHz: physics.memClockMHz,
    gpuTempC,
    memoryTempC: physics.hbm ? gpuTempC + 4 : 0,
  };
}
