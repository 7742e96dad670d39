// TLS material for the fake apiserver: committed fixtures (test/fixtures/tls,
// valid 2000-2099, regenerate with test/fixtures/tls/regen.sh).

import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface TlsMaterial {
  /** PEM of the CA that signed the server certificate (what a kubeconfig / ca.crt carries). */
  caPem: string;
  certPem: string;
  keyPem: string;
}

export const TLS_FIXTURE_DIR = join(import.meta.dir, "..", "fixtures", "tls");

let cached: TlsMaterial | undefined;

/** CA + server certificate (SAN: 127.0.0.1, ::1, localhost, kubernetes.default.svc...). */
export function loadTlsFixtures(): TlsMaterial {
  cached ??= {
    caPem: readFileSync(join(TLS_FIXTURE_DIR, "ca.crt"), "utf8"),
    certPem: readFileSync(join(TLS_FIXTURE_DIR, "server.crt"), "utf8"),
    keyPem: readFileSync(join(TLS_FIXTURE_DIR, "server.key"), "utf8"),
  };
  return cached;
}

/** A CA that did NOT sign the server certificate, for "wrong CA is refused" tests. */
export function unrelatedCaPem(): string {
  return readFileSync(join(TLS_FIXTURE_DIR, "other-ca.crt"), "utf8");
}
