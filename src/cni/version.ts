import { CniCode, CniError } from "./cni-error.ts";

/** Every spec version this implementation reads and writes, oldest first. */
export const ALL_VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;
export type SpecVersion = (typeof ALL_VERSIONS)[number];
export const LATEST_VERSION: SpecVersion = "1.1.0";

/** Spec: "if the configuration omits cniVersion, 0.1.0 is assumed" (plugin side, skel). */
export const IMPLICIT_VERSION: SpecVersion = "0.1.0";

export function isSpecVersion(v: string): v is SpecVersion {
  return (ALL_VERSIONS as readonly string[]).includes(v);
}

const SEMVER = /^(\d+)\.(\d+)\.(\d+)$/;

/** Parse `major.minor.patch`; returns undefined for anything else. */
export function parseVersion(v: string): [number, number, number] | undefined {
  const m = SEMVER.exec(v);
  if (m === null) return undefined;
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** Compare two semantic versions; throws CniError(1) on a malformed one. */
export function compareVersions(a: string, b: string): number {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  if (pa === undefined) throw new CniError(CniCode.IncompatibleVersion, `invalid version "${a}"`);
  if (pb === undefined) throw new CniError(CniCode.IncompatibleVersion, `invalid version "${b}"`);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function versionAtLeast(v: string, min: string): boolean {
  return compareVersions(v, min) >= 0;
}

/**
 * The version a conflist is run at (libcni): the highest of `cniVersion` and `cniVersions`, ignoring
 * versions newer than we implement; a malformed entry is an error.
 */
export function selectConfVersion(cniVersion: string | undefined, cniVersions: readonly string[] | undefined): string {
  let best: string | undefined;
  for (const v of cniVersions ?? []) {
    if (parseVersion(v) === undefined) {
      throw new CniError(CniCode.InvalidNetworkConfig, `failed to parse cniVersions entry "${v}": not a semantic version`);
    }
    if (compareVersions(v, LATEST_VERSION) > 0) continue;
    if (best === undefined || compareVersions(v, best) > 0) best = v;
  }
  if (cniVersion !== undefined && cniVersion !== "") {
    if (parseVersion(cniVersion) === undefined) {
      throw new CniError(CniCode.InvalidNetworkConfig, `failed to parse cniVersion "${cniVersion}": not a semantic version`);
    }
    if (best === undefined || compareVersions(cniVersion, best) > 0) best = cniVersion;
  }
  return best ?? IMPLICIT_VERSION;
}
