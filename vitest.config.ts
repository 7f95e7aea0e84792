import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The real-control-plane suite runs on its own: `npm run test:k8s` (vitest.k8s.config.ts).
    exclude: [...configDefaults.exclude, 'test/k8s/**'],
    setupFiles: ['test/setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
