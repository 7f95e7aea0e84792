/**
 * MPS (`nvidia.com/vgpu-mode: mps`, as HAMi accepts it): vGPUs are clients of the node's MPS control daemon, which
 * enforces each client's limits from its environment: `CUDA_MPS_PINNED_DEVICE_MEM_LIMIT` (per visible device,
 * `<index>=<MiB>M`) and `CUDA_MPS_ACTIVE_THREAD_PERCENTAGE` (one compute share per client). The container reaches
 * the daemon through its pipe directory. Fitting is HAMi-core's: memory and core units cut from whole GPUs.
 */
import type { SharingMode } from '../types.js';

/** The MPS control daemon's default pipe directory (`CUDA_MPS_PIPE_DIRECTORY`). */
export const MPS_PIPE_DIRECTORY = '/tmp/nvidia-mps';

export const mpsMode: SharingMode = {
  name: 'mps',
  allocation: 'shared',
  enforcesCores: true,
  grant(devices, { controlDisabled }) {
    const envs: Record<string, string> = { NVIDIA_VISIBLE_DEVICES: devices.map((d) => d.uuid).join(',') };
    // Without control the container still shares the GPUs through MPS, with no limits of its own.
    if (!controlDisabled) {
      envs.CUDA_MPS_PINNED_DEVICE_MEM_LIMIT = devices.map((d, i) => `${i}=${d.memoryMiB}M`).join(',');
      envs.CUDA_MPS_ACTIVE_THREAD_PERCENTAGE = String(devices[0]?.cores ?? 0);
    }
    envs.CUDA_MPS_PIPE_DIRECTORY = MPS_PIPE_DIRECTORY;
    return { envs, mounts: [{ container_path: MPS_PIPE_DIRECTORY, host_path: MPS_PIPE_DIRECTORY, read_only: false }] };
  },
};
