/**
 * The plugin's side of the kubelet wire: serve DevicePlugin on a unix socket in the device-plugins directory,
 * register with kubelet.sock, and register again whenever kubelet restarts (it recreates kubelet.sock, and a real
 * kubelet also clears the directory, so the plugin's own socket is rebound first). The handlers are the daemon's.
 */
import { existsSync, statSync, unlinkSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { Server, ServerCredentials, credentials, status, type ServerWritableStream, type UntypedServiceImplementation, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { isTesseraError } from '../errors.js';
import {
  DEVICE_PLUGIN_VERSION,
  KUBELET_SOCKET,
  kubeletApis,
  unixTarget,
  type AllocateRequest,
  type AllocateResponse,
  type Device,
  type DevicePluginOptions,
  type ListAndWatchResponse,
  type PreferredAllocationRequest,
  type PreferredAllocationResponse,
  type RegisterRequest,
} from './api.js';

export interface DevicePluginHandlers {
  devices(): Device[];
  preferredAllocation(request: PreferredAllocationRequest): Promise<PreferredAllocationResponse>;
  allocate(request: AllocateRequest): Promise<AllocateResponse>;
  /** kubelet (re)connected: forget anything tied to its previous life. */
  kubeletRestarted(): void;
}

export interface DevicePluginServerOptions {
  deviceDir: string;
  /** Socket file name inside deviceDir. */
  endpoint: string;
  resourceName: string;
  handlers: DevicePluginHandlers;
  log: Logger;
}

export const PLUGIN_OPTIONS: DevicePluginOptions = { pre_start_required: false, get_preferred_allocation_available: true };

function unary<Req, Res>(log: Logger, name: string, handle: (request: Req) => Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    handle(call.request).then(
      (response) => callback(null, response),
      (error: unknown) => {
        log.warn({ err: error, rpc: name }, 'device-plugin call refused');
        const message = error instanceof Error ? error.message : String(error);
        callback({ code: isTesseraError(error) && error.status < 500 ? status.FAILED_PRECONDITION : status.UNAVAILABLE, details: message });
      },
    );
  };
}

export class DevicePluginServer {
  private server: Server | undefined;
  private readonly streams = new Set<ServerWritableStream<unknown, ListAndWatchResponse>>();
  private watcher: FSWatcher | undefined;
  /** Identity of the kubelet.sock registered with (inode numbers are reused, so with its creation times). */
  private kubeletInode: string | undefined;
  private registering: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly options: DevicePluginServerOptions) {}

  get socketPath(): string {
    return join(this.options.deviceDir, this.options.endpoint);
  }

  private get kubeletSocket(): string {
    return join(this.options.deviceDir, KUBELET_SOCKET);
  }

  /** Serves, registers, and keeps watching for kubelet restarts. */
  async start(): Promise<void> {
    await this.serve();
    this.watcher = watch(this.options.deviceDir, (_event, file) => {
      if (file === KUBELET_SOCKET) this.kubeletMaybeRestarted();
    });
    if (existsSync(this.kubeletSocket)) this.kubeletMaybeRestarted();
    await this.registering;
  }

  /** Sends the current device list to every ListAndWatch stream (health changed, GPUs changed). */
  publishDevices(): void {
    const devices = this.options.handlers.devices();
    for (const stream of this.streams) stream.write({ devices });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watcher?.close();
    await this.closeServer();
  }

  private async closeServer(): Promise<void> {
    for (const stream of this.streams) stream.end();
    this.streams.clear();
    const server = this.server;
    this.server = undefined;
    server?.forceShutdown();
  }

  private async serve(): Promise<void> {
    await this.closeServer();
    if (existsSync(this.socketPath)) unlinkSync(this.socketPath);
    const { handlers, log } = this.options;
    const server = new Server();
    const implementation: UntypedServiceImplementation = {
      GetDevicePluginOptions: unary(log, 'GetDevicePluginOptions', () => Promise.resolve(PLUGIN_OPTIONS)),
      ListAndWatch: (stream: ServerWritableStream<unknown, ListAndWatchResponse>) => {
        this.streams.add(stream);
        stream.on('cancelled', () => this.streams.delete(stream));
        stream.on('close', () => this.streams.delete(stream));
        stream.write({ devices: handlers.devices() });
      },
      GetPreferredAllocation: unary(log, 'GetPreferredAllocation', (r: PreferredAllocationRequest) => handlers.preferredAllocation(r)),
      Allocate: unary(log, 'Allocate', (r: AllocateRequest) => handlers.allocate(r)),
      PreStartContainer: unary(log, 'PreStartContainer', () => Promise.resolve({})),
    };
    server.addService(kubeletApis().DevicePlugin.service, implementation);
    await new Promise<void>((resolve, reject) => server.bindAsync(unixTarget(this.socketPath), ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve())));
    this.server = server;
  }

  private kubeletMaybeRestarted(): void {
    if (this.stopped) return;
    let inode: string;
    try {
      const stat = statSync(this.kubeletSocket);
      inode = `${stat.ino}/${stat.birthtimeMs}/${stat.ctimeMs}`;
    } catch {
      return; // removed: kubelet is going down; register when it is back
    }
    if (inode === this.kubeletInode) return;
    this.kubeletInode = inode;
    this.registering = this.registering.then(() => this.reRegister(inode));
  }

  private async reRegister(inode: string): Promise<void> {
    if (this.stopped || inode !== this.kubeletInode) return;
    const { log } = this.options;
    try {
      if (!this.server || !existsSync(this.socketPath)) await this.serve();
      this.options.handlers.kubeletRestarted();
      await this.register();
      log.info({ endpoint: this.options.endpoint, resource: this.options.resourceName }, 'registered with kubelet');
    } catch (error) {
      log.error({ err: error }, 'registration with kubelet failed; waiting for kubelet.sock to change');
      this.kubeletInode = undefined;
    }
  }

  private register(): Promise<void> {
    const client = new (kubeletApis().Registration)(unixTarget(this.kubeletSocket), credentials.createInsecure());
    const request: RegisterRequest = { version: DEVICE_PLUGIN_VERSION, endpoint: this.options.endpoint, resource_name: this.options.resourceName, options: PLUGIN_OPTIONS };
    const call = client.Register as (request: RegisterRequest, options: { deadline: number }, callback: (error: Error | null) => void) => void;
    return new Promise<void>((resolve, reject) => {
      call.call(client, request, { deadline: Date.now() + 5000 }, (error: Error | null) => {
        client.close();
        if (error) reject(error);
        else resolve();
      });
    });
  }
}
