// CNI 1.1.0 data types, as they travel on the wire. Spec: github.com/containernetworking/cni SPEC.md.
// Every object type keeps unknown keys: plugins pass through what they do not understand.

export const CNI_COMMANDS = ["ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION"] as const;
export type CniCommand = (typeof CNI_COMMANDS)[number];

export interface Dns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

/** One plugin configuration: a stand-alone `.conf` or one element of a conflist's `plugins`. */
export interface NetConf {
  cniVersion?: string;
  name?: string;
  type: string;
  capabilities?: Record<string, boolean>;
  ipam?: { type?: string; [key: string]: unknown };
  dns?: Dns;
  args?: Record<string, unknown>;
  runtimeConfig?: Record<string, unknown>;
  prevResult?: unknown;
  [key: string]: unknown;
}

/** A network configuration list (`.conflist`). */
export interface NetConfList {
  cniVersion?: string;
  cniVersions?: string[];
  name: string;
  disableCheck?: boolean;
  disableGC?: boolean;
  loadOnlyInlinedPlugins?: boolean;
  plugins: NetConf[];
  [key: string]: unknown;
}

export interface ResultInterface {
  name: string;
  mac?: string;
  mtu?: number;
  sandbox?: string;
  socketPath?: string;
  pciID?: string;
}

export interface ResultRoute {
  dst: string;
  gw?: string;
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}

/** An IP of a 1.0.0/1.1.0 result. */
export interface ResultIp {
  address: string;
  gateway?: string;
  interface?: number;
}

/** An IP of a 0.3.0/0.3.1/0.4.0 result: the same plus the mandatory family. */
export interface ResultIp04 extends ResultIp {
  version: "4" | "6";
}

/** Result for cniVersion 1.0.0 and 1.1.0. */
export interface Result100 {
  cniVersion: string;
  interfaces?: ResultInterface[];
  ips?: ResultIp[];
  routes?: ResultRoute[];
  dns?: Dns;
}

/** Result for cniVersion 0.3.0, 0.3.1 and 0.4.0. */
export interface Result040 {
  cniVersion: string;
  interfaces?: ResultInterface[];
  ips?: ResultIp04[];
  routes?: ResultRoute[];
  dns?: Dns;
}

export interface Result020Ip {
  ip: string;
  gateway?: string;
  routes?: { dst: string; gw?: string }[];
}

/** Result for cniVersion 0.1.0 and 0.2.0. */
export interface Result020 {
  cniVersion: string;
  ip4?: Result020Ip;
  ip6?: Result020Ip;
  dns?: Dns;
}

export type CniResult = Result100 | Result040 | Result020;

/** The error object a plugin prints on stdout (spec §Error). */
export interface CniErrorJson {
  cniVersion?: string;
  code: number;
  msg: string;
  details?: string;
}

export interface VersionInfo {
  cniVersion: string;
  supportedVersions: string[];
}

/** An attachment the runtime still wants, as sent in GC's `cni.dev/valid-attachments`. */
export interface ValidAttachment {
  containerID: string;
  ifname: string;
}
