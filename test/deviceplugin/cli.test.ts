import { describe, expect, it } from 'vitest';
import { parseDevicePluginFlags } from '../../src/cli/commands/device-plugin.js';

describe('tessera device-plugin flags', () => {
  it('takes the node from $NODE_NAME and fills the defaults', () => {
    expect(parseDevicePluginFlags(['--scheduler-public-key-file', '/k'], { NODE_NAME: 'gpu-1' })).toMatchObject({
      node: 'gpu-1',
      mode: 'hami-core',
      backend: 'nvml',
      devicePluginDir: '/var/lib/kubelet/device-plugins',
      podResourcesSocket: '/var/lib/kubelet/pod-resources/kubelet.sock',
      splitCount: 10,
      migIdleGrace: 300,
      pollInterval: 5,
    });
  });

  it.each([
    [['--node', 'n1', '--scheduler-public-key-file', '/k', '--mode', 'vgpu'], /flags\.mode/],
    [['--node', 'n1', '--scheduler-public-key-file', '/k', '--split-count', 'ten'], /flags\.splitCount/],
    [['--node', 'n1', '--scheduler-public-key-file', '/k', '--split-count', '0'], /flags\.splitCount/],
    [['--node', 'N_1', '--scheduler-public-key-file', '/k'], /flags\.node/],
    [['--node', 'n1'], /--scheduler-public-key-file/],
    [['--node', 'n1', '--scheduler-public-key-file', '/k', '--scheduler-public-key-configmap', 'a/b'], /exactly one/],
    // A node never takes the scheduler's private key.
    [['--node', 'n1', '--signing-key-file', '/k'], /Unknown option/],
    [['--node', 'n1', '--scheduler-public-key-file', '/k', '--bogus'], /Unknown option/],
  ])('refuses %j naming the field', (argv, message) => {
    expect(() => parseDevicePluginFlags(argv, {})).toThrow(message);
  });
});
