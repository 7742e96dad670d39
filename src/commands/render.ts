/**
 * `render`: the config file `validate` would write, from manifest files,
 * printed to stdout. Everything else (warnings, errors) goes to stderr so
 * that `render ... > config.env` is safe.
 */
import { generateConfig } from "../config/generate.ts";
import { loadManifest } from "../config/manifest.ts";

export interface RenderOptions {
  tenantFile: string;
  secretFile: string;
  namespace?: string;
  clusterDomain: string;
}

/** `warn` receives warnings; render keeps pino out of its start-up path (SPEC: fast, stdout only the file). */
export async function render(opts: RenderOptions, warn: (message: string) => void): Promise<string> {
  // Both read at once; when both fail, the Tenant's error is the one reported, whichever failed first.
  const [tenantRead, secretRead] = await Promise.allSettled([
    loadManifest(opts.tenantFile, "Tenant"),
    loadManifest(opts.secretFile, "Secret"),
  ]);
  if (tenantRead.status === "rejected") throw tenantRead.reason;
  if (secretRead.status === "rejected") throw secretRead.reason;
  const tenant = tenantRead.value;
  const secret = secretRead.value;
  const generated = await generateConfig({
    tenant,
    secret,
    namespace: opts.namespace ?? "minio-operator",
    clusterDomain: opts.clusterDomain,
  });
  for (const w of generated.warnings) warn(w);
  const wanted = generated.tenant.spec.configuration?.name;
  const given = (secret.metadata as { name?: string } | undefined)?.name;
  if (wanted && given && wanted !== given) {
    warn(`Tenant spec.configuration.name is ${wanted}, but the Secret file holds ${given}; rendering with it anyway`);
  }
  return generated.content;
}
