/**
 * The FGD paper's allocation-ratio metric (fgd.md §1, "Metric"): after every pod event the simulator records
 * (allocated milli U, arrived milli A); the figure for load X% is the mean over events whose arrived percentage
 * rounds to X of the allocated percentage rounded to 2 decimals, falling back to X-1..X+1 when no event rounds
 * to X.
 */

/** Python's round(): half to even. `digits` decimals. */
export function roundHalfEven(value: number, digits = 0): number {
  const scale = 10 ** digits;
  const scaled = value * scale;
  const floor = Math.floor(scaled);
  const diff = scaled - floor;
  // Values within float noise of .5 are treated as exact halves, as Python's correctly-rounded decimal view would.
  const EPS = 1e-9;
  let rounded: number;
  if (diff > 0.5 + EPS) rounded = floor + 1;
  else if (diff < 0.5 - EPS) rounded = floor;
  else rounded = floor % 2 === 0 ? floor : floor + 1;
  return rounded / scale;
}

/** Records (U, A) after each event and answers the metric for any arrived-load column. */
export class AllocationRecorder {
  private readonly allocated: number[] = [];
  private readonly arrived: number[] = [];

  constructor(private readonly capacityMilli: number) {
    if (!(capacityMilli > 0)) throw new RangeError('capacity must be positive');
  }

  record(allocatedMilli: number, arrivedMilli: number): void {
    this.allocated.push(allocatedMilli);
    this.arrived.push(arrivedMilli);
  }

  get events(): number {
    return this.allocated.length;
  }

  /** Column `percent` (e.g. 130), in percent; NaN when no event falls in X-1..X+1. */
  column(percent: number): number {
    const gpus = this.capacityMilli / 1000;
    const arriveRatio = this.arrived.map((a) => roundHalfEven(a / gpus / 10));
    const mean = (accept: (r: number) => boolean): number => {
      let sum = 0;
      let count = 0;
      arriveRatio.forEach((r, i) => {
        if (!accept(r)) return;
        sum += roundHalfEven((this.allocated[i] ?? 0) / gpus / 10, 2);
        count++;
      });
      return count === 0 ? Number.NaN : sum / count;
    };
    const exact = mean((r) => r === percent);
    return Number.isNaN(exact) ? mean((r) => r >= percent - 1 && r <= percent + 1) : exact;
  }
}
