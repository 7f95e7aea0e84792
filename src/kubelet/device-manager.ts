/**
 * A simulated kubelet's device manager, speaking the real gRPC APIs: it serves Registration on kubelet.sock,
 * connects to each registered plugin, follows ListAndWatch, and allocates containers one pod at a time the way
 * kubelet does (free healthy IDs, GetPreferredAllocation when offered, then Allocate per container, recording
 * which container holds which IDs). It serves the pod-resources List from that record. `restart()` recreates
 * kubelet.sock as a restarting kubelet does, so plugins must register again; allocations survive (kubelet's
 * checkpoint).
 */
import { existsSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Server, ServerCredentials, credentials, type Client, type ClientReadableStream, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import {
  HEALTHY,
  KUBELET_SOCKET,
  kubeletApis,
  unixTarget,
  type AllocateResponse,
  type ContainerAllocateResponse,
  type Device,
  type DevicePluginOptions,
  type ListAndWatchResponse,
  type ListPodResourcesResponse,
  type PreferredAllocationResponse,
  type RegisterRequest,
} from '../deviceplugin/index.js';

/** What admission needs to know of a pod: init and app containers in order with their extended-resource counts. */
export interface AdmissionPod {
  uid: string;
  namespace: string;
  name: string;
  /** `sidecar`: a restartable init container (`restartPolicy: Always`), which keeps its devices. */
  initContainers?: { name: string; resources: Record<string, number>; sidecar?: boolean }[];
  containers: { name: string; resources: Record<string, number> }[];
}

interface Endpoint {
  resource: string;
  client: Client;
  options: DevicePluginOptions;
  devices: Device[];
  stream: ClientReadableStream<ListAndWatchResponse>;
}

interface PodRecord {
  pod: AdmissionPod;
  /** container -> resource -> device IDs */
  devices: Map<string, Map<string, string[]>>;
  responses: Map<string, ContainerAllocateResponse>;
}

type Unary<Req, Res> = (request: Req, options: { deadline: number }, callback: (error: Error | null, response?: Res) => void) => void;

function callUnary<Req, Res>(client: Client, method: string, request: Req): Promise<Res> {
  const fn = (client as unknown as Record<string, Unary<Req, Res>>)[method];
  if (!fn) return Promise.reject(new Error(`no method ${method}`));
  return new Promise((resolve, reject) => {
    fn.call(client, request, { deadline: Date.now() + 10_000 }, (error, response) => (error || response === undefined ? reject(error ?? new Error('empty response')) : resolve(response)));
  });
}

export class AdmissionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AdmissionError';
  }
}

export class DeviceManager {
  private registration: Server | undefined;
  private podResources: Server | undefined;
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly pods = new Map<string, PodRecord>();
  private admitting: Promise<unknown> = Promise.resolve();
  private readonly listeners = new Set<() => void>();
  /** Resources a plugin has served since start (kubelet keeps them in its checkpoint). */
  private readonly knownResources = new Set<string>();
  /** Registrations received since start, for tests of re-registration. */
  registrations = 0;

  constructor(private readonly options: { deviceDir: string; podResourcesSocket: string; log: Logger }) {}

  private get kubeletSocket(): string {
    return join(this.options.deviceDir, KUBELET_SOCKET);
  }

  async start(): Promise<void> {
    mkdirSync(this.options.deviceDir, { recursive: true });
    mkdirSync(dirname(this.options.podResourcesSocket), { recursive: true });
    await this.serveRegistration();
    const server = new Server();
    server.addService(kubeletApis().PodResourcesLister.service, {
      List: (_call: ServerUnaryCall<unknown, ListPodResourcesResponse>, callback: sendUnaryData<ListPodResourcesResponse>) => callback(null, this.listPodResources()),
    });
    await bind(server, this.options.podResourcesSocket);
    this.podResources = server;
  }

  /** kubelet going down and coming back: plugins lose their registration and must register again. */
  async restart(): Promise<void> {
    await this.closeRegistration();
    await this.serveRegistration();
  }

  async stop(): Promise<void> {
    await this.closeRegistration();
    const server = this.podResources;
    this.podResources = undefined;
    if (server) await shutdown(server);
  }

  /** Resolves when a plugin for `resource` is registered and advertises at least `min` healthy devices. */
  waitForDevices(resource: string, min = 1, timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const healthy = this.endpoints.get(resource)?.devices.filter((d) => d.health === HEALTHY).length ?? 0;
        if (healthy < min) return false;
        this.listeners.delete(listener);
        clearTimeout(timer);
        resolve();
        return true;
      };
      const listener = (): void => void check();
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`no plugin advertises ${min} healthy ${resource} device(s)`));
      }, timeoutMs);
      this.listeners.add(listener);
      check();
    });
  }

  devices(resource: string): Device[] {
    return this.endpoints.get(resource)?.devices ?? [];
  }

  /** The responses a pod's containers were given, by container name. */
  responses(podUid: string): ReadonlyMap<string, ContainerAllocateResponse> | undefined {
    return this.pods.get(podUid)?.responses;
  }

  /** Device IDs a container holds for a resource. */
  deviceIds(podUid: string, container: string, resource: string): string[] {
    return this.pods.get(podUid)?.devices.get(container)?.get(resource) ?? [];
  }

  /** Admits pods strictly one at a time, as kubelet does. */
  admit(pod: AdmissionPod): Promise<void> {
    const run = this.admitting.then(() => this.admitNow(pod));
    this.admitting = run.catch(() => undefined);
    return run;
  }

  /** Frees what a pod holds (it terminated or was deleted). */
  release(podUid: string): void {
    this.pods.delete(podUid);
  }

  private allocatedIds(resource: string): Set<string> {
    const ids = new Set<string>();
    for (const record of this.pods.values()) for (const byResource of record.devices.values()) for (const id of byResource.get(resource) ?? []) ids.add(id);
    return ids;
  }

  private async admitNow(pod: AdmissionPod): Promise<void> {
    if (this.pods.has(pod.uid)) return;
    const record: PodRecord = { pod, devices: new Map(), responses: new Map() };
    // As kubelet: init containers first, in order. What a (non-sidecar) init container held may be reused by the
    // containers after it, since it has finished by then; an app container keeps what it reuses.
    const reusable = new Map<string, string[]>();
    const steps = [...(pod.initContainers ?? []).map((c) => ({ ...c, pool: c.sidecar !== true })), ...pod.containers.map((c) => ({ ...c, pool: false }))];
    try {
      for (const container of steps) {
        for (const [resource, count] of Object.entries(container.resources)) {
          // Like kubelet, extended resources no plugin ever served are not the device manager's business.
          if (count <= 0 || !this.knownResources.has(resource)) continue;
          const endpoint = this.endpoints.get(resource);
          if (!endpoint) throw new AdmissionError(`no device plugin is registered for ${resource} now`);
          const reused = (reusable.get(resource) ?? []).slice(0, count);
          const taken = this.allocatedIds(resource);
          for (const byResource of record.devices.values()) for (const id of byResource.get(resource) ?? []) taken.add(id);
          const free = endpoint.devices.filter((d) => d.health === HEALTHY && !taken.has(d.ID)).map((d) => d.ID);
          if (reused.length + free.length < count) throw new AdmissionError(`${resource}: ${count} requested, ${free.length} free`);
          let ids = [...reused, ...free.slice(0, count - reused.length)];
          if (reused.length < count && endpoint.options.get_preferred_allocation_available) {
            const preferred = await callUnary<object, PreferredAllocationResponse>(endpoint.client, 'GetPreferredAllocation', {
              container_requests: [{ available_deviceIDs: [...reused, ...free], must_include_deviceIDs: reused, allocation_size: count }],
            });
            const chosen = preferred.container_responses[0]?.deviceIDs ?? [];
            const allowed = (id: string): boolean => free.includes(id) || reused.includes(id);
            if (chosen.length === count && chosen.every(allowed) && reused.every((id) => chosen.includes(id)) && new Set(chosen).size === count) ids = chosen;
          }
          let response: AllocateResponse;
          try {
            response = await callUnary<object, AllocateResponse>(endpoint.client, 'Allocate', { container_requests: [{ devices_ids: ids }] });
          } catch (error) {
            throw new AdmissionError(`Allocate failed for ${pod.namespace}/${pod.name} container ${container.name}: ${(error as Error).message}`);
          }
          const byResource = record.devices.get(container.name) ?? new Map<string, string[]>();
          byResource.set(resource, ids);
          const pool = reusable.get(resource) ?? [];
          reusable.set(resource, container.pool ? [...new Set([...pool, ...ids])] : pool.filter((id) => !ids.includes(id)));
          record.devices.set(container.name, byResource);
          const given = response.container_responses[0];
          if (given) record.responses.set(container.name, given);
          // kubelet records each container as soon as its Allocate returns.
          this.pods.set(pod.uid, record);
        }
      }
      this.pods.set(pod.uid, record);
    } catch (error) {
      this.pods.delete(pod.uid);
      throw error;
    }
  }

  private listPodResources(): ListPodResourcesResponse {
    return {
      pod_resources: [...this.pods.values()].map((r) => ({
        name: r.pod.name,
        namespace: r.pod.namespace,
        // kubelet lists app containers and sidecars, never the init containers that run to completion.
        containers: [...(r.pod.initContainers ?? []).filter((c) => c.sidecar === true), ...r.pod.containers].map((c) => ({
          name: c.name,
          devices: [...(r.devices.get(c.name) ?? new Map<string, string[]>())].map(([resource_name, device_ids]) => ({ resource_name, device_ids })),
        })),
      })),
    };
  }

  private async serveRegistration(): Promise<void> {
    const server = new Server();
    server.addService(kubeletApis().Registration.service, {
      Register: (call: ServerUnaryCall<RegisterRequest, object>, callback: sendUnaryData<object>) => {
        this.connect(call.request).then(
          () => callback(null, {}),
          (error: unknown) => callback({ code: 3, details: (error as Error).message }),
        );
      },
    });
    await bind(server, this.kubeletSocket);
    this.registration = server;
  }

  private async closeRegistration(): Promise<void> {
    for (const endpoint of this.endpoints.values()) {
      endpoint.stream.cancel();
      endpoint.client.close();
    }
    this.endpoints.clear();
    const server = this.registration;
    this.registration = undefined;
    if (server) await shutdown(server);
    if (existsSync(this.kubeletSocket)) unlinkSync(this.kubeletSocket);
  }

  private async connect(request: RegisterRequest): Promise<void> {
    if (request.version !== 'v1beta1') throw new Error(`unsupported device-plugin API version ${request.version}`);
    const client = new (kubeletApis().DevicePlugin)(unixTarget(join(this.options.deviceDir, request.endpoint)), credentials.createInsecure());
    const options = await callUnary<object, DevicePluginOptions>(client, 'GetDevicePluginOptions', {});
    const previous = this.endpoints.get(request.resource_name);
    if (previous) {
      previous.stream.cancel();
      previous.client.close();
    }
    const listAndWatch = (client as unknown as Record<string, (request: object) => ClientReadableStream<ListAndWatchResponse>>).ListAndWatch;
    if (!listAndWatch) throw new Error('plugin has no ListAndWatch');
    const stream = listAndWatch.call(client, {});
    const endpoint: Endpoint = { resource: request.resource_name, client, options, devices: [], stream };
    stream.on('data', (update: ListAndWatchResponse) => {
      endpoint.devices = update.devices;
      for (const listener of [...this.listeners]) listener();
    });
    stream.on('error', (error: Error & { code?: number }) => {
      if (error.code !== 1) this.options.log.warn({ err: error, resource: request.resource_name }, 'ListAndWatch ended');
    });
    this.endpoints.set(request.resource_name, endpoint);
    this.knownResources.add(request.resource_name);
    this.registrations++;
    this.options.log.info({ resource: request.resource_name, endpoint: request.endpoint }, 'device plugin registered');
  }
}

function bind(server: Server, socketPath: string): Promise<void> {
  if (existsSync(socketPath)) unlinkSync(socketPath);
  return new Promise((resolve, reject) => server.bindAsync(unixTarget(socketPath), ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve())));
}

function shutdown(server: Server): Promise<void> {
  server.forceShutdown();
  return Promise.resolve();
}
