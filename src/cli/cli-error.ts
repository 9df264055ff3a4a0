// multusctl's exit codes and the errors that choose them (docs/multusctl.md, "Exit codes"). Verbs
// return 0 or 1 themselves and throw for the rest; src/cmd/multusctl.ts is the one place that turns
// a thrown error into a code.
//
//   0  success: nothing fatal found
//   1  findings: a fatal finding (validate), drift (diagnose), a plan that would fail, an object the
//      command names that does not exist — the answer is "no"
//   2  usage: an unknown verb or flag, a missing argument, a bad flag value
//   3  unavailable: the API server cannot be reached or refuses us (RBAC, credentials), or a
//      kubeconfig or Multus config cannot be found or read — the question could not be asked
//   4  internal: anything else (a bug: please report it with the message)
import { isNotFound } from "../k8s/kube-api-error.ts";
import { MultusError } from "../util/multus-error.ts";

export const EXIT_OK = 0;
export const EXIT_FINDINGS = 1;
export const EXIT_USAGE = 2;
export const EXIT_UNAVAILABLE = 3;
export const EXIT_INTERNAL = 4;

/** A command line multusctl cannot run: the message says what is wrong and the verb's --help says more. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Codes of the catalogue that mean "could not ask": the API or a local config, not the object asked about. */
const UNAVAILABLE_CODES: ReadonlySet<string> = new Set(["MULTUS_ERR_API", "MULTUS_ERR_API_FORBIDDEN", "MULTUS_ERR_CONFIG", "MULTUS_ERR_TOO_LARGE"]);

/** The exit code for an error a verb threw. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return EXIT_USAGE;
  // A 404 is an answer about the object (whatever code the client gave it), not an unreachable API.
  if (isNotFound(err)) return EXIT_FINDINGS;
  if (err instanceof MultusError) return UNAVAILABLE_CODES.has(err.errorCode) ? EXIT_UNAVAILABLE : EXIT_FINDINGS;
  return EXIT_INTERNAL;
}
