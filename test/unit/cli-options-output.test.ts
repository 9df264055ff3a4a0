// multusctl's shared parsing and rendering: global options anywhere on the line, usage errors, exit
// codes, and the three output formats.
import assert from "node:assert/strict";
import { test } from "node:test";
import { exitCodeFor, UsageError } from "../../src/cli/cli-error.ts";
import { extractGlobalOptions } from "../../src/cli/global-options.ts";
import { renderOutput, renderTable } from "../../src/cli/output.ts";
import { kubeconfigPath } from "../../src/cli/kube-access.ts";
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

test("kubeconfig: --kubeconfig, else the first existing file of $KUBECONFIG, else ~/.kube/config (none here)", () => {
  assert.equal(kubeconfigPath({ kubeconfig: "/given" }, { KUBECONFIG: "/etc/hostname" }, undefined), "/given");
  assert.equal(kubeconfigPath({}, { KUBECONFIG: "/nonexistent-a:/etc/hostname:/etc/passwd" }, undefined), "/etc/hostname");
  assert.equal(kubeconfigPath({}, { KUBECONFIG: "/nonexistent-a" }, "/nonexistent-home"), undefined);
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
