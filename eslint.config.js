import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import architecture from './eslint/architecture.js';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bench/results/**', '.tessera/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    // Production code only: tests may reach a folder's internals to test a unit.
    files: ['src/**/*.ts'],
    plugins: { architecture },
    rules: {
      'architecture/index-only': 'error',
      'architecture/no-cycle': 'error',
    },
  },
);
