import type { CniErrorJson } from "./types.ts";

/** Well-known error codes: the spec's (1–11, 50, 51) plus libcni's 8 and 999. Ours start at 100. */
export const CniCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironment: 4,
  IoFailure: 5,
  DecodingFailure: 6,
  InvalidNetworkConfig: 7,
  /** libcni/skel: the netns could not be used. */
  NetnsFailure: 8,
  TryAgainLater: 11,
  PluginNotAvailable: 50,
  LimitedConnectivity: 51,
  /** libcni/skel: an internal error wrapped without a specific code. */
  Internal: 999,
} as const;

/** An error with a CNI error code: what a plugin prints as JSON and what a delegate returned to us. */
export class CniError extends Error {
  readonly code: number;
  readonly details: string;

  constructor(code: number, msg: string, details = "", options?: ErrorOptions) {
    super(msg, options);
    this.name = "CniError";
    this.code = code;
    this.details = details;
  }

  /** The wire form, with `cniVersion` when the caller knows the config's version. */
  toErrorJson(cniVersion?: string): CniErrorJson {
    const out: CniErrorJson = { code: this.code, msg: this.message };
    if (cniVersion !== undefined) out.cniVersion = cniVersion;
    if (this.details !== "") out.details = this.details;
    return out;
  }

  /** JSON.stringify calls toJSON(key): keep it argument-free so it never mistakes a key for a version. */
  toJSON(): CniErrorJson {
    return this.toErrorJson();
  }
}

/** Turn anything thrown into a CniError, keeping a CniError's own code. */
export function toCniError(err: unknown, fallbackCode: number = CniCode.Internal): CniError {
  if (err instanceof CniError) return err;
  if (err instanceof Error) return new CniError(fallbackCode, err.message, "", { cause: err });
  return new CniError(fallbackCode, String(err));
}
