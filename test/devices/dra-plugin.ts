// A DRA driver's kubelet plugin for tests, speaking the kubelet's real APIs: plugin registration
// (a socket in <root-dir>/plugins_registry answering GetInfo/NotifyRegistrationStatus) and the DRA
// gRPC service v1 (NodePrepareResources/NodeUnprepareResources) on <root-dir>/plugins/<driver>/
// dra.sock. It publishes one ResourceSlice for the node with the attributes Multus reads
// (k8s.cni.cncf.io/deviceID, k8s.cni.cncf.io/resourceName), so the real scheduler allocates claims
// from it and the real kubelet prepares them through it. Device names are DNS labels derived from
// the PCI address (a PCI address has ':' and '.', which a device name may not). Like the SR-IOV DRA
// driver in Multus mode, preparing a claim writes each device's device-info file (DI-02).
import * as grpc from "@grpc/grpc-js";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { devicePluginInfoPath } from "../../src/devices/paths.ts";
import { applyYaml, kubectl, tryKubectl } from "../cluster/harness.ts";
import { bindUnix, loadProto, service } from "./device-plugin.ts";

export interface DraPluginOptions {
  /** The kubelet's --root-dir. */
  kubeletRootDir: string;
  driver: string;
  nodeName: string;
  /** Devices by PCI address, each with the resourceName attribute it carries. */
  devices: { pci: string; resourceName: string }[];
  deviceInfoDir: string;
}

interface ClaimRef {
  namespace: string;
  uid: string;
  name: string;
}

export function deviceName(pci: string): string {
  return `vf-${pci.replace(/[:.]/g, "-")}`;
}

export class TestDraPlugin {
  readonly #o: DraPluginOptions;
  readonly #registration = new grpc.Server();
  readonly #dra = new grpc.Server();
  readonly #regSocket: string;
  readonly #draSocket: string;
  readonly #sliceName: string;
  /** Claim UIDs prepared and not yet unprepared. */
  readonly prepared = new Map<string, string[]>();
  registered = false;

  constructor(o: DraPluginOptions) {
    this.#o = o;
    this.#regSocket = join(o.kubeletRootDir, "plugins_registry", `${o.driver}-reg.sock`);
    this.#draSocket = join(o.kubeletRootDir, "plugins", o.driver, "dra.sock");
    this.#sliceName = `${o.nodeName}-${o.driver}`;
  }

  async start(): Promise<void> {
    const reg = loadProto("pluginregistration.proto");
    this.#registration.addService(service(reg, "pluginregistration.Registration").service, {
      GetInfo: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => {
        // The string the kubelet matches is "v1.DRAPlugin", not the proto's full service name.
        cb(null, { type: "DRAPlugin", name: this.#o.driver, endpoint: this.#draSocket, supported_versions: ["v1.DRAPlugin"] });
      },
      NotifyRegistrationStatus: (call: grpc.ServerUnaryCall<{ plugin_registered: boolean; error: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        this.registered = call.request.plugin_registered;
        if (!call.request.plugin_registered) {
          cb({ code: grpc.status.INTERNAL, details: `registration failed: ${call.request.error}` });
          return;
        }
        cb(null, {});
      },
    });
    const dra = loadProto("dra.proto");
    this.#dra.addService(service(dra, "k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin").service, {
      NodePrepareResources: (call: grpc.ServerUnaryCall<{ claims: ClaimRef[] }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        this.#prepare(call.request.claims).then(
          (claims) => {
            cb(null, { claims });
          },
          (err: unknown) => {
            cb({ code: grpc.status.INTERNAL, details: (err as Error).message });
          },
        );
      },
      NodeUnprepareResources: (call: grpc.ServerUnaryCall<{ claims: ClaimRef[] }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        const claims: Record<string, { error: string }> = {};
        for (const c of call.request.claims) {
          for (const pci of this.prepared.get(c.uid) ?? []) rmSync(this.#infoFile(pci), { force: true });
          this.prepared.delete(c.uid);
          claims[c.uid] = { error: "" };
        }
        cb(null, { claims });
      },
    });
    mkdirSync(join(this.#draSocket, ".."), { recursive: true });
    rmSync(this.#draSocket, { force: true });
    rmSync(this.#regSocket, { force: true });
    await bindUnix(this.#dra, this.#draSocket);
    // The kubelet's plugin watcher picks the registration socket up once it exists.
    await bindUnix(this.#registration, this.#regSocket);
    await this.publishSlice();
  }

  #infoFile(pci: string): string {
    const d = this.#o.devices.find((x) => x.pci === pci);
    return devicePluginInfoPath(this.#o.deviceInfoDir, d?.resourceName ?? this.#o.driver, pci);
  }

  async #prepare(claims: ClaimRef[]): Promise<Record<string, { devices: unknown[]; error: string }>> {
    const out: Record<string, { devices: unknown[]; error: string }> = {};
    for (const c of claims) {
      const claim = JSON.parse(await kubectl(["get", "resourceclaim", c.name, "-n", c.namespace, "-o", "json"])) as {
        metadata: { uid: string };
        status?: { allocation?: { devices?: { results?: { request: string; driver: string; pool: string; device: string }[] } } };
      };
      if (claim.metadata.uid !== c.uid) {
        out[c.uid] = { devices: [], error: `claim ${c.namespace}/${c.name} was replaced (UID ${claim.metadata.uid}, not ${c.uid})` };
        continue;
      }
      const results = (claim.status?.allocation?.devices?.results ?? []).filter((r) => r.driver === this.#o.driver);
      const pcis: string[] = [];
      for (const r of results) {
        const d = this.#o.devices.find((x) => deviceName(x.pci) === r.device);
        if (d === undefined) continue;
        pcis.push(d.pci);
        const file = this.#infoFile(d.pci);
        mkdirSync(join(file, ".."), { recursive: true });
        writeFileSync(file, JSON.stringify({ type: "pci", version: "1.1.0", pci: { "pci-address": d.pci } }));
      }
      this.prepared.set(c.uid, pcis);
      out[c.uid] = { devices: results.map((r) => ({ request_names: [r.request], pool_name: r.pool, device_name: r.device, cdi_device_ids: [] })), error: "" };
    }
    return out;
  }

  /** The node's slice (the kubelet wipes a node's slices when it starts: publish after registering). */
  async publishSlice(): Promise<void> {
    await applyYaml(
      JSON.stringify({
        apiVersion: "resource.k8s.io/v1",
        kind: "ResourceSlice",
        metadata: { name: this.#sliceName },
        spec: {
          driver: this.#o.driver,
          nodeName: this.#o.nodeName,
          pool: { name: this.#o.nodeName, generation: 1, resourceSliceCount: 1 },
          devices: this.#o.devices.map((d) => ({
            name: deviceName(d.pci),
            attributes: {
              "k8s.cni.cncf.io/deviceID": { string: d.pci },
              "k8s.cni.cncf.io/resourceName": { string: d.resourceName },
            },
          })),
        },
      }),
    );
  }

  async stop(): Promise<void> {
    this.#registration.forceShutdown();
    this.#dra.forceShutdown();
    rmSync(this.#regSocket, { force: true });
    rmSync(this.#draSocket, { force: true });
    await tryKubectl(["delete", "resourceslice", this.#sliceName, "--ignore-not-found"]);
    for (const d of this.#o.devices) rmSync(this.#infoFile(d.pci), { force: true });
  }
}
