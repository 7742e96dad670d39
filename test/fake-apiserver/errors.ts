// Kubernetes `Status` bodies and the error type the fake server throws internally.
// Messages, reasons and `details` follow k8s.io/apimachinery/pkg/api/errors so
// client code that inspects them sees what a real kube-apiserver would send.

import type { ResourceType } from "./resources.ts";

export type StatusReason =
  | "NotFound"
  | "AlreadyExists"
  | "Conflict"
  | "Forbidden"
  | "Unauthorized"
  | "Expired"
  | "Gone"
  | "Invalid"
  | "BadRequest"
  | "MethodNotAllowed"
  | "UnsupportedMediaType"
  | "InternalError"
  | "ServiceUnavailable"
  | "TooManyRequests"
  | "Timeout"
  | "";

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure" | "Success";
  message?: string;
  reason?: StatusReason;
  details?: StatusDetails;
  code: number;
}

/** An error that is answered to the client as a `Status` body with `code` as HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: StatusReason,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
    this.name = "ApiError";
  }

  toStatus(): Status {
    // Field order of metav1.Status: kind, apiVersion, metadata, status, message, reason, details, code.
    const s = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: this.message } as Status;
    // The real server omits an empty reason (e.g. plain storage errors).
    if (this.reason) s.reason = this.reason;
    if (this.details) s.details = this.details;
    s.code = this.code;
    return s;
  }
}

/** `secrets` for core resources, `tenants.minio.min.io` for other groups (GroupResource.String()). */
export function qualifiedResource(rt: ResourceType): string {
  return rt.group ? `${rt.resource}.${rt.group}` : rt.resource;
}

function resourceDetails(rt: ResourceType, name?: string): StatusDetails {
  const d: StatusDetails = {};
  if (name !== undefined && name !== "") d.name = name;
  if (rt.group) d.group = rt.group;
  d.kind = rt.resource;
  return d;
}

export const errors = {
  notFound(rt: ResourceType, name: string): ApiError {
    return new ApiError(404, "NotFound", `${qualifiedResource(rt)} "${name}" not found`, resourceDetails(rt, name));
  },
  alreadyExists(rt: ResourceType, name: string): ApiError {
    return new ApiError(409, "AlreadyExists", `${qualifiedResource(rt)} "${name}" already exists`, resourceDetails(rt, name));
  },
  conflict(rt: ResourceType, name: string, why = "the object has been modified; please apply your changes to the latest version and try again"): ApiError {
    return new ApiError(409, "Conflict", `Operation cannot be fulfilled on ${qualifiedResource(rt)} "${name}": ${why}`, resourceDetails(rt, name));
  },
  /**
   * A failed delete precondition, worded like the registry store's: on the kind
   * (group-qualified for custom resources), not the resource.
   */
  preconditionFailed(rt: ResourceType, name: string, field: "UID" | "ResourceVersion", want: string, have: string | undefined): ApiError {
    const kind = rt.group ? `${rt.kind}.${rt.group}` : rt.kind;
    const tail = field === "UID" ? "The object might have been deleted and then recreated" : "The object might have been modified";
    return new ApiError(409, "Conflict", `Operation cannot be fulfilled on ${kind} "${name}": the ${field} in the precondition (${want}) does not match the ${field} in record (${have}). ${tail}`, resourceDetails(rt, name));
  },
  /** `subject` defaults to the kind; some server paths name the qualified resource instead. */
  invalid(rt: ResourceType, name: string, causes: Array<{ field: string; type: "FieldValueInvalid" | "FieldValueRequired" | "FieldValueForbidden"; detail: string; value?: unknown }>, subject = rt.kind): ApiError {
    const rendered = causes.map((c) => {
      const what =
        c.type === "FieldValueRequired"
          ? "Required value"
          : c.type === "FieldValueForbidden"
            ? "Forbidden"
            : `Invalid value: ${JSON.stringify(c.value)}`;
      return { reason: c.type, field: c.field, message: `${what}: ${c.detail}` };
    });
    const summary =
      rendered.length === 1
        ? `${rendered[0]!.field}: ${rendered[0]!.message}`
        : `[${rendered.map((c) => `${c.field}: ${c.message}`).join(", ")}]`;
    const details: StatusDetails = { name, kind: rt.kind, causes: rendered };
    if (rt.group) details.group = rt.group;
    return new ApiError(422, "Invalid", `${subject} "${name}" is invalid: ${summary}`, details);
  },
  forbidden(attrs: { user: string; verb: string; apiGroup: string; resource: string; subresource?: string; namespace: string; name: string }): ApiError {
    // k8s.io/apiserver/pkg/endpoints/handlers/responsewriters.forbiddenMessage + apierrors.NewForbidden
    const gr = attrs.apiGroup ? `${attrs.resource}.${attrs.apiGroup}` : attrs.resource;
    const res = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
    const scope = attrs.namespace ? `in the namespace "${attrs.namespace}"` : "at the cluster scope";
    const why = `User "${attrs.user}" cannot ${attrs.verb} resource "${res}" in API group "${attrs.apiGroup}" ${scope}`;
    const msg = attrs.name ? `${gr} "${attrs.name}" is forbidden: ${why}` : `${gr} is forbidden: ${why}`;
    const details: StatusDetails = {};
    if (attrs.name) details.name = attrs.name;
    if (attrs.apiGroup) details.group = attrs.apiGroup;
    details.kind = attrs.resource;
    return new ApiError(403, "Forbidden", msg, details);
  },
  unauthorized(): ApiError {
    return new ApiError(401, "Unauthorized", "Unauthorized");
  },
  badRequest(message: string): ApiError {
    return new ApiError(400, "BadRequest", message);
  },
  expired(message: string): ApiError {
    return new ApiError(410, "Expired", message);
  },
  methodNotAllowed(): ApiError {
    return new ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
  },
  unsupportedMediaType(contentType: string, accepted: string[]): ApiError {
    return new ApiError(
      415,
      "UnsupportedMediaType",
      `the body of the request was in an unknown format - accepted media types include: ${accepted.join(", ")}`,
      { causes: [{ reason: "UnexpectedServerResponse", message: contentType }] },
    );
  },
  pathNotFound(): ApiError {
    return new ApiError(404, "NotFound", "the server could not find the requested resource", {});
  },
  internal(message: string): ApiError {
    return new ApiError(500, "InternalError", `Internal error occurred: ${message}`, { causes: [{ message }] });
  },
  /** A bare 500 without reason, as etcd-level failures are reported. */
  rawInternal(message: string): ApiError {
    return new ApiError(500, "", message);
  },
};

/** Status answered for an injected HTTP fault of the given code. */
export function faultStatus(code: number): ApiError {
  switch (code) {
    case 500:
      return errors.internal("injected fault");
    case 503:
      return new ApiError(503, "ServiceUnavailable", "the server is currently unable to handle the request (injected fault)");
    case 429:
      return new ApiError(429, "TooManyRequests", "the server has received too many requests and has asked us to try again later (injected fault)", { retryAfterSeconds: 1 });
    case 504:
      return new ApiError(504, "Timeout", "the server was unable to return a response in the time allotted, but may still be processing the request (injected fault)");
    case 401:
      return errors.unauthorized();
    default:
      return new ApiError(code, "", `injected fault (HTTP ${code})`);
  }
}

export function successStatus(rt: ResourceType, name: string, uid: string | undefined): Record<string, unknown> {
  const details: StatusDetails = { name };
  if (rt.group) details.group = rt.group;
  details.kind = rt.resource;
  if (uid) details.uid = uid;
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", details };
}
