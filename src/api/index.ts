/**
 * Wire contracts shared by the daemons: annotations, the signed decision and inventory records, HAMi's node and pod
 * encodings, GPU feature discovery labels, and the ajv helpers that validate them.
 */
export { type BindPhase, HAMI_POD, NODE_MODES, type NodeMode, SCHEDULER_OWNED_POD_ANNOTATIONS, TESSERA_API_VERSION, TESSERA_NODE, TESSERA_POD, USER_POD } from './annotations.js';
export {
  type Decision,
  DECISION_KIND,
  type DecisionDevice,
  decisionOf,
  decisionSchema,
  decisionSigner,
  decodeDecision,
  encodeDecision,
  type Grant,
  type GrantedContainer,
  type GrantedDevice,
  type GrantedMig,
  grantOf,
  type MigOp,
  signDecision,
  signedDecision,
  signRelease,
  type TrustedKeys,
  verifyRelease,
} from './decision.js';
export { gfdLabels, type GfdMigProfile, type GfdNode, MIG_STRATEGIES, type MigStrategy } from './gfd.js';
export {
  decodeHamiMigAllocations,
  decodeHamiRegister,
  encodeHamiMigAllocations,
  encodeHamiRegister,
  HAMI_MIG_ALLOCATIONS,
  HAMI_NODE,
  type HamiMigAllocation,
  type HamiMigProfile,
  type HamiNodeDevice,
  reportedHandshake,
} from './hami-register.js';
export { decodeHamiDevices, encodeHamiDevices, hamiDevicesOf } from './hami.js';
export { describeInFlightConflict, leadCount, mayJoinInFlight, pinsGpus, type PodShape, shapeOf } from './inflight.js';
export { decodeInventory, encodeInventory, INVENTORY_KIND, type InventoryGpu, type InventoryMigInstance, type NodeInventory } from './inventory.js';
export { loadOrCreateKeyFile } from './key-file.js';
export { generateSigningKey, nodeKeyAnnotation, nodeKeyFromAnnotation, privateKeyFromPem, publicKeyFromConfigMapData, publicKeyFromPem, publicKeyOf, signingKeyFromSecretData } from './signing.js';
export { ajv, compileChecker, fieldOf, parseJson, validationError } from './validate.js';
