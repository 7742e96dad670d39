// Request routing: which resource a path names, and the request's verb and name
// as k8s.io/apiserver/pkg/endpoints/request.RequestInfoFactory derives them.

import { findResource, type ResourceType } from "./resources.ts";
import { exactNameFromFieldSelector } from "./selectors.ts";
import { parseBool } from "./watch.ts";

export interface Route {
  rt?: ResourceType; // undefined = unknown resource (still authorized first, then 404)
  group: string;
  version: string;
  resource: string;
  namespace: string;
  name: string;
  subresource: string;
  watchPath: boolean;
}

export function parseResourcePath(segments: string[]): Route | undefined {
  let group: string;
  let version: string;
  let rest: string[];
  if (segments[0] === "api" && segments.length >= 2) {
    group = "";
    version = segments[1]!;
    rest = segments.slice(2);
  } else if (segments[0] === "apis" && segments.length >= 3) {
    group = segments[1]!;
    version = segments[2]!;
    rest = segments.slice(3);
  } else return undefined;
  let watchPath = false;
  if (rest[0] === "watch") {
    watchPath = true;
    rest = rest.slice(1);
  }
  if (rest.length === 0) return undefined;
  let namespace = "";
  if (rest[0] === "namespaces" && rest.length >= 3) {
    namespace = rest[1]!;
    rest = rest.slice(2);
  }
  if (rest.length > 3) return undefined;
  const resource = rest[0]!;
  const name = rest[1] ?? "";
  const subresource = rest[2] ?? "";
  return { rt: findResource(group, version, resource), group, version, resource, namespace, name, subresource, watchPath };
}

/** The verb and (for RBAC) the name of a resource request, as RequestInfoFactory derives them. */
export function requestVerbAndName(method: string, route: Route, query: Record<string, string>): { verb?: string; name: string } {
  let verb: string | undefined;
  switch (method) {
    case "GET":
      verb = route.name ? (route.watchPath ? "watch" : "get") : route.watchPath || parseBool(query.watch) ? "watch" : "list";
      break;
    case "POST":
      verb = "create";
      break;
    case "PUT":
      verb = "update";
      break;
    case "PATCH":
      verb = "patch";
      break;
    case "DELETE":
      verb = route.name ? "delete" : "deletecollection";
      break;
  }
  let name = route.name;
  if (!name && (verb === "list" || verb === "watch")) {
    // list/watch with fieldSelector=metadata.name=X is authorized as a request for X.
    const n = exactNameFromFieldSelector(query.fieldSelector);
    if (n && n !== "." && n !== ".." && !n.includes("/") && !n.includes("%")) name = n;
  }
  return { verb, name };
}
