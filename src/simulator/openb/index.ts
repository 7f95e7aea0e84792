/** openb trace replay (the FGD paper's protocol). */
export { DEFAULT_LOAD } from './protocol.js';
export { type OpenbReport, readTextFile, runOpenb } from './run.js';
