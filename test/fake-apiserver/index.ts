// A fake Kubernetes API server for tests: real sockets, real TLS, the wire
// behaviour of kube-apiserver for the resources the MinIO sidecar touches.
// See README.md in this directory.

export {
  FakeApiServer,
  startFakeApiServer,
  type FailOptions,
  type FakeApiServerOptions,
  type KubeconfigOptions,
  type ListFilter,
  type ObjectRef,
  type ObjectRefObject,
  type RequestRecord,
  type WatchInfo,
} from "./server.ts";
export type { Identity, RequestAttributes, Rule, TokenIdentity, TokenSpec } from "./rbac.ts";
export { authorize, ruleAllows } from "./rbac.ts";
export { ApiError, errors, type Status, type StatusReason } from "./errors.ts";
export { Store, type PatchType, type StoreEvent } from "./store.ts";
export { RESOURCE_TYPES, apiVersionOf, resolveKind, type KObject, type ResourceType } from "./resources.ts";
export { loadTlsFixtures, unrelatedCaPem, TLS_FIXTURE_DIR, type TlsMaterial } from "./tls.ts";
