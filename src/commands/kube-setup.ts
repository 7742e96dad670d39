/** Loading the Kubernetes client for a command, with a one-line error when no config can be found. */
import { EventsV1Api, setHeaderOptions } from "@kubernetes/client-node";
import { ClusterUnreachableError, InputError } from "../errors.ts";
import { describeKubeError, loadKube, NoKubeconfigError, statusOf, type Kube } from "../kube/client.ts";
import type { KubeRequest } from "../kube/events.ts";

export function loadKubeOrFail(kubeconfig?: string): Kube {
  try {
    return loadKube(kubeconfig);
  } catch (err) {
    // Nothing to connect to is "cluster unreachable" (exit 3), naming where we looked.
    if (err instanceof NoKubeconfigError) throw new ClusterUnreachableError(err.message);
    const reason = err instanceof Error ? (err.message.split("\n")[0] ?? "") : String(err);
    throw new InputError(kubeconfig ? `kubeconfig ${kubeconfig}` : "Kubernetes client config", "", reason);
  }
}

/**
 * The event recorder's transport over today's client: client-node's typed
 * EventsV1Api, so only the two calls the recorder makes (create and patch of
 * events.k8s.io/v1 Events). To be re-pointed at the generic request function
 * when the typed clients go.
 */
export function eventsRequest(kube: Kube): KubeRequest {
  const api = kube.config.makeApiClient(EventsV1Api);
  return async (method, path, body, contentType) => {
    const m = /^\/apis\/events\.k8s\.io\/v1\/namespaces\/([^/]+)\/events(?:\/([^/]+))?$/.exec(path);
    try {
      if (m && method === "POST" && !m[2]) return await api.createNamespacedEvent({ namespace: m[1]!, body: body as never });
      if (m && method === "PATCH" && m[2]) {
        return await api.patchNamespacedEvent({ namespace: m[1]!, name: m[2], body }, setHeaderOptions("Content-Type", contentType ?? "application/merge-patch+json"));
      }
    } catch (err) {
      throw Object.assign(new Error(describeKubeError(err)), { statusCode: statusOf(err) });
    }
    throw new Error(`eventsRequest: unsupported ${method} ${path}`);
  };
}
