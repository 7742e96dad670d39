// The resource types the fake server knows, with the per-type behaviour of the
// real kube-apiserver that client code can observe (defaulting, validation,
// field selectors, list shape).

import { errors } from "./errors.ts";

export type KObject = Record<string, any>;

export type InvalidCause = {
  field: string;
  type: "FieldValueInvalid" | "FieldValueRequired" | "FieldValueForbidden";
  detail: string;
  value?: unknown;
};

export interface ResourceContext {
  /** Next free ClusterIP from 10.96.0.0/12. */
  allocateClusterIP(): string;
}

export interface ResourceType {
  group: string; // "" = core
  version: string;
  resource: string; // plural, e.g. "secrets"
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  shortNames?: string[];
  /** Custom resource: list items keep kind/apiVersion, PUT needs resourceVersion, no strategic merge patch, metadata.generation. */
  custom: boolean;
  /** Has a `/status` subresource: the main endpoint ignores `.status`, `/status` only changes `.status`. */
  statusSubresource: boolean;
  /** Supported fieldSelector labels (metadata.name / metadata.namespace always supported). */
  fieldLabels: Record<string, (o: KObject) => string | undefined>;
  nameValidation: "subdomain" | "dns1035";
  /** DELETE answers 200 with the deleted object instead of a Success Status (kube-apiserver's ReturnDeletedObject; Services). */
  returnDeletedObject?: boolean;
  /** Mutate a new object before it is stored (defaulting, stringData...). */
  prepareCreate?(obj: KObject, ctx: ResourceContext): void;
  /** Mutate an updated object before it is stored. */
  prepareUpdate?(obj: KObject, old: KObject, ctx: ResourceContext): void;
  validate?(obj: KObject, old: KObject | undefined): InvalidCause[];
}

export function apiVersionOf(rt: ResourceType): string {
  return rt.group ? `${rt.group}/${rt.version}` : rt.version;
}

export const CONFIG_KEY_RE = /^[-._a-zA-Z0-9]+$/;
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function mergeStringData(obj: KObject): void {
  if (obj.stringData && typeof obj.stringData === "object") {
    obj.data = { ...(obj.data ?? {}) };
    for (const [k, v] of Object.entries(obj.stringData)) {
      obj.data[k] = Buffer.from(String(v ?? ""), "utf8").toString("base64");
    }
  }
  delete obj.stringData;
}

function checkBase64Data(obj: KObject, kind: string): void {
  for (const [k, v] of Object.entries(obj.data ?? {})) {
    if (v === null) continue;
    if (typeof v !== "string" || !BASE64_RE.test(v.replace(/[\r\n]/g, ""))) {
      // Mirrors the decode error of encoding/json for []byte fields.
      throw errors.badRequest(`${kind} in version "v1" cannot be handled as a ${kind}: illegal base64 data at input byte 0 (data[${k}])`);
    }
  }
}

function validateConfigKeys(obj: KObject, field: string): InvalidCause[] {
  const causes: InvalidCause[] = [];
  for (const k of Object.keys(obj[field] ?? {})) {
    if (!CONFIG_KEY_RE.test(k) || k === "." || k === ".." || k.length > 253) {
      causes.push({
        field: `${field}[${k}]`,
        type: "FieldValueInvalid",
        value: k,
        detail:
          "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
      });
    }
  }
  return causes;
}

const secrets: ResourceType = {
  group: "",
  version: "v1",
  resource: "secrets",
  singular: "secret",
  kind: "Secret",
  listKind: "SecretList",
  namespaced: true,
  custom: false,
  statusSubresource: false,
  nameValidation: "subdomain",
  fieldLabels: { type: (o) => o.type },
  prepareCreate(obj) {
    mergeStringData(obj);
    checkBase64Data(obj, "Secret");
    obj.type ??= "Opaque";
  },
  prepareUpdate(obj) {
    mergeStringData(obj);
    checkBase64Data(obj, "Secret");
    obj.type ??= "Opaque";
  },
  validate(obj, old) {
    const causes = validateConfigKeys(obj, "data");
    if (obj.type === "kubernetes.io/tls") {
      for (const k of ["tls.crt", "tls.key"]) {
        if (!(obj.data && k in obj.data)) causes.push({ field: `data[${k}]`, type: "FieldValueRequired", detail: "" });
      }
    }
    if (old) {
      if (old.type !== obj.type) causes.push({ field: "type", type: "FieldValueInvalid", value: obj.type, detail: "field is immutable" });
      if (old.immutable === true) {
        if (obj.immutable !== true) causes.push({ field: "immutable", type: "FieldValueForbidden", detail: "field is immutable when `immutable` is set" });
        if (JSON.stringify(old.data ?? {}) !== JSON.stringify(obj.data ?? {}))
          causes.push({ field: "data", type: "FieldValueForbidden", detail: "field is immutable when `immutable` is set" });
      }
    }
    return causes;
  },
};

const configmaps: ResourceType = {
  group: "",
  version: "v1",
  resource: "configmaps",
  singular: "configmap",
  kind: "ConfigMap",
  listKind: "ConfigMapList",
  namespaced: true,
  shortNames: ["cm"],
  custom: false,
  statusSubresource: false,
  nameValidation: "subdomain",
  fieldLabels: {},
  validate(obj) {
    return [...validateConfigKeys(obj, "data"), ...validateConfigKeys(obj, "binaryData")];
  },
};

function defaultServiceSpec(obj: KObject, ctx: ResourceContext, old?: KObject): void {
  const spec = (obj.spec ??= {});
  spec.type ??= "ClusterIP";
  spec.sessionAffinity ??= "None";
  if (spec.type !== "ExternalName") {
    if (old && (spec.clusterIP === undefined || spec.clusterIP === "")) {
      // Since 1.20 an update without clusterIP keeps the allocated one.
      spec.clusterIP = old.spec?.clusterIP;
      spec.clusterIPs = old.spec?.clusterIPs;
    }
    if (spec.clusterIP === undefined || spec.clusterIP === "") spec.clusterIP = ctx.allocateClusterIP();
    spec.clusterIPs ??= [spec.clusterIP];
    spec.ipFamilies ??= ["IPv4"];
    spec.ipFamilyPolicy ??= "SingleStack";
    spec.internalTrafficPolicy ??= "Cluster";
  }
  if (Array.isArray(spec.ports)) {
    for (const p of spec.ports) {
      if (p && typeof p === "object") {
        p.protocol ??= "TCP";
        p.targetPort ??= p.port;
      }
    }
  }
  obj.status ??= { loadBalancer: {} };
}

const services: ResourceType = {
  group: "",
  version: "v1",
  resource: "services",
  singular: "service",
  kind: "Service",
  listKind: "ServiceList",
  namespaced: true,
  shortNames: ["svc"],
  custom: false,
  statusSubresource: false,
  nameValidation: "dns1035",
  returnDeletedObject: true,
  fieldLabels: { "spec.clusterIP": (o) => o.spec?.clusterIP, "spec.type": (o) => o.spec?.type },
  prepareCreate(obj, ctx) {
    defaultServiceSpec(obj, ctx);
  },
  prepareUpdate(obj, old, ctx) {
    defaultServiceSpec(obj, ctx, old);
  },
  validate(obj, old) {
    const causes: InvalidCause[] = [];
    const spec = obj.spec ?? {};
    if (spec.type !== "ExternalName" && (!Array.isArray(spec.ports) || spec.ports.length === 0) && spec.clusterIP !== "None") {
      causes.push({ field: "spec.ports", type: "FieldValueRequired", detail: "" });
    }
    if (old && old.spec?.clusterIP && spec.clusterIP !== old.spec.clusterIP && spec.type !== "ExternalName") {
      causes.push({ field: "spec.clusterIPs[0]", type: "FieldValueInvalid", value: spec.clusterIP, detail: "may not change once set" });
    }
    return causes;
  },
};

const events: ResourceType = {
  group: "",
  version: "v1",
  resource: "events",
  singular: "event",
  kind: "Event",
  listKind: "EventList",
  namespaced: true,
  shortNames: ["ev"],
  custom: false,
  statusSubresource: false,
  nameValidation: "subdomain",
  fieldLabels: {
    "involvedObject.kind": (o) => o.involvedObject?.kind,
    "involvedObject.namespace": (o) => o.involvedObject?.namespace,
    "involvedObject.name": (o) => o.involvedObject?.name,
    "involvedObject.uid": (o) => o.involvedObject?.uid,
    "involvedObject.apiVersion": (o) => o.involvedObject?.apiVersion,
    "involvedObject.resourceVersion": (o) => o.involvedObject?.resourceVersion,
    "involvedObject.fieldPath": (o) => o.involvedObject?.fieldPath,
    reason: (o) => o.reason,
    reportingComponent: (o) => o.reportingComponent,
    source: (o) => o.source?.component,
    type: (o) => o.type,
  },
  validate(obj) {
    const causes: InvalidCause[] = [];
    if (obj.involvedObject?.namespace && obj.involvedObject.namespace !== obj.metadata?.namespace) {
      causes.push({ field: "involvedObject.namespace", type: "FieldValueInvalid", value: obj.involvedObject.namespace, detail: "does not match event.namespace" });
    }
    return causes;
  },
};

const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const str = (v: unknown) => (typeof v === "string" ? v : "");

/**
 * events.k8s.io/v1, with the strict validation kube-apiserver applies to
 * writes through that API (k8s.io/kubernetes/pkg/apis/core/validation/events.go):
 * eventTime, type, reportingController/Instance, action and reason required,
 * length limits, a series of at least 2, and on update everything but the
 * series immutable. Stored apart from core v1 events (the real server keeps
 * one object readable through both APIs; nothing here reads across).
 */
const eventsV1: ResourceType = {
  group: "events.k8s.io",
  version: "v1",
  resource: "events",
  singular: "event",
  kind: "Event",
  listKind: "EventList",
  namespaced: true,
  shortNames: ["ev"],
  custom: false,
  statusSubresource: false,
  nameValidation: "subdomain",
  fieldLabels: {
    "regarding.kind": (o) => o.regarding?.kind,
    "regarding.namespace": (o) => o.regarding?.namespace,
    "regarding.name": (o) => o.regarding?.name,
    "regarding.uid": (o) => o.regarding?.uid,
    reason: (o) => o.reason,
    reportingController: (o) => o.reportingController,
    type: (o) => o.type,
  },
  validate(obj, old) {
    const causes: InvalidCause[] = [];
    const required = (field: string) => causes.push({ field, type: "FieldValueRequired", detail: "" });
    const invalid = (field: string, detail: string, value: unknown = "") => causes.push({ field, type: "FieldValueInvalid", value, detail });
    const ns = obj.metadata?.namespace ?? "";
    if (!obj.regarding?.namespace && ns !== "default" && ns !== "kube-system") invalid("involvedObject.namespace", "does not match event.namespace", obj.regarding?.namespace ?? "");
    if (!str(obj.reportingController)) required("reportingController");
    else if (str(obj.reportingController).length > 63 || !QUALIFIED_NAME.test(str(obj.reportingController).split("/").pop()!))
      invalid("reportingController", "name part must consist of alphanumeric characters, '-', '_' or '.'", obj.reportingController);
    if (!str(obj.reportingInstance)) required("reportingInstance");
    if (str(obj.reportingInstance).length > 128) invalid("reportingInstance", "can have at most 128 characters");
    if (!str(obj.action)) required("action");
    if (str(obj.action).length > 128) invalid("action", "can have at most 128 characters");
    if (!str(obj.reason)) required("reason");
    if (str(obj.reason).length > 128) invalid("reason", "can have at most 128 characters");
    if (str(obj.note).length > 1024) invalid("message", "can have at most 1024 characters");
    const seriesChanged = !old || JSON.stringify(obj.series ?? null) !== JSON.stringify(old.series ?? null);
    if (obj.series && seriesChanged) {
      if (!(typeof obj.series.count === "number" && obj.series.count >= 2)) invalid("series.count", "should be at least 2");
      if (!obj.series.lastObservedTime) required("series.lastObservedTime");
    }
    if (!old) {
      if (!obj.eventTime) required("eventTime");
      if (obj.type !== "Normal" && obj.type !== "Warning") invalid("type", `has invalid value: ${obj.type ?? ""}`);
      if (obj.deprecatedFirstTimestamp) invalid("firstTimestamp", "needs to be unset");
      if (obj.deprecatedLastTimestamp) invalid("lastTimestamp", "needs to be unset");
      if (obj.deprecatedCount) invalid("count", "needs to be unset");
      if (obj.deprecatedSource?.component || obj.deprecatedSource?.host) invalid("source", "needs to be unset");
    } else {
      const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
      for (const [field, path] of [
        ["regarding", "involvedObject"], ["reason", "reason"], ["note", "message"], ["type", "type"], ["eventTime", "eventTime"],
        ["action", "action"], ["related", "related"], ["reportingController", "reportingController"], ["reportingInstance", "reportingInstance"],
      ] as const) {
        if (!same(obj[field], old[field])) invalid(path, "field is immutable", obj[field]);
      }
    }
    return causes;
  },
};

const tenants: ResourceType = {
  group: "minio.min.io",
  version: "v2",
  resource: "tenants",
  singular: "tenant",
  kind: "Tenant",
  listKind: "TenantList",
  namespaced: true,
  shortNames: ["tenant"],
  custom: true,
  statusSubresource: true,
  nameValidation: "subdomain",
  fieldLabels: {},
};

/** Types with no behaviour beyond storage: enough to apply an install (README) to the fake cluster. */
const plain = (group: string, version: string, resource: string, kind: string, namespaced = true, shortNames?: string[]): ResourceType => ({
  group,
  version,
  resource,
  singular: kind.toLowerCase(),
  kind,
  listKind: `${kind}List`,
  namespaced,
  ...(shortNames ? { shortNames } : {}),
  custom: false,
  statusSubresource: false,
  nameValidation: resource === "namespaces" ? "dns1035" : "subdomain",
  fieldLabels: {},
});

export const RESOURCE_TYPES: readonly ResourceType[] = [
  secrets,
  configmaps,
  services,
  events,
  eventsV1,
  tenants,
  plain("", "v1", "namespaces", "Namespace", false, ["ns"]),
  plain("", "v1", "serviceaccounts", "ServiceAccount", true, ["sa"]),
  plain("", "v1", "pods", "Pod", true, ["po"]),
  plain("rbac.authorization.k8s.io", "v1", "roles", "Role"),
  plain("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
  plain("apps", "v1", "deployments", "Deployment", true, ["deploy"]),
];

export function findResource(group: string, version: string, resource: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((r) => r.group === group && r.version === version && r.resource === resource);
}

/** Resolve "Secret", "secrets", "secret", "Tenant", "tenants.minio.min.io"... */
export function resolveKind(kindOrResource: string, apiVersion?: string): ResourceType {
  const k = kindOrResource.toLowerCase();
  const candidates = RESOURCE_TYPES.filter((r) => {
    if (apiVersion && apiVersionOf(r) !== apiVersion) return false;
    return (
      r.kind.toLowerCase() === k ||
      r.resource === k ||
      r.singular === k ||
      (r.group && `${r.resource}.${r.group}` === k) ||
      (r.shortNames ?? []).includes(k)
    );
  });
  // "Event"/"events" name both core v1 and events.k8s.io/v1: the core one, as kubectl resolves it.
  if (candidates.length > 1 && candidates.filter((r) => r.group === "").length === 1) return candidates.find((r) => r.group === "")!;
  if (candidates.length !== 1) throw new Error(`fake-apiserver: unknown or ambiguous kind ${JSON.stringify(kindOrResource)}${apiVersion ? ` (${apiVersion})` : ""}`);
  return candidates[0]!;
}

// ---- generic ObjectMeta validation -------------------------------------------------------

const SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_RE = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME_RE = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function nameError(kind: "subdomain" | "dns1035", name: string): string | undefined {
  if (kind === "subdomain") {
    if (name.length > 253) return "must be no more than 253 characters";
    if (!SUBDOMAIN_RE.test(name))
      return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
  } else {
    if (name.length > 63) return "must be no more than 63 characters";
    if (!DNS1035_RE.test(name))
      return "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
  }
  return undefined;
}

function qualifiedNameError(key: string): string | undefined {
  const parts = key.split("/");
  if (parts.length > 2) return "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
  const name = parts.length === 2 ? parts[1]! : parts[0]!;
  if (parts.length === 2) {
    const prefix = parts[0]!;
    if (!prefix || prefix.length > 253 || !SUBDOMAIN_RE.test(prefix)) return "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'";
  }
  if (!name || name.length > 63 || !QUALIFIED_NAME_RE.test(name))
    return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
  return undefined;
}

export function validateObjectMeta(rt: ResourceType, obj: KObject): InvalidCause[] {
  const causes: InvalidCause[] = [];
  const md = obj.metadata ?? {};
  const name: string = md.name ?? "";
  if (!name) {
    causes.push({ field: "metadata.name", type: "FieldValueRequired", detail: "name or generateName is required" });
  } else {
    const e = nameError(rt.nameValidation, name);
    if (e) causes.push({ field: "metadata.name", type: "FieldValueInvalid", value: name, detail: e });
  }
  for (const [k, v] of Object.entries(md.labels ?? {})) {
    const ke = qualifiedNameError(k);
    if (ke) causes.push({ field: "metadata.labels", type: "FieldValueInvalid", value: k, detail: ke });
    if (typeof v !== "string" || v.length > 63 || !LABEL_VALUE_RE.test(v))
      causes.push({
        field: "metadata.labels",
        type: "FieldValueInvalid",
        value: v,
        detail:
          "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
      });
  }
  for (const [k, v] of Object.entries(md.annotations ?? {})) {
    const ke = qualifiedNameError(k.toLowerCase());
    if (ke) causes.push({ field: "metadata.annotations", type: "FieldValueInvalid", value: k, detail: ke });
    if (typeof v !== "string") causes.push({ field: `metadata.annotations[${k}]`, type: "FieldValueInvalid", value: v, detail: "must be a string" });
  }
  return causes;
}
