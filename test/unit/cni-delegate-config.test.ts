// The one delegate-config model and its gate (src/cni/delegate-config.ts), as every path uses it:
// pure, table-driven. The paths themselves (NADs, the Multus config, hot-plug, the journal, upstream's
// record) are tested through dist/bin/multus and the daemon in test/integration/multus-tenant-safety.test.ts.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  admitDelegateConfig,
  DelegateConfigError,
  defaultDelegatePolicy,
  describeSource,
  isAdmitted,
  MULTUS_EXECUTABLES,
  restoreDelegateConfig,
  reviseDelegateConfig,
  type DelegatePolicy,
  type DelegateSource,
} from "../../src/cni/delegate-config.ts";
import { MULTUS_ERRORS } from "../../src/util/multus-error.ts";

const policy = defaultDelegatePolicy("kube-system");
const tenant: DelegateSource = { kind: "nad", namespace: "team-a", name: "net" };
const tenantFile: DelegateSource = { kind: "nad", namespace: "team-a", name: "net", file: "/etc/cni/multus/net.d/net.conf" };
const trusted: DelegateSource = { kind: "nad", namespace: "kube-system", name: "net" };
const admin: DelegateSource = { kind: "admin", where: "config file /etc/cni/net.d/10-x.conf" };
const hotplug: DelegateSource = { kind: "hotplug", where: "the hot-plug request's network config" };
const record: DelegateSource = { kind: "record", where: "the journal x, attachment 1" };
const ALL_SOURCES = [tenant, tenantFile, trusted, admin, hotplug, record];

function refusal(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DelegateConfigError, String(err));
    assert.equal(err.errorCode, "MULTUS_ERR_DELEGATE_REFUSED");
    assert.equal(err.code, 7);
    assert.equal(err.details, "MULTUS_ERR_DELEGATE_REFUSED");
    assert.ok(!err.message.includes("\n"), "one line");
    assert.match(err.message, message);
    return true;
  });
}

const admit = (raw: unknown, source: DelegateSource, p: DelegatePolicy = policy) => admitDelegateConfig(raw, { source, policy: p, defaultCniVersion: "1.0.0", fallbackName: "fallback" });
const run = (raw: unknown, source: DelegateSource, p: DelegatePolicy = policy) => source.kind === "record" ? restoreDelegateConfig(raw, source, { fallbackName: "fallback" }) : admit(raw, source, p);

describe("the model: one normalised list, parsed once for the runner", () => {
  test("a conf becomes a one-plugin list with the list's name and cniVersion; a conflist is kept; the runner's form is made once", () => {
    const conf = admit({ type: "bridge", bridge: "br0" }, tenant);
    assert.deepEqual(conf.list, { cniVersion: "1.0.0", name: "fallback", plugins: [{ type: "bridge", bridge: "br0", name: "fallback", cniVersion: "1.0.0" }] });
    assert.equal(conf.runnable.cniVersion, "1.0.0");
    assert.deepEqual(JSON.parse(conf.runnable.bytes.toString("utf8")), conf.list, "the bytes the runner caches are the list");
    const list = admit({ cniVersion: "0.4.0", name: "l", disableCheck: true, plugins: [{ type: "ptp" }, { type: "portmap", capabilities: { portMappings: true } }] }, tenant);
    assert.equal(list.name, "l");
    assert.equal(list.runnable.disableCheck, true);
    assert.deepEqual(list.plugins.map((p) => p.type), ["ptp", "portmap"]);
    assert.deepEqual(list.source, tenant);
  });

  test("every source refuses what the runner would refuse, naming the source; type with plugins is ambiguous everywhere", () => {
    for (const source of ALL_SOURCES) {
      for (const [raw, message] of [
        ...(source.kind === "record" ? [] : [[{ type: "bridge", plugins: [{ type: "bridge" }] }, /has both "type" and "plugins"/] as const]),
        [{ name: "x" }, /has neither "type"/],
        [{ name: "x", plugins: [] }, /no plugins in list/],
        [{ name: "x", plugins: [{ name: "p" }] }, /missing 'type'/],
        [{ name: "bad name", type: "bridge" }, /invalid characters found in network name "bad name"/],
        [{ name: "x", cniVersion: "9.0.0", type: "bridge" }, /cniVersion "9\.0\.0" is not supported/],
        ["x", /is not a JSON object/],
      ] as const) {
        assert.throws(
          () => run(raw, source),
          (err: unknown) =>
            err instanceof DelegateConfigError &&
            err.errorCode === (source.kind === "nad" ? "MULTUS_ERR_NAD_CONFIG" : "MULTUS_ERR_CONFIG") &&
            message.test(err.message) &&
            err.message.startsWith(describeSource(source)),
          `${describeSource(source)}: ${JSON.stringify(raw)}`,
        );
      }
    }
  });

  test("an admitted config is frozen and branded; the caller's object is copied, not frozen; a lookalike is not admitted", () => {
    const raw = { type: "bridge", ipam: { type: "host-local", subnet: "10.1.0.0/24" } };
    const c = admit(raw, tenant);
    assert.ok(isAdmitted(c));
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.list) && Object.isFrozen(c.list.plugins[0]?.ipam));
    assert.ok(!Object.isFrozen(raw) && !Object.isFrozen(raw.ipam), "the caller's object stays the caller's");
    raw.ipam.subnet = "10.9.0.0/24";
    assert.equal(c.list.plugins[0]?.ipam?.["subnet"], "10.1.0.0/24");
    assert.equal(isAdmitted({ ...c }), false, "a copy is not admitted (the gate keeps a registry of what it made)");
    assert.equal(isAdmitted(JSON.parse(JSON.stringify(c))), false);
  });
});

describe("rule 1: Multus's own programs are never a delegate, from any source", () => {
  const places: [string, (t: string) => unknown][] = [
    ["the plugin", (t) => ({ type: t })],
    ["a plugin of a list", (t) => ({ name: "l", plugins: [{ type: "bridge" }, { type: t }] })],
    ["the IPAM", (t) => ({ type: "bridge", ipam: { type: t } })],
    ["flannel's delegate", (t) => ({ type: "flannel", delegate: { type: t } })],
    ["anywhere deeper", (t) => ({ type: "bridge", x: [{ y: { type: t } }] })],
  ];
  for (const exe of MULTUS_EXECUTABLES) {
    for (const [where, make] of places) {
      test(`${exe} as ${where}`, () => {
        for (const source of ALL_SOURCES) refusal(() => run(make(exe), source), new RegExp(`is "${exe}", one of Multus's own programs`));
      });
    }
  }
  test("passthru and vfioveth are plugins (hard links of the multi-call executable that read only their own config)", () => {
    admit({ type: "passthru" }, tenant);
    admit({ type: "vfioveth", ipam: { type: "host-local", subnet: "10.1.0.0/24" } }, tenant);
  });
  test("a config nested deeper than any real one is refused, not walked", () => {
    let deep: unknown = { type: "x" };
    for (let i = 0; i < 100; i++) deep = { a: deep };
    assert.throws(() => admit({ type: "bridge", deep }, admin), /nested deeper than 64 levels/);
  });
});

describe("rule 2: the types a tenant's network may run", () => {
  const strict: DelegatePolicy = { ...policy, allowedTypes: ["macvlan", "host-local", "tuning"], deniedTypes: ["host-device"] };
  test("a NAD of a tenant namespace (its spec.config or the file it names), a selection of one and a hot-plug request: allowedTypes and deniedTypes apply to plugins, IPAMs and nested delegates", () => {
    for (const source of [tenant, tenantFile, hotplug, { kind: "annotation", namespace: "team-a", name: "net", pod: "team-a/p" } as const]) {
      admit({ name: "ok", plugins: [{ type: "macvlan", master: "eth1", ipam: { type: "host-local", subnet: "10.1.0.0/24" } }, { type: "tuning" }] }, source, strict);
      refusal(() => admit({ type: "bridge" }, source, strict), /plugins\[0\]\.type is "bridge", which is not in the Multus config's delegatePolicy\.allowedTypes \("macvlan", "host-local", "tuning"\)/);
      refusal(() => admit({ type: "macvlan", ipam: { type: "dhcp" } }, source, strict), /plugins\[0\]\.ipam\.type is "dhcp", which is not in/);
      refusal(() => admit({ type: "host-device", device: "eth0" }, source, { ...policy, deniedTypes: ["host-device"] }), /"host-device", which the Multus config's delegatePolicy\.deniedTypes does not allow/);
    }
  });
  test("the administrator's files, trusted namespaces' NADs and records are not limited by types", () => {
    for (const source of [admin, trusted, record]) run({ type: "bridge", ipam: { type: "dhcp" } }, source, strict);
  });
});

describe("rule 3: what a tenant-written config may name on the host", () => {
  const tenantWritten = [tenant, hotplug];
  const exempt = [tenantFile, trusted, admin, record];
  const cases: [string, unknown, RegExp][] = [
    ["host-local's dataDir outside the allowed paths", { type: "bridge", ipam: { type: "host-local", subnet: "10.1.0.0/24", dataDir: "/etc" } }, /plugins\[0\]\.ipam\.dataDir is "\/etc": a directory the plugin writes in \(host-local's leases, which its GC deletes; .*\), a host path/],
    ["a path that climbs out of an allowed directory", { type: "bridge", ipam: { type: "host-local", dataDir: "/var/lib/cni/networks/../../../etc" } }, /ipam\.dataDir is "\/var\/lib\/cni\/networks\/\.\.\/\.\.\/\.\.\/etc"/],
    ["a relative path", { type: "bridge", ipam: { type: "host-local", dataDir: "var/lib/cni/networks" } }, /ipam\.dataDir/],
    ["a path that is not a string", { type: "bridge", ipam: { type: "host-local", dataDir: ["/x"] } }, /ipam\.dataDir is \["\/x"\]/],
    ["host-local's resolvConf", { type: "bridge", ipam: { type: "host-local", resolvConf: "/etc/shadow" } }, /ipam\.resolvConf/],
    ["dhcp's socket", { type: "macvlan", ipam: { type: "dhcp", daemonSocketPath: "/var/lib/kubelet/pods/u/volumes/kubernetes.io~empty-dir/x/s.sock" } }, /ipam\.daemonSocketPath .* the socket the dhcp plugin sends the whole request to/],
    ["whereabouts' kubeconfig", { type: "macvlan", ipam: { type: "whereabouts", range: "10.1.0.0/24", kubernetes: { kubeconfig: "/var/lib/kubelet/pods/u/volumes/x/kc" } } }, /ipam\.kubernetes\.kubeconfig .* exec plugins/],
    ["whereabouts' log file", { type: "macvlan", ipam: { type: "whereabouts", log_file: "/root/.ssh/authorized_keys" } }, /ipam\.log_file/],
    ["whereabouts' config file", { type: "macvlan", ipam: { type: "whereabouts", configuration_path: "/etc/shadow" } }, /ipam\.configuration_path/],
    ["sriov's log file", { type: "sriov", logFile: "/etc/cron.d/x" }, /plugins\[0\]\.logFile/],
    ["tuning's backup directory", { type: "tuning", mtu: 1400, dataDir: "/etc/sudoers.d" }, /plugins\[0\]\.dataDir/],
    ["flannel's data directory", { type: "flannel", dataDir: "/etc" }, /plugins\[0\]\.dataDir .* run again on DEL/],
    ["flannel's delegate's IPAM", { type: "flannel", delegate: { type: "bridge", ipam: { type: "host-local", dataDir: "/etc" } } }, /plugins\[0\]\.delegate\.ipam\.dataDir/],
    ["ovs-cni's socket on TCP", { type: "ovs", bridge: "br1", socket_file: "tcp:10.0.0.1:6640" }, /socket_file is "tcp:10\.0\.0\.1:6640"/],
    ["a runtimeConfig written into the config (portmap would map host ports)", { name: "l", plugins: [{ type: "bridge" }, { type: "portmap", runtimeConfig: { portMappings: [{ hostPort: 22, containerPort: 22 }] } }] }, /plugins\[1\]\.runtimeConfig is set: it is what the runtime hands a plugin/],
    ["a forged prevResult (firewall would allow its addresses)", { type: "firewall", prevResult: { ips: [{ address: "0.0.0.0/0" }] } }, /plugins\[0\]\.prevResult is set/],
    ["portmap's raw iptables conditions", { name: "l", plugins: [{ type: "bridge" }, { type: "portmap", conditionsV4: ["-j", "ACCEPT"] }] }, /plugins\[1\]\.conditionsV4 is set: raw iptables arguments/],
    ["firewall's admin chain", { type: "firewall", iptablesAdminChainName: "INPUT" }, /iptablesAdminChainName is set/],
    ["a sysctl outside net.*", { type: "tuning", sysctl: { "kernel.core_pattern": "|/tmp/x" } }, /plugins\[0\]\.sysctl has "kernel\.core_pattern": only net\.\* keys/],
    ["a net sysctl with an empty segment", { type: "tuning", sysctl: { "net..ipv4": "1" } }, /sysctl has "net\.\.ipv4"/],
  ];
  for (const [title, raw, message] of cases) {
    test(`refused for a tenant-written config: ${title}; the administrator's text may`, () => {
      for (const source of tenantWritten) refusal(() => admit(raw, source), message);
      for (const source of exempt) run(raw, source);
    });
  }
  test("keys are matched as Go plugins read them (case-insensitively, with Unicode's simple folding): another spelling does not get past any rule", () => {
    for (const source of ALL_SOURCES) {
      refusal(() => run({ type: "bridge", IPAM: { Type: "multus", delegates: [{ type: "evil" }] } }, source), /plugins\[0\]\.IPAM\.Type is "multus", one of Multus's own programs/);
      refusal(() => run({ type: "flannel", Delegate: { TYPE: "multus-shim" } }, source), /Delegate\.TYPE is "multus-shim"/);
    }
    for (const source of [tenant, hotplug]) {
      refusal(() => admit({ type: "bridge", ipam: { type: "host-local", DATADIR: "/etc" } }, source), /plugins\[0\]\.ipam\.DATADIR is "\/etc"/);
      refusal(() => admit({ type: "macvlan", ipam: { type: "dhcp", daemon\u017focketPath: "/tmp/evil.sock" } }, source), /daemon\u017focketPath is "\/tmp\/evil\.sock"/);
      refusal(() => admit({ type: "sriov", LogFile: "/etc/cron.d/x" }, source), /LogFile is "\/etc\/cron\.d\/x"/);
      refusal(() => admit({ type: "portmap", RuntimeConfig: { portMappings: [{ hostPort: 22, containerPort: 22 }] } }, source), /RuntimeConfig is set/);
      refusal(() => admit({ type: "tuning", Sysctl: { "kernel.core_pattern": "|/x" } }, source), /Sysctl has "kernel\.core_pattern"/);
      refusal(() => admit({ type: "portmap", CONDITIONSV4: ["-j", "ACCEPT"] }, source), /CONDITIONSV4 is set/);
      refusal(() => admit({ type: "macvlan", Ipam: { TYPE: "dhcp" } }, source, { ...policy, allowedTypes: ["macvlan", "host-local"] }), /plugins\[0\]\.Ipam\.TYPE is "dhcp", which is not in/);
      // A path key is a path key whatever plugin reads it (a custom IPAM, a renamed host-local).
      refusal(() => admit({ type: "my-ipam-wrapper", options: [{ nested: { dataDir: "/etc" } }] }, source), /options\[0\]\.nested\.dataDir is "\/etc"/);
    }
  });

  test("a pod's cni-args are the pod's: checked even when merged into a trusted namespace's NAD", () => {
    const nad = admit({ type: "tuning" }, trusted);
    const pod = { kind: "annotation", namespace: "kube-system", name: "net", pod: "team-a/p" } as const;
    const withArgs = (cni: Record<string, unknown>) => reviseDelegateConfig(nad, (l) => ({ ...l, plugins: l.plugins.map((p) => ({ ...p, args: { cni } })) }), { policy, source: pod });
    withArgs({ ips: ["10.1.0.5"], sysctl: { "net.ipv4.conf.IFNAME.arp_filter": "1" } });
    refusal(() => withArgs({ sysctl: { "kernel.core_pattern": "|/x" } }), /plugins\[0\]\.args\.cni\.sysctl has "kernel\.core_pattern"/);
    refusal(() => withArgs({ dataDir: "/etc" }), /plugins\[0\]\.args\.dataDir is "\/etc"|plugins\[0\]\.args\.cni\.dataDir is "\/etc"/);
  });

  test("allowed: the plugins' defaults, paths inside allowedHostPaths, net.* sysctls, a unix: OVSDB endpoint inside them", () => {
    admit({ type: "bridge", ipam: { type: "host-local", subnet: "10.1.0.0/24", dataDir: "/var/lib/cni/networks" } }, tenant);
    admit({ type: "bridge", ipam: { type: "host-local", dataDir: "/var/lib/cni/networks/mine" } }, tenant);
    admit({ type: "macvlan", ipam: { type: "whereabouts", range: "10.1.0.0/24", kubernetes: { kubeconfig: "/etc/cni/net.d/whereabouts.d/whereabouts.kubeconfig" } } }, tenant);
    admit({ type: "ovs", bridge: "br1", socket_file: "unix:/var/run/openvswitch/db.sock" }, tenant);
    admit({ type: "tuning", sysctl: { "net.ipv4.conf.IFNAME.arp_filter": "1", "net/ipv6/conf/all/forwarding": "0" } }, tenant);
    const own: DelegatePolicy = { ...policy, allowedHostPaths: ["/tmp/test-ipam/"] };
    admit({ type: "bridge", ipam: { type: "host-local", dataDir: "/tmp/test-ipam" } }, tenant, own);
    admit({ type: "bridge", ipam: { type: "host-local", dataDir: "/tmp/test-ipam/x" } }, tenant, own);
    refusal(() => admit({ type: "bridge", ipam: { type: "host-local", dataDir: "/tmp/test-ipam-other" } }, tenant, own), /allowedHostPaths \("\/tmp\/test-ipam\/"\), or the plugin's own default \("\/var\/lib\/cni\/networks\/", "\/run\/cni\/tuning\/"\)/);
    admit({ type: "bridge", ipam: { type: "host-local", dataDir: "/var/lib/cni/networks" } }, tenant, own);
    admit({ type: "sriov", logFile: "/tmp/test-ipam/sriov.log" }, tenant, own);
  });

  test("each key may name its plugin's own default, no other key's: a log file cannot be pointed at another network's leases or at whereabouts' credentials", () => {
    refusal(() => admit({ type: "sriov", logFile: "/var/lib/cni/networks/cbr0/10.244.0.5" }, tenant), /plugins\[0\]\.logFile is "\/var\/lib\/cni\/networks\/cbr0\/10\.244\.0\.5": a file the plugin creates, appends to and rotates/);
    refusal(() => admit({ type: "macvlan", ipam: { type: "whereabouts", log_file: "/etc/cni/net.d/whereabouts.d/whereabouts.kubeconfig" } }, tenant), /ipam\.log_file/);
    refusal(() => admit({ type: "macvlan", ipam: { type: "whereabouts", kubernetes: { kubeconfig: "/etc/cni/net.d/whereabouts.d/other.kubeconfig" } } }, tenant), /kubernetes\.kubeconfig/);
  });

  test("any other string that is an absolute path or a unix: socket must lie within allowedHostPaths (a plugin this Multus does not know may read it as one)", () => {
    for (const [raw, message] of [
      [{ type: "aws-cni", pluginLogFile: "/etc/shadow" }, /plugins\[0\]\.pluginLogFile is "\/etc\/shadow", a host path \(a plugin may read, write or connect to it\)/],
      [{ type: "macvlan", ipam: { type: "spiderpool", ipam_unix_socket_path: "/var/lib/kubelet/pods/u/volumes/x/s.sock" } }, /ipam\.ipam_unix_socket_path/],
      [{ type: "userspace", host: { vhost: { socketfile: "unix:/tmp/x.sock" } } }, /host\.vhost\.socketfile is "unix:\/tmp\/x\.sock"/],
      [{ type: "my-plugin", files: ["ok", "/etc/passwd"] }, /plugins\[0\]\.files\[1\] is "\/etc\/passwd"/],
      [{ type: "host-device", kernelpath: "/sys/devices/pci0000:00/0000:00:03.0" }, /kernelpath is "\/sys\/devices/],
    ] as const) {
      refusal(() => admit(raw, tenant), message);
      admit(raw, tenantFile);
      admit(raw, admin);
    }
    admit({ type: "my-plugin", note: "a/b", route: "10.0.0.0/8", url: "http://x/y" }, tenant);
    admit({ type: "aws-cni", pluginLogFile: "/tmp/test-ipam/aws.log" }, tenant, { ...policy, allowedHostPaths: ["/tmp/test-ipam/"] });
  });
});

describe("revisions and records", () => {
  test("a revised config (a selection's cni-args, a device) passes the gate again, as its new source", () => {
    const base = admit({ type: "bridge", ipam: { type: "host-local", subnet: "10.1.0.0/24" } }, tenant);
    const pod = { kind: "annotation", namespace: "team-a", name: "net", pod: "team-a/p" } as const;
    const withArgs = reviseDelegateConfig(base, (l) => ({ ...l, plugins: l.plugins.map((p) => ({ ...p, args: { cni: { ips: ["10.1.0.9"] } } })) }), { policy, source: pod });
    assert.deepEqual(withArgs.source, pod);
    assert.deepEqual(withArgs.plugins[0]?.args, { cni: { ips: ["10.1.0.9"] } });
    assert.equal(base.plugins[0]?.args, undefined, "the original is unchanged");
    refusal(() => reviseDelegateConfig(base, (l) => ({ ...l, plugins: [...l.plugins, { type: "multus" }] }), { policy }), /"multus", one of Multus's own programs/);
    refusal(() => reviseDelegateConfig(base, (l) => ({ ...l, plugins: l.plugins.map((p) => ({ ...p, ipam: { type: "host-local", dataDir: "/etc" } })) }), { policy }), /ipam\.dataDir/);
  });
  test("a record (journal, upstream's scratch cache) is what an earlier ADD ran: only rule 1, so a stricter policy never stops a DEL", () => {
    // Earlier releases (and upstream) ran the plugins of a list that kept a stray "type": so does its DEL.
    assert.deepEqual(restoreDelegateConfig({ name: "n", type: "bridge", plugins: [{ type: "ptp" }] }, record).plugins.map((p) => p.type), ["ptp"]);
    const r = restoreDelegateConfig({ type: "bridge", ipam: { type: "host-local", dataDir: "/tmp/x" } }, record, { fallbackName: "upstream-net" });
    assert.equal(r.name, "upstream-net");
    assert.equal(r.list.cniVersion, "0.1.0", "a record without cniVersion ran at the implicit 0.1.0");
    refusal(() => restoreDelegateConfig({ name: "n", type: "multus-shim", daemonSocketDir: "/tmp" }, record), /"multus-shim"/);
  });
});

test("the gate's error codes are the catalogue's, with its CNI code", () => {
  for (const code of ["MULTUS_ERR_CONFIG", "MULTUS_ERR_NAD_CONFIG", "MULTUS_ERR_DELEGATE_REFUSED"] as const) {
    assert.equal(MULTUS_ERRORS[code], new DelegateConfigError(code, "x").code, code);
  }
});
