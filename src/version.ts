/**
 * Build stamp. `npm run build` replaces the three globals with literals
 * (`bun build --define`); from source they are undefined and we say "dev".
 */
import pkg from "../package.json" with { type: "json" };

declare const __BUILD_VERSION__: string | undefined;
declare const __BUILD_COMMIT__: string | undefined;
declare const __BUILD_TIME__: string | undefined;

export const VERSION = typeof __BUILD_VERSION__ === "string" ? __BUILD_VERSION__ : `${pkg.version}-dev`;
export const COMMIT = typeof __BUILD_COMMIT__ === "string" ? __BUILD_COMMIT__ : "unknown";
export const BUILD_TIME = typeof __BUILD_TIME__ === "string" ? __BUILD_TIME__ : "unknown";

export const versionLine = () => `minio-operator-sidecar ${VERSION} (commit ${COMMIT}, built ${BUILD_TIME})`;
