// The CNI_* environment of a plugin invocation and the name rules that go with it, as skel and
// libcni's pkg/utils apply them (conformance CNI-P-02, CNI-P-03).
//
// Exported API:
//   readCniEnv(env): CniEnv                       required-variable check + containerID/ifname validation
//   parseCniArgs(raw): [string, string][]         CNI_ARGS `K=V;K2=V2` → pairs, in order
//   splitCniPath(raw): string[]                   CNI_PATH → directories
//   validateContainerId(id), validateInterfaceName(name), validateNetworkName(name)   throw CniError
//   isOwnNetns(path): Promise<boolean>            whether a netns path is this process's own netns
import { stat } from "node:fs/promises";
import { CniCode, CniError } from "./cni-error.ts";

/** The CNI_* variables of one invocation; "" for an unset variable. */
export interface CniEnv {
  command: string;
  containerId: string;
  netns: string;
  ifName: string;
  args: string;
  path: string;
  /** CNI_NETNS_OVERRIDE (skel): "1"/"true" skips the check that CNI_NETNS is not the plugin's own netns. */
  netnsOverride: boolean;
}

type EnvKey = Exclude<keyof CniEnv, "netnsOverride">;

// skel's table, in skel's order (the order of the names in the "missing" message). CNI_COMMAND is
// required for every command; the others for the commands listed. DEL does not need CNI_NETNS (CNI 1.1
// DEL must work after the netns is gone); GC and STATUS concern the network, not one attachment.
const VARIABLES: readonly { name: string; key: EnvKey; requiredFor: readonly string[]; validate?: (v: string) => void }[] = [
  { name: "CNI_COMMAND", key: "command", requiredFor: [] },
  { name: "CNI_CONTAINERID", key: "containerId", requiredFor: ["ADD", "CHECK", "DEL"], validate: validateContainerId },
  { name: "CNI_NETNS", key: "netns", requiredFor: ["ADD", "CHECK"] },
  { name: "CNI_IFNAME", key: "ifName", requiredFor: ["ADD", "CHECK", "DEL"], validate: validateInterfaceName },
  { name: "CNI_ARGS", key: "args", requiredFor: [] },
  { name: "CNI_PATH", key: "path", requiredFor: ["ADD", "CHECK", "DEL", "GC", "STATUS"] },
];

/**
 * Read and check the CNI_* variables for the command in CNI_COMMAND (skel): walking the variables in
 * order, a present required variable is validated at once (its error wins), a missing one is collected;
 * then any missing → CniError(4, `required env variables [CNI_NETNS,CNI_IFNAME] missing`).
 * An unknown command needs only CNI_COMMAND (the caller rejects it after reading stdin, as skel does).
 */
export function readCniEnv(env: Readonly<Record<string, string | undefined>>): CniEnv {
  const out: CniEnv = { command: "", containerId: "", netns: "", ifName: "", args: "", path: "", netnsOverride: false };
  const command = env.CNI_COMMAND ?? "";
  const missing: string[] = [];
  for (const v of VARIABLES) {
    const value = env[v.name] ?? "";
    const required = v.name === "CNI_COMMAND" || v.requiredFor.includes(command);
    if (value === "") {
      if (required) missing.push(v.name);
    } else if (required) {
      v.validate?.(value);
    }
    out[v.key] = value;
  }
  if (missing.length > 0) {
    throw new CniError(CniCode.InvalidEnvironment, `required env variables [${missing.join(",")}] missing`);
  }
  const override = env.CNI_NETNS_OVERRIDE ?? "";
  out.netnsOverride = override === "1" || override.toUpperCase() === "TRUE";
  return out;
}

// libcni pkg/utils: container IDs and network names share one character rule.
const CNI_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** CNI-P-03: empty → 3 `missing containerID`; bad characters → 4 `invalid characters in containerID` (details: the ID). */
export function validateContainerId(id: string): void {
  if (id === "") throw new CniError(CniCode.UnknownContainer, "missing containerID");
  if (!CNI_NAME.test(id)) throw new CniError(CniCode.InvalidEnvironment, "invalid characters in containerID", id);
}

/** Network names (skel's stdin check): empty or bad characters → 7. */
export function validateNetworkName(name: string): void {
  if (name === "") throw new CniError(CniCode.InvalidNetworkConfig, "missing network name");
  if (!CNI_NAME.test(name)) throw new CniError(CniCode.InvalidNetworkConfig, "invalid characters found in network name", name);
}

/** Linux IFNAMSIZ minus the terminating NUL; counted in bytes, as the kernel does. */
const MAX_IFNAME_BYTES = 15;
// Go's unicode.IsSpace: ASCII white space, U+0085, U+00A0 and the Unicode space separators.
const IFNAME_FORBIDDEN = /[/:\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

/** CNI-P-03 (the kernel's dev_valid_name rules, as libcni checks them); every failure is code 4. */
export function validateInterfaceName(name: string): void {
  if (name === "") throw new CniError(CniCode.InvalidEnvironment, "interface name is empty");
  if (Buffer.byteLength(name, "utf8") > MAX_IFNAME_BYTES) {
    throw new CniError(
      CniCode.InvalidEnvironment,
      "interface name is too long",
      `interface name should be less than ${MAX_IFNAME_BYTES + 1} characters`,
    );
  }
  if (name === "." || name === "..") throw new CniError(CniCode.InvalidEnvironment, "interface name is . or ..");
  if (IFNAME_FORBIDDEN.test(name)) {
    throw new CniError(CniCode.InvalidEnvironment, "interface name contains / or : or whitespace characters");
  }
}

/**
 * CNI_ARGS (`K=V;K2=V2`) → `[key, value]` pairs in order; "" → []. Every pair must hold exactly one `=`
 * (libcni types.LoadArgs, which also rejects a value containing `=` and an empty pair from a trailing
 * `;`). A malformed pair → CniError(4, `ARGS: invalid pair "x"`): libcni returns a plain error (a Go
 * plugin would report it as 999); CNI_ARGS is environment, so we use the environment code.
 */
export function parseCniArgs(raw: string): [string, string][] {
  if (raw === "") return [];
  return raw.split(";").map((pair): [string, string] => {
    const kv = pair.split("=");
    if (kv.length !== 2) throw new CniError(CniCode.InvalidEnvironment, `ARGS: invalid pair ${JSON.stringify(pair)}`);
    return [kv[0] ?? "", kv[1] ?? ""];
  });
}

/** CNI_PATH → directories (Go filepath.SplitList on `:`), without empty entries. */
export function splitCniPath(raw: string): string[] {
  return raw.split(":").filter((dir) => dir !== "");
}

/**
 * Whether `netnsPath` names this process's own network namespace (skel's CheckNetNS: a plugin must
 * not configure its own namespace as the container's). A path that cannot be stat'ed is not ours — a
 * DEL may legitimately name a netns that is gone.
 */
export async function isOwnNetns(netnsPath: string, selfNetns = "/proc/self/ns/net"): Promise<boolean> {
  if (netnsPath === "") return false;
  try {
    const [target, self] = await Promise.all([stat(netnsPath), stat(selfNetns)]);
    return target.dev === self.dev && target.ino === self.ino;
  } catch {
    return false;
  }
}
