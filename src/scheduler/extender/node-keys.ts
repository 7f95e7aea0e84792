/**
 * The device plugins' public keys, as each published its own on its Node (`tessera.io/node-public-key`): they
 * verify what a plugin signs about its own node (an exchanged grant, a release). A malformed key counts as none.
 */
import type { KeyObject } from 'node:crypto';
import { nodeKeyFromAnnotation, TESSERA_NODE, type TrustedKeys } from '../../api/index.js';
import type { NodeLike } from './cluster-view.js';

export class NodeKeys {
  private readonly texts = new Map<string, string>();
  private readonly keys = new Map<string, KeyObject>();

  /** Records the node's key; true when it changed (pods there may verify differently now). */
  upsert(node: NodeLike): boolean {
    const name = node.metadata?.name;
    if (!name) return false;
    const text = node.metadata?.annotations?.[TESSERA_NODE.publicKey];
    if (text === this.texts.get(name)) return false;
    if (text === undefined) return this.remove(name);
    this.texts.set(name, text);
    const key = nodeKeyFromAnnotation(text);
    if (key) this.keys.set(name, key);
    else this.keys.delete(name);
    return true;
  }

  remove(name: string): boolean {
    this.keys.delete(name);
    return this.texts.delete(name);
  }

  get(name: string): KeyObject | undefined {
    return this.keys.get(name);
  }

  /** The keys a verifier trusts: the scheduler's, and these nodes'. */
  trusted(scheduler: KeyObject): TrustedKeys {
    return { scheduler, node: (name) => this.keys.get(name) };
  }
}
