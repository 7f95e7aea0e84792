/**
 * What the device plugin tells the cluster about its node: the inventory record, GPU feature discovery labels,
 * kubelet's device list when the GPUs change, and the MIG manager's state label around reconfigurations.
 */
import type { Logger } from 'pino';
import { INVENTORY_KIND, TESSERA_API_VERSION, type MigStrategy, type NodeInventory, type NodeMode } from '../api/index.js';
import { labelPatch } from '../kube/index.js';
import { sharingMode } from '../modes/index.js';
import type { GpuInfo } from './backend.js';
import { MIG_CONFIG_STATE_LABEL, featureLabels, type MigConfigState } from './labels.js';
import type { Records } from './records.js';

export interface NodePublisherOptions {
  node: string;
  mode: NodeMode;
  splitCount: number;
  coreUnits: number;
  /** GFD's MIG strategy for the labels (default: mixed on MIG nodes, none otherwise). */
  migStrategy?: MigStrategy;
  records: Records;
  log: Logger;
  now: () => number;
  /** Tells kubelet the device list changed. */
  devicesChanged: () => void;
}

export class NodePublisher {
  private published = '';
  private publishedLabels: Record<string, string> = {};

  constructor(private readonly options: NodePublisherOptions) {}

  inventory(gpus: readonly GpuInfo[]): NodeInventory {
    const { node, mode, splitCount, coreUnits, now } = this.options;
    return {
      apiVersion: TESSERA_API_VERSION,
      kind: INVENTORY_KIND,
      node,
      mode,
      splitCount,
      gpus: gpus.map((g) => ({
        uuid: g.uuid,
        index: g.index,
        model: g.model,
        memoryMiB: g.memoryMiB,
        coreUnits,
        numa: g.numa,
        health: g.healthy ? 'Healthy' : 'Unhealthy',
        mig: { enabled: g.migEnabled, instances: g.migInstances.map((m) => ({ ...m })) },
      })),
      observedAt: new Date(now()).toISOString(),
    };
  }

  /** Publishes inventory, feature labels (and kubelet's device list) when the GPUs changed. */
  async publish(gpus: readonly GpuInfo[]): Promise<void> {
    const inventory = this.inventory(gpus);
    const text = JSON.stringify({ ...inventory, observedAt: '' });
    if (text === this.published) return;
    const { node, mode, migStrategy, records } = this.options;
    const labels = featureLabels(gpus, migStrategy ?? (sharingMode(mode).allocation === 'mig' ? 'mixed' : 'none'));
    await records.node(node, inventory, labelPatch(this.publishedLabels, labels) ?? {});
    this.published = text;
    this.publishedLabels = labels;
    this.options.devicesChanged();
  }

  /** The MIG manager's state label; a failure to set it is logged, never fatal to the MIG operation. */
  async migState(state: MigConfigState): Promise<void> {
    try {
      await this.options.records.node(this.options.node, undefined, { [MIG_CONFIG_STATE_LABEL]: state });
    } catch (error) {
      this.options.log.warn({ err: error, state }, 'could not set the MIG config state label');
    }
  }
}
