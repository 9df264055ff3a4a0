// The logger's two formats: our JSON line, and upstream Multus's text line (`<RFC 3339> [<level>]
// <message>`, time in Go's time.RFC3339: seconds and Z), with the pod as a [namespace/name] prefix.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createLogger, parseLogFormat, parseLogLevel } from "../../src/util/logger.ts";

function capture(format: "json" | "text" | undefined, level: "debug" | "verbose" | "error" = "verbose"): { lines: string[]; log: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  const log = createLogger({ level, component: "multus", stderr: (l) => lines.push(l), ...(format === undefined ? {} : { format }) });
  return { lines, log };
}

test("text: upstream's line — RFC 3339 seconds in UTC, [level] as upstream names it, [pod] prefix, fields as key=value, secrets redacted", () => {
  const { lines, log } = capture("text", "debug");
  log.info({ pod: "team-a/web-0", network: "team-a/bridge-net", ifName: "net1" }, "added interface");
  log.warn({ error: "two words", token: "abc" }, "something odd");
  log.debug({}, "detail");
  assert.match(lines[0] ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \[verbose\] \[team-a\/web-0\] added interface network=team-a\/bridge-net ifName=net1\n$/);
  assert.match(lines[1] ?? "", /^\S+ \[warning\] something odd error="two words" token=\[redacted\]\n$/);
  assert.match(lines[2] ?? "", /^\S+ \[debug\] detail\n$/);
});

test("text: a message or field with a newline stays one line", () => {
  const { lines, log } = capture("text");
  log.error({ detail: "a\nb" }, "x\ny");
  assert.equal(lines.length, 1);
  assert.equal((lines[0] ?? "").split("\n").length, 2, "only the line's own end");
});

test("json stays the default; levels filter in both formats; the config's words in any case", () => {
  const { lines, log } = capture(undefined, "error");
  log.info({}, "hidden");
  log.error({ pod: "a/b" }, "shown");
  assert.equal(lines.length, 1);
  assert.deepEqual(Object.keys(JSON.parse(lines[0] ?? "{}") as object), ["time", "level", "component", "msg", "pod"]);
  assert.equal(parseLogFormat("Text"), "text");
  assert.equal(parseLogFormat(undefined), "json");
  assert.equal(parseLogLevel("Verbose", "error"), "verbose");
  assert.equal(parseLogLevel("info", "error"), "error");
});
