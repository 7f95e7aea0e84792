/**
 * API clients that reuse their connections. client-node 1.4 builds a fresh Agent for every request, so every call
 * opens a new TCP (and TLS) connection; under a bind storm that is most of the cost. This keeps client-node's own
 * per-request authentication (tokens, exec plugins, client certificates) and swaps in one keep-alive agent built
 * from the first request's agent options.
 */
import http from 'node:http';
import https from 'node:https';
import { createConfiguration, ServerConfiguration, type Configuration, type KubeConfig, type RequestContext } from '@kubernetes/client-node';

export function makeKeepAliveClient<T>(kubeConfig: KubeConfig, apiClass: new (configuration: Configuration) => T): T {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  let shared: http.Agent | undefined;
  const auth = {
    getName: (): string => 'keep-alive',
    async applySecurityAuthentication(context: RequestContext): Promise<void> {
      await kubeConfig.applySecurityAuthentication(context);
      const fresh = context.getAgent() as (http.Agent & { options?: http.AgentOptions }) | undefined;
      if (!fresh) return;
      shared ??= fresh instanceof https.Agent ? new https.Agent({ ...fresh.options, keepAlive: true }) : new http.Agent({ ...fresh.options, keepAlive: true });
      context.setAgent(shared);
    },
  };
  return new apiClass(createConfiguration({ baseServer: new ServerConfiguration(cluster.server, {}), authMethods: { default: auth } }));
}
