/**
 * The GPU catalog and the MIG geometry engine (pure: no I/O, no clock). Entry points:
 * - catalog: `resolveGpuModel`, `listGpuModels`, `wholeGpuModel`, `findProfile`, `servingProfiles`
 * - layouts: `validateLayout`, `placeGeometry`, `geometryPlacements`
 * - engine: `planMig` (ranked plans), `planOps` (the steps of a plan), baselines `hamiV210Plan`, `hamiV29Plan`
 */
export type { DemandMix, GpuModel, MigGeometry, MigInstance, MigOp, MigPlan, MigPlanKind, MigProfile, MigRequest, MigRestriction, MigSpec, PlanOptions } from './types.js';
export { OPENB_UNKNOWN_MODEL_MEMORY_MIB } from './catalog.js';
export { findProfile, listGpuModels, normaliseModelName, resolveGpuModel, servingProfiles, wholeGpuModel } from './models.js';
export { validateLayout } from './layout.js';
export { applyOps } from './apply.js';
export { geometryPlacements, placeGeometry, type PlacedInstance } from './geometries.js';
export { DEFAULT_PLAN_LIMIT, planMig, planOps } from './engine.js';
export { MAX_PLAN_SCORE } from './score.js';
export { carveEmptySlices } from './fill.js';
export { hamiStockProfiles, hamiV210Plan, hamiV29Plan, hamiV29StockGeometries, migFragmentation, zambiancoPlans } from './baselines.js';
export { parseMigInstances } from './instances-schema.js';
export { catalogProfiles, type MigProfileFacts, type MigProfileLookup } from './profile-facts.js';
