/** The real GPU backend: `nvidia-smi` run through an executor, its output parsed. */
export { execFileExecutor, NvmlBackend, type CommandOutput, type Executor } from './backend.js';
