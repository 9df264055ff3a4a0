// Drift check between the Helm chart (deploy/helm/multus-ts) and the kustomize bases it mirrors:
// for every mode, `helm template` with the default values must render the very objects that
// `kubectl kustomize` renders, field for field. Both renders are offline; no control plane is used.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { isDeepStrictEqual } from "node:util";
import * as v from "valibot";
import { parseAllDocuments } from "yaml";
import { helmBinary } from "../helpers/helm-build.ts";

const repoRoot = join(import.meta.dirname, "..", "..");
const chartDir = join(repoRoot, "deploy", "helm", "multus-ts");
const commandTimeoutMs = 60_000;

// The kustomize dir each chart mode stands for.
const modes = [
  { mode: "thick", kustomizeDir: "deploy/thick" },
  { mode: "thin", kustomizeDir: "deploy/thin" },
  { mode: "moved-config", kustomizeDir: "deploy/moved-config" },
] as const;

/** Runs a command without a shell; rejects with its stderr, so a failed render says why. */
function run(cmd: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: repoRoot, encoding: "utf8", maxBuffer: 16 * 1024 * 1024, signal: AbortSignal.timeout(commandTimeoutMs) }, (err, stdout, stderr) => {
      if (err === null) resolve(stdout);
      else reject(new Error(`${cmd} ${args.join(" ")} failed (${err.message}):\n${stderr}`));
    });
  });
}

const objectSchema = v.looseObject({
  apiVersion: v.string(),
  kind: v.string(),
  metadata: v.looseObject({ name: v.string(), namespace: v.optional(v.string()) }),
});

// Only what the image test reads of a workload; the other objects have no pod template.
const podTemplateSchema = v.looseObject({
  spec: v.optional(
    v.looseObject({
      template: v.optional(
        v.looseObject({
          spec: v.looseObject({
            initContainers: v.optional(v.array(v.looseObject({ image: v.string() }))),
            containers: v.array(v.looseObject({ image: v.string() })),
          }),
        }),
      ),
    }),
  ),
});

/** The objects of a multi-document YAML stream, keyed apiVersion/kind/namespace/name. */
function parseObjects(text: string, source: string): Map<string, unknown> {
  const objects = new Map<string, unknown>();
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${source}: invalid YAML: ${doc.errors.map((e) => e.message).join("; ")}`);
    const value: unknown = doc.toJS();
    // Comment-only documents (a template that renders nothing for this mode) parse as null.
    if (value === null || value === undefined) continue;
    const object = v.parse(objectSchema, value);
    const key = `${object.apiVersion}/${object.kind}/${object.metadata.namespace ?? ""}/${object.metadata.name}`;
    assert.ok(!objects.has(key), `${source} renders ${key} twice`);
    objects.set(key, value);
  }
  return objects;
}

interface Difference {
  path: string;
  helm: unknown;
  kustomize: unknown;
}

function childPath(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Every leaf where the two differ, in document order (a missing side is `undefined`). */
function differences(helm: unknown, kustomize: unknown, path = ""): Difference[] {
  if (Array.isArray(helm) && Array.isArray(kustomize)) {
    const length = Math.max(helm.length, kustomize.length);
    return Array.from({ length }, (_, i) => differences(helm[i], kustomize[i], childPath(path, i))).flat();
  }
  if (isRecord(helm) && isRecord(kustomize)) {
    const keys = [...new Set([...Object.keys(helm), ...Object.keys(kustomize)])];
    return keys.flatMap((k) => differences(helm[k], kustomize[k], childPath(path, k)));
  }
  return isDeepStrictEqual(helm, kustomize) ? [] : [{ path: path === "" ? "(the whole object)" : path, helm, kustomize }];
}

function show(value: unknown): string {
  return value === undefined ? "nothing" : JSON.stringify(value);
}

function describeDifference(key: string, d: Difference): string {
  const where = `${key}: first difference at ${d.path}`;
  // Embedded files (the daemon config's JSON) differ in a line or two: name the first one.
  if (typeof d.helm === "string" && typeof d.kustomize === "string" && (d.helm.includes("\n") || d.kustomize.includes("\n"))) {
    const helmLines = d.helm.split("\n");
    const kustomizeLines = d.kustomize.split("\n");
    const line = helmLines.findIndex((l, i) => l !== kustomizeLines[i]);
    const n = line === -1 ? helmLines.length : line;
    return `${where}, line ${n + 1}: helm has ${show(helmLines[n])}, kustomize has ${show(kustomizeLines[n])}`;
  }
  return `${where}: helm has ${show(d.helm)}, kustomize has ${show(d.kustomize)}`;
}

/** Fails naming the objects only one side has, or the first differing path of the first unequal object. */
function assertSameObjects(helm: Map<string, unknown>, kustomize: Map<string, unknown>): void {
  const onlyHelm = [...helm.keys()].filter((k) => !kustomize.has(k));
  const onlyKustomize = [...kustomize.keys()].filter((k) => !helm.has(k));
  assert.deepEqual({ onlyHelm, onlyKustomize }, { onlyHelm: [], onlyKustomize: [] }, "helm and kustomize render different sets of objects");
  for (const [key, object] of kustomize) {
    const first = differences(helm.get(key), object)[0];
    if (first !== undefined) assert.fail(describeDifference(key, first));
  }
}

let helm = "";
const kustomizeRenders = new Map<string, Promise<Map<string, unknown>>>();

function renderKustomize(dir: string): Promise<Map<string, unknown>> {
  let render = kustomizeRenders.get(dir);
  if (render === undefined) {
    render = run("kubectl", ["kustomize", dir]).then((out) => parseObjects(out, `kubectl kustomize ${dir}`));
    kustomizeRenders.set(dir, render);
  }
  return render;
}

async function renderHelm(set: readonly string[]): Promise<Map<string, unknown>> {
  const args = ["template", "multus", chartDir, "--namespace", "kube-system", "--include-crds", ...set.flatMap((s) => ["--set", s])];
  return parseObjects(await run(helm, args), `helm ${args.join(" ")}`);
}

describe("Helm chart deploy/helm/multus-ts against the kustomize bases", () => {
  before(async () => {
    helm = await helmBinary();
  });

  test("helm lint --strict accepts the chart", async () => {
    const out = await run(helm, ["lint", "--strict", chartDir]);
    assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  test("the chart's crds/ file is a byte-for-byte copy of deploy/crd/network-attachment-definition.yaml", async () => {
    const [chartCrd, kustomizeCrd] = await Promise.all([
      readFile(join(chartDir, "crds", "network-attachment-definition.yaml")),
      readFile(join(repoRoot, "deploy", "crd", "network-attachment-definition.yaml")),
    ]);
    assert.ok(chartCrd.equals(kustomizeCrd), "deploy/helm/multus-ts/crds/network-attachment-definition.yaml differs from deploy/crd/: copy the file again");
  });

  for (const { mode, kustomizeDir } of modes) {
    test(`helm template --set mode=${mode} renders exactly the objects of kubectl kustomize ${kustomizeDir}`, async () => {
      const [helmObjects, kustomizeObjects] = await Promise.all([renderHelm([`mode=${mode}`]), renderKustomize(kustomizeDir)]);
      assertSameObjects(helmObjects, kustomizeObjects);
    });
  }

  test("helm template --set legacyNetworks=true renders exactly the objects of kubectl kustomize deploy/legacy", async () => {
    const [helmObjects, kustomizeObjects] = await Promise.all([renderHelm(["legacyNetworks=true"]), renderKustomize("deploy/legacy")]);
    assertSameObjects(helmObjects, kustomizeObjects);
  });

  for (const { set, dir } of [
    { set: ["webhook.enabled=true"], dir: "deploy/webhook" },
    { set: ["webhook.enabled=true", "webhook.certManager.enabled=true"], dir: "deploy/webhook/cert-manager" },
  ]) {
    test(`helm template --set ${set.join(",")} renders the objects of deploy/thick and ${dir} together`, async () => {
      const [helmObjects, thick, webhook] = await Promise.all([renderHelm(set), renderKustomize("deploy/thick"), renderKustomize(dir)]);
      assertSameObjects(helmObjects, new Map([...thick, ...webhook]));
    });
  }

  test("helm template without --set renders thick mode, the kustomize default install", async () => {
    const [helmObjects, kustomizeObjects] = await Promise.all([renderHelm([]), renderKustomize("deploy/thick")]);
    assertSameObjects(helmObjects, kustomizeObjects);
  });

  for (const { mode, kustomizeDir } of modes) {
    test(`with --set image.tag=1.2.3 in ${mode} mode, the render differs from kustomize in every container image and nowhere else`, async () => {
      // The drift check must be able to see a difference: exactly the image fields move, all of them.
      const [helmObjects, kustomizeObjects] = await Promise.all([renderHelm([`mode=${mode}`, "image.tag=1.2.3"]), renderKustomize(kustomizeDir)]);
      assert.deepEqual([...helmObjects.keys()].sort(), [...kustomizeObjects.keys()].sort());
      const expected: Difference[] = [];
      const found: Difference[] = [];
      for (const [key, object] of kustomizeObjects) {
        found.push(...differences(helmObjects.get(key), object).map((d) => ({ ...d, path: `${key}: ${d.path}` })));
        const spec = v.parse(podTemplateSchema, object).spec?.template?.spec;
        for (const kind of ["initContainers", "containers"] as const) {
          (spec?.[kind] ?? []).forEach((container, i) => {
            expected.push({ path: `${key}: .spec.template.spec.${kind}[${i}].image`, helm: "ghcr.io/multus-ts/multus-ts:1.2.3", kustomize: container.image });
          });
        }
      }
      assert.ok(expected.length >= 2, `kustomize ${kustomizeDir} renders fewer containers than expected: ${JSON.stringify(expected)}`);
      // One line per difference, so that a failure's diff reads as a list of paths.
      const lines = (ds: Difference[]): string[] => ds.map((d) => `${d.path}: helm has ${show(d.helm)}, kustomize has ${show(d.kustomize)}`);
      assert.deepEqual(lines(found), lines(expected));
    });
  }
});
