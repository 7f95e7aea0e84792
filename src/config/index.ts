/** HAMi-compatible device config (knownMigGeometries, nodeconfig), loaded and validated with errors naming the field. */
export { allowedGeometriesFor, DEFAULT_DEVICE_CONFIG, type DeviceConfig, type HamiOperatingMode, loadDeviceConfig, migRestrictionFor, reportNotices } from './device-config.js';
