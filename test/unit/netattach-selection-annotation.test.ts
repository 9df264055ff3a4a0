// The networks selection annotation (conformance §2 NPWG-04…17, §4 edge cases): pure, no I/O.
import assert from "node:assert/strict";
import { test } from "node:test";
import { MultusError } from "../../src/util/multus-error.ts";
import {
  parseSelectionAnnotation,
  type NetworkSelection,
} from "../../src/netattach/selection-annotation.ts";
import { NETWORKS_ANNOTATION } from "../../src/k8s/annotations.ts";

const POD_NS = "team-a";
const POD = "team-a/web-0";
const parse = (v: string): NetworkSelection[] => parseSelectionAnnotation(v, POD_NS, POD);

/** Run a parse expected to fail; return the MultusError after checking its stable code. */
function failure(value: string, code = "MULTUS_ERR_BAD_SELECTION"): MultusError {
  try {
    parse(value);
  } catch (err) {
    assert.ok(err instanceof MultusError, `expected a MultusError, got ${String(err)}`);
    assert.equal(err.errorCode, code);
    assert.equal(err.code, 7);
    assert.ok(!err.message.includes("\n"), "messages are one line");
    assert.ok(err.message.startsWith(`pod ${POD}: ${NETWORKS_ANNOTATION}`), err.message);
    return err;
  }
  assert.fail(`expected ${JSON.stringify(value)} to be rejected`);
}

/** Table rows: [test label, annotation, regex the message must match (it names the element)]. */
type ErrorRow = [string, string, RegExp];

function errorTable(rows: readonly ErrorRow[]): void {
  for (const [label, value, message] of rows) {
    const err = failure(value);
    assert.match(err.message, message, `${label}: ${err.message}`);
  }
}

test("NPWG-05 NPWG-06 comma form: name, namespace/name, name@ifname, namespace/name@ifname, items trimmed", () => {
  const rows: [string, Omit<NetworkSelection, "element">][] = [
    ["net-a", { name: "net-a", namespace: POD_NS }],
    ["  other/net-a  ", { name: "net-a", namespace: "other" }],
    ["net-a@eth1", { name: "net-a", namespace: POD_NS, interface: "eth1" }],
    ["other / net-a @ data0", { name: "net-a", namespace: "other", interface: "data0" }],
    ["other/net-a@net_1.100", { name: "net-a", namespace: "other", interface: "net_1.100" }],
  ];
  for (const [value, want] of rows) {
    assert.deepEqual(parse(value), [{ ...want, element: 0 }], value);
  }
  assert.deepEqual(
    parse("net-a, other/net-b@eth2 ,net-c").map((s) => [s.element, s.namespace, s.name, s.interface]),
    [
      [0, POD_NS, "net-a", undefined],
      [1, "other", "net-b", "eth2"],
      [2, POD_NS, "net-c", undefined],
    ],
  );
});

test("NPWG-05 an empty or whitespace-only annotation selects nothing; [] too", () => {
  for (const v of ["", "   ", "\n\t", "[]", " [ ] "]) assert.deepEqual(parse(v), [], JSON.stringify(v));
});

test("NPWG-05 §4 the JSON form is chosen when the value contains [, { or \"", () => {
  // A quoted string is JSON (and then not a list): the comma form never sees it.
  assert.match(failure('"net-a"').message, /is the string "net-a", not a JSON list of objects/);
  assert.deepEqual(parse('[{"name":"net-a"}]'), [{ name: "net-a", namespace: POD_NS, element: 0 }]);
});

test("NPWG-06 §4 comma-form errors name the element (deliberate: no silent partial attachment)", () => {
  errorTable([
    ["trailing comma", "net-a,", /element 1: is empty \(a stray ","\?\)/],
    ["leading comma", ",net-a", /element 0: is empty/],
    ["double comma", "net-a,,net-b", /element 1: is empty/],
    ["slash twice", "a/b/net-a", /element 0 \("a\/b\/net-a"\): has more than one "\/"/],
    ["at twice", "net-a@eth1@eth2", /element 0 \("net-a@eth1@eth2"\): has more than one "@"/],
    ["at twice across items", "net-b, ns/net-a@x@y", /element 1 \("ns\/net-a@x@y"\): has more than one "@"/],
    ["at before slash", "net-a@eth1/ns", /element 0 .*"@" before "\/"/],
    ["empty namespace", "/net-a", /element 0 \("\/net-a"\): has an empty namespace before "\/"/],
    ["empty name after slash", "ns/", /element 0 \("ns\/"\): has an empty network name/],
    ["empty name before at", "@eth1", /element 0 \("@eth1"\): has an empty network name/],
    ["empty interface", "net-a@", /element 0 \("net-a@"\): has an empty interface name after "@"/],
  ]);
});

test("NPWG-04 names and namespaces must be DNS-1123 labels, in both forms", () => {
  errorTable([
    ["upper case / underscore", "Net_A", /element 0 \("Net_A"\): network name "Net_A" is not a DNS-1123 label/],
    ["dot in name", "net.a", /network name "net\.a" is not a DNS-1123 label/],
    ["leading dash", "-net", /network name "-net" is not a DNS-1123 label/],
    ["bad namespace", "Team_A/net-a", /element 0 \("Team_A\/net-a"\): namespace "Team_A" is not a DNS-1123 label/],
    ["64 characters", "a".repeat(64), /is not a DNS-1123 label/],
    ["JSON name", '[{"name":"net-a"},{"name":"Net_A"}]', /element 1 \("Net_A"\): network name "Net_A" is not a DNS-1123 label/],
    ["JSON namespace", '[{"name":"net-a","namespace":"a/b"}]', /element 0 \("net-a"\): namespace "a\/b" is not a DNS-1123 label/],
  ]);
  assert.equal(parse("a".repeat(63))[0]?.name, "a".repeat(63));
});

test("NPWG-10 §4 the interface must be a valid Linux name (16 bytes, '/', ':', white space, '.', '..')", () => {
  errorTable([
    ["16 bytes, comma form", "net-a@testnamemorethan16", /element 0 \("net-a@testnamemorethan16"\): interface "testnamemorethan16" is not a valid Linux interface name \(interface name is too long/],
    ["16 bytes, JSON", '[{"name":"net-a","interface":"abcdefghijklmnop"}]', /element 0 \("net-a"\): interface "abcdefghijklmnop" is not a valid Linux interface name/],
    ["15 ASCII + multibyte", '[{"name":"net-a","interface":"abcdefghijklmné"}]', /interface "abcdefghijklmné" is not a valid/],
    ["colon", '[{"name":"net-a","interface":"eth0:1"}]', /interface "eth0:1" is not a valid Linux interface name \(interface name contains \/ or : or whitespace/],
    ["slash", '[{"name":"net-a","interface":"a/b"}]', /interface "a\/b" is not a valid/],
    ["space", '[{"name":"net-a","interface":"a b"}]', /interface "a b" is not a valid/],
    ["space inside comma form", "net-a@a b", /interface "a b" is not a valid/],
    ["dot", '[{"name":"net-a","interface":"."}]', /interface "\." is not a valid Linux interface name \(interface name is \. or \.\./],
    ["dot dot", "net-a@..", /interface "\.\." is not a valid/],
    ["not a string", '[{"name":"net-a","interface":5}]', /element 0 \("net-a"\): "interface" must be a string, got number 5/],
  ]);
  assert.equal(parse('[{"name":"net-a","interface":"abcdefghijklmno"}]')[0]?.interface, "abcdefghijklmno");
});

test("NPWG-07 JSON: name required; missing or empty namespace means the pod's", () => {
  assert.deepEqual(
    parse('[{"name":"a"},{"name":"b","namespace":""},{"name":"c","namespace":null},{"name":"d","namespace":"other"}]').map((s) => s.namespace),
    [POD_NS, POD_NS, POD_NS, "other"],
  );
  errorTable([
    ["no name", '[{"namespace":"other"}]', /element 0: has no "name"/],
    ["null name", '[{"name":null}]', /element 0: has no "name"/],
    ["empty name", '[{"name":"net-a"},{"name":""}]', /element 1: has an empty "name"/],
    ["name not a string", '[{"name":7}]', /element 0: "name" must be a string, got number 7/],
    ["namespace not a string", '[{"name":"net-a","namespace":["x"]}]', /element 0 \("net-a"\): "namespace" must be a string, got a list/],
  ]);
});

test("NPWG-07 JSON: dotted custom keys kept in extra, unknown undotted keys ignored but listed, keys case-insensitive", () => {
  const [s] = parse('[{"name":"net-a","example.com/color":"blue","io.acme.weight":3,"colour":"red","Interface":"eth9","IPS":["10.0.0.1"]}]');
  assert.deepEqual(s, {
    name: "net-a",
    namespace: POD_NS,
    interface: "eth9",
    ips: ["10.0.0.1"],
    extra: { "example.com/color": "blue", "io.acme.weight": 3 },
    ignoredKeys: ["colour"],
    element: 0,
  });
  assert.match(failure('[{"name":"net-a","interface":"a","Interface":"b"}]').message, /element 0 \("net-a"\): sets "interface" twice \(as "interface" and "Interface"\); keep one/);
});

test("NPWG-07 legacy interfaceRequest is interface; both and different is an error", () => {
  assert.equal(parse('[{"name":"net-a","interfaceRequest":"eth5"}]')[0]?.interface, "eth5");
  assert.equal(parse('[{"name":"net-a","interfaceRequest":"eth5","interface":"eth5"}]')[0]?.interface, "eth5");
  assert.match(
    failure('[{"name":"net-a","interface":"eth5","interfaceRequest":"eth6"}]').message,
    /element 0 \("net-a"\): "interface" \("eth5"\) and the legacy "interfaceRequest" \("eth6"\) differ/,
  );
});

test("§4 JSON shape errors: null, a single object, a non-object element, invalid JSON with its position", () => {
  errorTable([
    ["bare null (upstream: a network named null)", "null", /networks: is JSON null/],
    ["JSON null with spaces", "  null ", /is JSON null/],
    ["single object", '{"name":"net-a"}', /networks: is a single JSON object; wrap it in \[ \]/],
    ["number list element", '[{"name":"net-a"}, 5]', /element 1: is number 5; every element must be an object/],
    ["null element", '[null]', /element 0: is null; every element must be an object/],
    ["string element", '["net-a"]', /element 0: is the string "net-a"/],
    ["nested list", '[[{"name":"net-a"}]]', /element 0: is a list/],
    ["trailing comma in JSON", '[{"name":"net-a"},]', /is not valid JSON \(line 1 column 19: expected a value, found "]"\)/],
    ["unquoted key", '[{name:"net-a"}]', /is not valid JSON \(line 1 column 3: expected a double-quoted property name, found "n"\)/],
    ["multi-line", '[\n {"name":"net-a"}\n {"name":"net-b"}]', /is not valid JSON \(line 3 column 2: expected "," or "]", found "\{"\)/],
    ["truncated", '[{"name":"net-a"', /line 1 column 17 \(end of input\)/],
  ]);
});

test("NPWG-08 ips: IPs with optional prefix; invalid entries, empty list, non-list rejected", () => {
  assert.deepEqual(parse('[{"name":"net-a","ips":["10.1.0.5/24","2001:db8::5/64","192.168.1.1","fd00::1"]}]')[0]?.ips, [
    "10.1.0.5/24",
    "2001:db8::5/64",
    "192.168.1.1",
    "fd00::1",
  ]);
  errorTable([
    ["bad CIDR prefix", '[{"name":"net-a","ips":["10.1.0.5/33"]}]', /element 0 \("net-a"\): "ips" entry 0 \("10\.1\.0\.5\/33"\) is not an IP address/],
    ["bad v6 prefix", '[{"name":"net-a","ips":["10.0.0.1","fd00::1/129"]}]', /"ips" entry 1 \("fd00::1\/129"\)/],
    ["not an IP", '[{"name":"net-a","ips":["10.1.0.300/24"]}]', /"ips" entry 0 \("10\.1\.0\.300\/24"\)/],
    ["two slashes", '[{"name":"net-a","ips":["10.1.0.5/24/1"]}]', /"ips" entry 0/],
    ["zone", '[{"name":"net-a","ips":["fe80::1%eth0"]}]', /"ips" entry 0/],
    ["not a string", '[{"name":"net-a","ips":[17]}]', /"ips" entry 0 \(number 17\)/],
    ["a string, not a list", '[{"name":"net-a","ips":"10.0.0.1"}]', /"ips" must be a list of IP addresses, got the string "10\.0\.0\.1"/],
    ["empty list", '[{"name":"net-a","ips":[]}]', /"ips" is empty; list at least one address/],
  ]);
});

test("NPWG-09 mac: a 6-byte unicast MAC; zz:bb, short, long, multicast, zero rejected", () => {
  for (const mac of ["02:00:00:aa:bb:cc", "02-00-00-AA-BB-CC", "0200.00aa.bbcc"]) {
    assert.equal(parse(`[{"name":"net-a","mac":"${mac}"}]`)[0]?.mac, mac);
  }
  errorTable([
    ["zz:bb", '[{"name":"net-a","mac":"zz:bb"}]', /element 0 \("net-a"\): "mac" "zz:bb" is not a 6-byte MAC address/],
    ["5 bytes", '[{"name":"net-a","mac":"02:00:00:aa:bb"}]', /"mac" "02:00:00:aa:bb" is not a 6-byte MAC/],
    ["8 bytes", '[{"name":"net-a","mac":"02:00:00:aa:bb:cc:dd:ee"}]', /is not a 6-byte MAC/],
    ["mixed separators", '[{"name":"net-a","mac":"02:00-00:aa:bb:cc"}]', /is not a 6-byte MAC/],
    ["multicast", '[{"name":"net-a","mac":"01:00:5e:00:00:01"}]', /"mac" "01:00:5e:00:00:01" is a multicast address/],
    ["all zeros", '[{"name":"net-a","mac":"00:00:00:00:00:00"}]', /is all zeros/],
  ]);
});

test("NPWG-11 cni-args is kept as given; must be an object", () => {
  const [s] = parse('[{"name":"net-a","cni-args":{"foo":"bar","n":[1,2],"nested":{"x":true}}}]');
  assert.deepEqual(s?.cniArgs, { foo: "bar", n: [1, 2], nested: { x: true } });
  assert.equal(parse('[{"name":"net-a","cni-args":null}]')[0]?.cniArgs, undefined);
  assert.match(failure('[{"name":"net-a","cni-args":["foo"]}]').message, /element 0 \("net-a"\): "cni-args" must be an object/);
});

test("NPWG-12 portMappings: ports 1-65535 required, protocol case-insensitive, default TCP", () => {
  const [s] = parse(
    '[{"name":"net-a","portMappings":[{"hostPort":8080,"containerPort":80},{"hostPort":53,"containerPort":53,"protocol":"udp","hostIP":"10.0.0.1"},{"hostPort":1,"containerPort":65535,"protocol":"Sctp"}]}]',
  );
  assert.deepEqual(s?.portMappings, [
    { hostPort: 8080, containerPort: 80, protocol: "TCP" },
    { hostPort: 53, containerPort: 53, protocol: "UDP", hostIP: "10.0.0.1" },
    { hostPort: 1, containerPort: 65535, protocol: "SCTP" },
  ]);
  errorTable([
    ["hostPort 0", '[{"name":"net-a","portMappings":[{"hostPort":0,"containerPort":80}]}]', /element 0 \("net-a"\): "portMappings" entry 0: "hostPort" must be a port number 1-65535, got number 0/],
    ["containerPort 65536", '[{"name":"net-a","portMappings":[{"hostPort":80,"containerPort":65536}]}]', /"containerPort" must be a port number 1-65535, got number 65536/],
    ["fractional", '[{"name":"net-a","portMappings":[{"hostPort":80.5,"containerPort":80}]}]', /"hostPort" must be a port number/],
    ["missing containerPort", '[{"name":"net-a","portMappings":[{"hostPort":80}]}]', /"portMappings" entry 0 has no "containerPort"/],
    ["string port", '[{"name":"net-a","portMappings":[{"hostPort":"80","containerPort":80}]}]', /"hostPort" must be a port number 1-65535, got the string "80"/],
    ["bad protocol", '[{"name":"net-a","portMappings":[{"hostPort":80,"containerPort":80,"protocol":"icmp"}]}]', /"protocol" must be TCP, UDP or SCTP, got the string "icmp"/],
    ["bad hostIP", '[{"name":"net-a","portMappings":[{"hostPort":80,"containerPort":80,"hostIP":"10.0.0.0/8"}]}]', /"hostIP" must be an IP address/],
    ["empty list", '[{"name":"net-a","portMappings":[]}]', /"portMappings" is empty/],
    ["second entry", '[{"name":"net-a","portMappings":[{"hostPort":80,"containerPort":80},"x"]}]', /"portMappings" entry 1 must be an object/],
  ]);
});

test("NPWG-13 bandwidth: non-zero integers, a burst requires its rate", () => {
  assert.deepEqual(parse('[{"name":"net-a","bandwidth":{"ingressRate":1000000,"ingressBurst":200000,"egressRate":5}}]')[0]?.bandwidth, {
    ingressRate: 1000000,
    ingressBurst: 200000,
    egressRate: 5,
  });
  errorTable([
    ["ingress burst without rate", '[{"name":"net-a","bandwidth":{"ingressBurst":100}}]', /element 0 \("net-a"\): "bandwidth" sets ingressBurst without ingressRate/],
    ["egress burst without rate", '[{"name":"net-a","bandwidth":{"egressBurst":100,"ingressRate":1}}]', /sets egressBurst without egressRate/],
    ["zero", '[{"name":"net-a","bandwidth":{"ingressRate":0}}]', /"bandwidth"\.ingressRate must be a positive integer, got number 0/],
    ["negative", '[{"name":"net-a","bandwidth":{"egressRate":-1}}]', /"bandwidth"\.egressRate must be a positive integer/],
    ["fraction", '[{"name":"net-a","bandwidth":{"egressRate":1.5}}]', /must be a positive integer/],
    ["empty object", '[{"name":"net-a","bandwidth":{}}]', /"bandwidth" sets no value/],
    ["not an object", '[{"name":"net-a","bandwidth":100}]', /"bandwidth" must be an object/],
  ]);
});

test("NPWG-14 default-route: gateway list (may be empty); one element only, both named", () => {
  assert.deepEqual(parse('[{"name":"net-a","default-route":["10.1.0.1","2001:db8::1"]}]')[0]?.defaultRoute, ["10.1.0.1", "2001:db8::1"]);
  assert.deepEqual(parse('[{"name":"net-a","default-route":[]}]')[0]?.defaultRoute, []);
  errorTable([
    [
      "two default-route elements",
      '[{"name":"net-a","default-route":["10.1.0.1"]},{"name":"net-b"},{"name":"net-c","default-route":[]}]',
      /elements 0 \("net-a"\) and 2 \("net-c"\) both set "default-route"; only one network attachment may set it/,
    ],
    ["prefix", '[{"name":"net-a","default-route":["10.1.0.1/24"]}]', /element 0 \("net-a"\): "default-route" entry 0 \("10\.1\.0\.1\/24"\) is not a gateway IP address/],
    ["garbage", '[{"name":"net-a","default-route":["gw"]}]', /"default-route" entry 0 \("gw"\)/],
    ["ECMP v4", '[{"name":"net-a","default-route":["10.1.0.1","10.1.0.2"]}]', /lists two IPv4 gateways \("10\.1\.0\.1" and "10\.1\.0\.2"\)/],
    ["not a list", '[{"name":"net-a","default-route":"10.1.0.1"}]', /"default-route" must be a list of gateway IP addresses/],
  ]);
});

test("NPWG-15 infiniband-guid: an 8-byte GUID", () => {
  assert.equal(parse('[{"name":"net-a","infiniband-guid":"c2:11:22:33:44:55:66:77"}]')[0]?.infinibandGuid, "c2:11:22:33:44:55:66:77");
  errorTable([
    ["6 bytes", '[{"name":"net-a","infiniband-guid":"02:00:00:aa:bb:cc"}]', /element 0 \("net-a"\): "infiniband-guid" "02:00:00:aa:bb:cc" is not an 8-byte GUID/],
    ["garbage", '[{"name":"net-a","infiniband-guid":"zz"}]', /"infiniband-guid" "zz" is not an 8-byte GUID/],
  ]);
});

test("NPWG-16 ipam-claim-reference is kept; together with ips it is an error", () => {
  assert.equal(parse('[{"name":"net-a","ipam-claim-reference":"claim-1"}]')[0]?.ipamClaimReference, "claim-1");
  assert.match(
    failure('[{"name":"net-a","ips":["10.0.0.5/24"],"ipam-claim-reference":"claim-1"}]').message,
    /element 0 \("net-a"\): sets both "ips" and "ipam-claim-reference"/,
  );
});

test("NPWG-17 a network selected twice gives two elements, in both forms", () => {
  assert.deepEqual(parse("net-a,net-a"), [
    { name: "net-a", namespace: POD_NS, element: 0 },
    { name: "net-a", namespace: POD_NS, element: 1 },
  ]);
  assert.deepEqual(
    parse('[{"name":"net-a"},{"name":"net-a","namespace":"team-a"}]').map((s) => `${s.element}:${s.namespace}/${s.name}`),
    ["0:team-a/net-a", "1:team-a/net-a"],
  );
});

test("NPWG-07 deviceID (Multus extension) is kept; empty optional strings mean absent", () => {
  assert.deepEqual(parse('[{"name":"net-a","deviceID":"0000:03:00.1","interface":"","mac":"","ipam-claim-reference":""}]'), [
    { name: "net-a", namespace: POD_NS, deviceId: "0000:03:00.1", element: 0 },
  ]);
});

test("NPWG-07 a full JSON element maps every key", () => {
  const value = JSON.stringify([
    {
      name: "sriov-net",
      namespace: "infra",
      interface: "data0",
      ips: ["10.56.217.171/24"],
      mac: "ca:fe:c0:ff:ee:00",
      "infiniband-guid": "c2:11:22:33:44:55:66:77",
      portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }],
      bandwidth: { ingressRate: 2048, ingressBurst: 1600, egressRate: 4096, egressBurst: 1600 },
      "cni-args": { foo: "bar" },
      "default-route": ["10.56.217.1"],
      deviceID: "0000:03:00.1",
    },
  ]);
  assert.deepEqual(parse(value), [
    {
      name: "sriov-net",
      namespace: "infra",
      interface: "data0",
      ips: ["10.56.217.171/24"],
      mac: "ca:fe:c0:ff:ee:00",
      infinibandGuid: "c2:11:22:33:44:55:66:77",
      portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "TCP" }],
      bandwidth: { ingressRate: 2048, ingressBurst: 1600, egressRate: 4096, egressBurst: 1600 },
      cniArgs: { foo: "bar" },
      defaultRoute: ["10.56.217.1"],
      deviceId: "0000:03:00.1",
      element: 0,
    },
  ]);
});

test("NPWG-05 the same parser serves v1.multus-cni.io/default-network; messages name that annotation", () => {
  const key = "v1.multus-cni.io/default-network";
  assert.deepEqual(parseSelectionAnnotation("calico", "kube-system", POD, key), [{ name: "calico", namespace: "kube-system", element: 0 }]);
  assert.throws(
    () => parseSelectionAnnotation("calico,", "kube-system", POD, key),
    (err: unknown) => err instanceof MultusError && err.message.startsWith(`pod ${POD}: ${key} element 1: is empty`),
  );
});
