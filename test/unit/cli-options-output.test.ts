// multusctl's shared parsing and rendering: global options anywhere on the line, usage errors, exit
// codes, and the three output formats.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { exitCodeFor, UsageError } from "../../src/cli/cli-error.ts";
import { extractGlobalOptions } from "../../src/cli/global-options.ts";
import { renderOutput, renderTable } from "../../src/cli/output.ts";
import { kubeconfigPaths } from "../../src/cli/kube-access.ts";
import { loadKubeconfigs } from "../../src/k8s/client-config.ts";
import { MultusError } from "../../src/util/multus-error.ts";

test("global options are taken out wherever they are; the verb's own flags and arguments stay in order", () => {
  const { globals, rest } = extractGlobalOptions(["-n", "ns1", "validate", "nad", "x", "--output=json", "-f", "file.yaml", "--canary", "--kubeconfig", "/k"]);
  assert.deepEqual(globals, { output: "json", namespace: "ns1", kubeconfig: "/k" });
  assert.deepEqual(rest, ["validate", "nad", "x", "-f", "file.yaml", "--canary"]);
  assert.deepEqual(extractGlobalOptions(["plan", "--", "-n"]).rest, ["plan", "--", "-n"], "after -- nothing is an option");
});

test("usage errors: a global option without a value, a grouped one, an unknown output format", () => {
  assert.throws(() => extractGlobalOptions(["validate", "-n"]), UsageError);
  assert.throws(() => extractGlobalOptions(["validate", "-n", "--canary"]), /-n needs a value/);
  assert.throws(() => extractGlobalOptions(["validate", "all", "-An", "x"]), /grouped/);
  assert.throws(() => extractGlobalOptions(["-o", "xml", "plan"]), /--output must be one of table, json, yaml/);
});

test("exit codes: usage 2, API or config unavailable 3, any other catalogue error 1, anything else 4", () => {
  assert.equal(exitCodeFor(new UsageError("x")), 2);
  assert.equal(exitCodeFor(new MultusError("MULTUS_ERR_API", "x")), 3);
  assert.equal(exitCodeFor(new MultusError("MULTUS_ERR_CONFIG", "x")), 3);
  assert.equal(exitCodeFor(new MultusError("MULTUS_ERR_NAD_NOT_FOUND", "x")), 1);
  assert.equal(exitCodeFor(new TypeError("bug")), 4);
});

test("kubeconfig: --kubeconfig, else $KUBECONFIG's list (when a file of it exists), else ~/.kube/config (none here)", () => {
  assert.deepEqual(kubeconfigPaths({ kubeconfig: "/given" }, { KUBECONFIG: "/etc/hostname" }, undefined), ["/given"]);
  assert.deepEqual(kubeconfigPaths({}, { KUBECONFIG: "/nonexistent-a:/etc/hostname:/etc/passwd" }, undefined), ["/nonexistent-a", "/etc/hostname", "/etc/passwd"]);
  assert.equal(kubeconfigPaths({}, { KUBECONFIG: "/nonexistent-a" }, "/nonexistent-home"), undefined);
});

test("kubeconfig: a $KUBECONFIG list is merged as kubectl merges it — first file naming an entry wins, first current-context, missing files skipped, relative paths against each entry's own file", async () => {
  const dir = await mkdtemp(join(tmpdir(), "mctl-kubeconfig-"));
  try {
    await mkdir(join(dir, "a"));
    await mkdir(join(dir, "b"));
    await writeFile(join(dir, "b", "ca.pem"), "CA OF B\n");
    await writeFile(join(dir, "b", "token"), "token-of-b\n");
    // a: the current context and its context entry; a "prod" cluster that b also names (a's wins).
    await writeFile(join(dir, "a", "config"), JSON.stringify({
      "current-context": "work",
      contexts: [{ name: "work", context: { cluster: "prod", user: "me", namespace: "team-a" } }],
      clusters: [{ name: "prod", cluster: { server: "https://a.example:6443", "certificate-authority": "ca.pem" } }],
    }));
    // b (YAML): current-context ignored (a set one), its own "prod" ignored, the user with relative paths.
    await writeFile(join(dir, "b", "config"), [
      "current-context: other",
      "clusters: [{name: prod, cluster: {server: 'https://b.example:6443'}}, {name: other, cluster: {server: 'https://other.example', certificate-authority: ca.pem}}]",
      "users: [{name: me, user: {tokenFile: token}}]",
      "contexts: [{name: other, context: {cluster: other, user: me}}]",
    ].join("\n"));
    await writeFile(join(dir, "a", "ca.pem"), "CA OF A\n");
    const list = [join(dir, "missing"), join(dir, "a", "config"), join(dir, "b", "config")];
    const merged = await loadKubeconfigs(list);
    assert.equal(merged.server.href, "https://a.example:6443/", "a's cluster of the name wins");
    assert.equal(merged.ca?.toString(), "CA OF A\n", "a's relative CA against a's directory");
    assert.equal(merged.tokenFile, join(dir, "b", "token"), "b's user, its relative tokenFile against b's directory");
    assert.equal(merged.token, "token-of-b");
    assert.equal(merged.namespace, "team-a");
    const other = await loadKubeconfigs(list, { context: "other" });
    assert.equal(other.server.href, "https://other.example/");
    assert.equal(other.ca?.toString(), "CA OF B\n");
    await assert.rejects(loadKubeconfigs([join(dir, "missing")]), /cannot read it/);
    await assert.rejects(loadKubeconfigs([join(dir, "missing"), join(dir, "missing2")]), /none of the files of the list exists/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("output: a table pads columns (not the last), upper-cases headers; json and yaml carry the same object", async () => {
  const table = { headers: ["name", "severity", "message"], rows: [["a", "fatal", "line\none"], ["longer-name", "ok", ""]] };
  assert.equal(renderTable(table), "NAME         SEVERITY  MESSAGE\na            fatal     line one\nlonger-name  ok\n");
  const value = { networks: [{ name: "a", findings: [] }] };
  assert.deepEqual(JSON.parse(await renderOutput("json", value, () => table)), value);
  const yaml = await import("yaml");
  assert.deepEqual(yaml.parse(await renderOutput("yaml", value, () => table)), value);
  assert.equal(await renderOutput("table", value, () => table), renderTable(table));
});
