import { defineConfig } from 'vitest/config';

// The real-control-plane suite (`npm run test:k8s`): the stock Kubernetes binaries from scripts/k8s-bins.sh.
// One file at a time: each starts its own control plane, and two cores hold one comfortably.
export default defineConfig({
  test: {
    include: ['test/k8s/**/*.k8s.test.ts'],
    setupFiles: ['test/setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 240_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
