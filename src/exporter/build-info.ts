/**
 * `hami_build_info`'s labels for this process, in HAMi's label set (HAMi's pkg/metrics NewBuildInfoCollector):
 * Tessera's version, the commit when the build recorded one (`TESSERA_REVISION`), and the runtime in the places
 * HAMi gives Go's (`go_version` holds Node's version, `compiler` is `node`, `platform` GOOS/GOARCH-style).
 */
import { readFileSync } from 'node:fs';

/** Node's architecture names as Go spells them. */
const GO_ARCH: Readonly<Record<string, string>> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };

export function tesseraBuildInfo(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  // package.json sits two levels up from both src/exporter and dist/exporter.
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return {
    build_date: env.TESSERA_BUILD_DATE ?? 'unknown',
    compiler: 'node',
    go_version: process.version,
    platform: `${process.platform}/${GO_ARCH[process.arch] ?? process.arch}`,
    revision: env.TESSERA_REVISION ?? 'unknown',
    version: `v${version}`,
  };
}
