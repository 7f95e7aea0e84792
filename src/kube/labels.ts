/** Node-label patches shared by whoever keeps GFD labels on a node (the device plugin, the fake operator). */

/**
 * The merge patch that brings `current` labels to `desired`: changed and new labels, and (unless `removeStale` is
 * false) null for the GFD labels (`nvidia.com/gpu.*`, `nvidia.com/mig*`) the node no longer should have. Null
 * when nothing changes.
 */
export function labelPatch(current: Readonly<Record<string, string>>, desired: Readonly<Record<string, string>>, removeStale = true): Record<string, string | null> | null {
  const patch: Record<string, string | null> = {};
  for (const [key, value] of Object.entries(desired)) if (current[key] !== value) patch[key] = value;
  for (const key of removeStale ? Object.keys(current) : []) {
    if (!(key in desired) && /^nvidia\.com\/(gpu\.(?!deploy\.)|mig[-.])/.test(key) && key !== 'nvidia.com/mig.config' && key !== 'nvidia.com/mig.config.state') {
      patch[key] = null;
    }
  }
  return Object.keys(patch).length > 0 ? patch : null;
}
