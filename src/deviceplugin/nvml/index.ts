/** The real GPU backend: `nvidia-smi` run through an executor, its output parsed. */
export { NvmlBackend } from './backend.js';
export { execFileExecutor, type CommandOutput, type Executor } from './executor.js';
