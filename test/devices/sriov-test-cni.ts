// A stand-in for sriov-cni with its contract, for a machine without SR-IOV (which parts are real: the
// CNI protocol, the IPAM plugin it calls, `ip` moving a real netdev into the pod's real netns; what
// is not: the VF, which is a veth end named in a fake sysfs tree). ADD requires `deviceID` (sriov-cni's
// "VF pci addr is required" otherwise), finds the VF's netdev under $SRIOV_TEST_SYSFS/bus/pci/devices/
// <deviceID>/net/, moves it into CNI_NETNS as CNI_IFNAME, runs IPAM and puts the addresses on it. A
// vfio-pci VF (DPDK) has no netdev: IPAM runs and nothing is configured, as sriov-cni does. DEL undoes
// it (the netdev goes back to the node's netns under its own name) and is idempotent. State per
// attachment in $SRIOV_TEST_STATE (sriov-cni keeps a cache the same way).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";

const env = process.env;
const command = env["CNI_COMMAND"] ?? "";
const sysfs = env["SRIOV_TEST_SYSFS"] ?? "/sys";
const stateDir = env["SRIOV_TEST_STATE"] ?? "/var/lib/cni/sriov-test";

function fail(code: number, msg: string, details = ""): never {
  process.stdout.write(JSON.stringify({ cniVersion: "1.0.0", code, msg, details }));
  process.exit(1);
}

function ip(args: string[], netns?: string): string {
  const argv = netns === undefined ? ["ip", ...args] : ["nsenter", `--net=${netns}`, "ip", ...args];
  const r = spawnSync(argv[0] ?? "ip", argv.slice(1), { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.trim()}`);
  return r.stdout;
}

function ipam(conf: Record<string, unknown>, stdin: string): Record<string, unknown> | undefined {
  const ipamConf = conf["ipam"] as { type?: string } | undefined;
  if (ipamConf?.type === undefined) return undefined;
  const dirs = (env["CNI_PATH"] ?? "").split(":").filter((d) => d !== "");
  const plugin = dirs.map((d) => join(d, ipamConf.type ?? "")).find((p) => existsSync(p));
  if (plugin === undefined) fail(7, `IPAM plugin ${ipamConf.type} not found in CNI_PATH`);
  try {
    const out = execFileSync(plugin, [], { input: stdin, encoding: "utf8", env });
    return out.trim() === "" ? undefined : (JSON.parse(out) as Record<string, unknown>);
  } catch (err) {
    const out = (err as { stdout?: string }).stdout ?? "";
    fail(11, `IPAM ${ipamConf.type} ${command} failed`, out);
  }
}

const stdin = readFileSync(0, "utf8");
if (command === "VERSION") {
  process.stdout.write(JSON.stringify({ cniVersion: "1.0.0", supportedVersions: ["0.3.1", "0.4.0", "1.0.0", "1.1.0"] }));
  process.exit(0);
}
const conf = JSON.parse(stdin) as Record<string, unknown>;
const cniVersion = typeof conf["cniVersion"] === "string" ? conf["cniVersion"] : "1.0.0";
const containerId = env["CNI_CONTAINERID"] ?? "";
const ifName = env["CNI_IFNAME"] ?? "";
const netns = env["CNI_NETNS"] ?? "";
const stateFile = join(stateDir, `${containerId}-${ifName}.json`);
const deviceId = typeof conf["deviceID"] === "string" ? conf["deviceID"] : "";

if (command === "ADD") {
  if (deviceId === "") fail(7, "VF pci addr is required");
  const vfDir = join(sysfs, "bus", "pci", "devices", deviceId);
  if (!existsSync(vfDir)) fail(7, `no VF ${deviceId} in ${join(sysfs, "bus", "pci", "devices")}`);
  const driver = basename(readlinkSync(join(vfDir, "driver")));
  const netdev = driver === "vfio-pci" ? undefined : readdirSync(join(vfDir, "net"))[0];
  const ipamResult = ipam(conf, stdin);
  const ips = (ipamResult?.["ips"] as { address: string; gateway?: string }[] | undefined) ?? [];
  const result: Record<string, unknown> = { cniVersion, ips: ips.map((x) => ({ ...x, interface: 0 })) };
  if (netdev === undefined) {
    // DPDK: the VF stays bound to vfio-pci; the app gets it through the device, not a netdev.
    result["interfaces"] = [{ name: ifName, sandbox: netns, pciID: deviceId }];
  } else {
    try {
      ip(["link", "set", netdev, "netns", netns]);
      mkdirSync(stateDir, { recursive: true });
      writeFileSync(stateFile, JSON.stringify({ netdev, deviceId }));
      ip(["link", "set", netdev, "name", ifName], netns);
      for (const x of ips) ip(["addr", "add", x.address, "dev", ifName], netns);
      ip(["link", "set", ifName, "up"], netns);
      const link = JSON.parse(ip(["-json", "link", "show", ifName], netns)) as { address: string }[];
      result["interfaces"] = [{ name: ifName, mac: link[0]?.address ?? "", sandbox: netns, pciID: deviceId }];
    } catch (err) {
      fail(11, `moving VF ${deviceId} (${netdev}) into the pod: ${(err as Error).message}`);
    }
  }
  process.stdout.write(JSON.stringify(result));
  process.exit(0);
}

if (command === "DEL") {
  ipam(conf, stdin);
  if (existsSync(stateFile)) {
    const state = JSON.parse(readFileSync(stateFile, "utf8")) as { netdev: string };
    if (netns !== "" && existsSync(netns)) {
      const here = spawnSync("nsenter", [`--net=${netns}`, "ip", "link", "show", ifName], { encoding: "utf8" });
      if (here.status === 0) {
        ip(["link", "set", ifName, "down"], netns);
        ip(["addr", "flush", "dev", ifName], netns);
        ip(["link", "set", ifName, "name", state.netdev], netns);
        ip(["link", "set", state.netdev, "netns", String(process.pid)], netns);
      }
    }
    rmSync(stateFile, { force: true });
  }
  process.exit(0);
}
// CHECK, STATUS, GC: nothing to verify in a stand-in.
process.exit(0);
