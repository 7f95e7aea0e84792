/** The scheduler extender service: HTTP filter/prioritize/bind, informers, the admission webhook. */
export { configFromArgs, DEFAULT_CONFIG } from './config.js';
export { extenderDeviceOptions } from './device-options.js';
export { startExtender } from './service.js';
