// The error catalogue: every error Multus itself raises has a stable code (documented in
// docs/errors.md, kept in sync by test/unit/error-catalogue.test.ts), a CNI error code for the
// runtime, and a one-line message naming the object and what to do.
import { CniCode, CniError } from "../cni/cni-error.ts";

/** Stable code → CNI error code. Add new codes here and in docs/errors.md. */
export const MULTUS_ERRORS = {
  /** The Multus config (file or stdin) is invalid. */
  MULTUS_ERR_CONFIG: CniCode.InvalidNetworkConfig,
  /** The pod's k8s.v1.cni.cncf.io/networks annotation cannot be parsed or has an invalid element. */
  MULTUS_ERR_BAD_SELECTION: CniCode.InvalidNetworkConfig,
  /** A selected NetworkAttachmentDefinition does not exist. */
  MULTUS_ERR_NAD_NOT_FOUND: CniCode.InvalidNetworkConfig,
  /** A NetworkAttachmentDefinition's config (spec.config or the file it names) is invalid or missing. */
  MULTUS_ERR_NAD_CONFIG: CniCode.InvalidNetworkConfig,
  /** The delegate policy refuses a network's config (Multus's own programs, a type or host path not allowed). */
  MULTUS_ERR_DELEGATE_REFUSED: CniCode.InvalidNetworkConfig,
  /** Namespace isolation forbids the pod from using a network. */
  MULTUS_ERR_NAMESPACE_ISOLATION: CniCode.InvalidNetworkConfig,
  /** A selection asks for a capability (ips, mac, portMappings, bandwidth, infinibandGUID) no plugin declares. */
  MULTUS_ERR_CAPABILITY_MISSING: CniCode.UnsupportedField,
  /** Two attachments would get the same interface name, or a name is invalid. */
  MULTUS_ERR_INTERFACE_NAME: CniCode.InvalidEnvironment,
  /** The Kubernetes API could not be reached or refused the request. */
  MULTUS_ERR_API: CniCode.TryAgainLater,
  /** The API denied the request (RBAC or an expired token). */
  MULTUS_ERR_API_FORBIDDEN: 101,
  /** The pod the runtime names does not exist (or has another UID). */
  MULTUS_ERR_POD_NOT_FOUND: CniCode.UnknownContainer,
  /** The readiness indicator file did not appear in time. */
  MULTUS_ERR_NOT_READY: CniCode.TryAgainLater,
  /** A delegate plugin failed; its own CNI code is kept. */
  MULTUS_ERR_DELEGATE: 100,
  /** The default-route request could not be applied. */
  MULTUS_ERR_DEFAULT_ROUTE: 102,
  /** Devices (SR-IOV / DRA) for a network could not be resolved. */
  MULTUS_ERR_DEVICE: 103,
  /** The sandbox (or, for GC, the node) is locked by another operation past the budget, or cannot be locked. */
  MULTUS_ERR_LOCKED: CniCode.TryAgainLater,
  /** ADD for a container that already has attachments recorded: the runtime must DEL it first. */
  MULTUS_ERR_ALREADY_ATTACHED: 104,
  /** An input (stdin, an API response) is larger than Multus accepts. */
  MULTUS_ERR_TOO_LARGE: CniCode.IoFailure,
  /** The admission webhook got a request it cannot read (not an AdmissionReview, too large, too slow). */
  MULTUS_ERR_WEBHOOK_REQUEST: CniCode.DecodingFailure,
} as const satisfies Record<string, number>;

export type MultusErrorCode = keyof typeof MULTUS_ERRORS;

export class MultusError extends CniError {
  readonly errorCode: MultusErrorCode;

  /** `cniCode` overrides the catalogue's CNI code (a delegate's own code is kept this way). */
  constructor(errorCode: MultusErrorCode, msg: string, options?: ErrorOptions & { details?: string; cniCode?: number }) {
    super(options?.cniCode ?? MULTUS_ERRORS[errorCode], msg, options?.details ?? errorCode, options);
    this.name = "MultusError";
    this.errorCode = errorCode;
  }
}
