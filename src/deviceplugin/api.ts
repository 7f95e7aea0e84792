/**
 * The kubelet's gRPC APIs as Tessera speaks them: the device-plugin API (v1beta1) and the pod-resources API (v1),
 * loaded at runtime from proto/ with `keepCase` so field names are the proto's. The package root is found from
 * this file, which sits two levels below it both in src/ (tsx) and in dist/ (built).
 */
import { fileURLToPath } from 'node:url';
import { loadPackageDefinition, type GrpcObject, type ServiceClientConstructor, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

export const DEVICE_PLUGIN_VERSION = 'v1beta1';
export const HEALTHY = 'Healthy';
export const UNHEALTHY = 'Unhealthy';
/** kubelet's socket name in the device-plugins directory. */
export const KUBELET_SOCKET = 'kubelet.sock';
export const DEFAULT_DEVICE_PLUGIN_DIR = '/var/lib/kubelet/device-plugins';
export const DEFAULT_POD_RESOURCES_SOCKET = '/var/lib/kubelet/pod-resources/kubelet.sock';

export interface DevicePluginOptions {
  pre_start_required: boolean;
  get_preferred_allocation_available: boolean;
}
export interface RegisterRequest {
  version: string;
  endpoint: string;
  resource_name: string;
  options?: DevicePluginOptions | null;
}
export interface Device {
  ID: string;
  health: string;
  topology?: { nodes: { ID: number }[] } | null;
}
export interface ListAndWatchResponse {
  devices: Device[];
}
export interface ContainerPreferredAllocationRequest {
  available_deviceIDs: string[];
  must_include_deviceIDs: string[];
  allocation_size: number;
}
export interface PreferredAllocationRequest {
  container_requests: ContainerPreferredAllocationRequest[];
}
export interface PreferredAllocationResponse {
  container_responses: { deviceIDs: string[] }[];
}
export interface AllocateRequest {
  container_requests: { devices_ids: string[] }[];
}
export interface Mount {
  container_path: string;
  host_path: string;
  read_only: boolean;
}
export interface DeviceSpec {
  container_path: string;
  host_path: string;
  permissions: string;
}
export interface ContainerAllocateResponse {
  envs: Record<string, string>;
  mounts: Mount[];
  devices: DeviceSpec[];
  annotations: Record<string, string>;
  cdi_devices: { name: string }[];
}
export interface AllocateResponse {
  container_responses: ContainerAllocateResponse[];
}

export interface ContainerDevices {
  resource_name: string;
  device_ids: string[];
}
export interface PodResources {
  name: string;
  namespace: string;
  containers: { name: string; devices: ContainerDevices[] }[];
}
export interface ListPodResourcesResponse {
  pod_resources: PodResources[];
}

const LOADER_OPTIONS = { keepCase: true, longs: Number, enums: String, defaults: true, arrays: true, objects: true } as const;

function protoPath(relative: string): string {
  return fileURLToPath(new URL(`../../proto/${relative}`, import.meta.url));
}

function service(pkg: GrpcObject, name: string): ServiceClientConstructor {
  const ctor = pkg[name];
  if (typeof ctor !== 'function') throw new Error(`proto has no service ${name}`);
  return ctor as ServiceClientConstructor;
}

export interface KubeletApis {
  Registration: ServiceClientConstructor;
  DevicePlugin: ServiceClientConstructor;
  PodResourcesLister: ServiceClientConstructor;
}

let loaded: KubeletApis | undefined;

/** The service constructors (clients) and their `.service` definitions (servers); loaded once per process. */
export function kubeletApis(): KubeletApis {
  if (loaded) return loaded;
  const deviceplugin = loadPackageDefinition(loadSync(protoPath('deviceplugin/v1beta1/api.proto'), LOADER_OPTIONS)).v1beta1 as GrpcObject;
  const podresources = loadPackageDefinition(loadSync(protoPath('podresources/v1/api.proto'), LOADER_OPTIONS)).v1 as GrpcObject;
  loaded = {
    Registration: service(deviceplugin, 'Registration'),
    DevicePlugin: service(deviceplugin, 'DevicePlugin'),
    PodResourcesLister: service(podresources, 'PodResourcesLister'),
  };
  return loaded;
}

export const serviceOf = (ctor: ServiceClientConstructor): ServiceDefinition => ctor.service;

/** gRPC target for a unix socket path. */
export const unixTarget = (socketPath: string): string => `unix://${socketPath}`;
