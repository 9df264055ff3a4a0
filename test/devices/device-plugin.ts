// A device plugin for tests that speaks the kubelet's real device plugin API (v1beta1, gRPC over unix
// sockets): it serves DevicePlugin on its own socket in the kubelet's device-plugins directory, then
// calls the kubelet's Registration.Register, so the real kubelet advertises the resource in the
// node's allocatable, allocates devices to pods, writes its checkpoint and answers PodResources.
// What is not real: the devices. Their IDs are PCI addresses of a fake sysfs tree (fake-sysfs.ts),
// since this machine has no SR-IOV. Like sriov-network-device-plugin, Allocate writes each device's
// device-info file (DI-02) and sets PCIDEVICE_<resource> in the container.
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { devicePluginInfoPath } from "../../src/devices/paths.ts";

const protoDir = fileURLToPath(new URL("./proto/", import.meta.url));

/** Loads one of ./proto's files as a grpc-js package object. */
export function loadProto(file: string): grpc.GrpcObject {
  const definition = protoLoader.loadSync(join(protoDir, file), { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  return grpc.loadPackageDefinition(definition);
}

type ServiceCtor = grpc.ServiceClientConstructor & { service: grpc.ServiceDefinition };

export function service(pkg: grpc.GrpcObject, path: string): ServiceCtor {
  let node: unknown = pkg;
  for (const part of path.split(".")) node = (node as Record<string, unknown>)[part];
  if (typeof node !== "function") throw new Error(`no service ${path} in the proto package`);
  return node as ServiceCtor;
}

export function bindUnix(server: grpc.Server, socket: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) => {
      if (err === null) resolve();
      else reject(err);
    });
  });
}

export interface DevicePluginOptions {
  /** The kubelet's device-plugins directory (<root-dir>/device-plugins). */
  pluginDir: string;
  /** An extended resource name, e.g. intel.com/sriov_netdevice. */
  resourceName: string;
  /** Device IDs (PCI addresses). */
  devices: string[];
  /** Where Allocate writes device-info files (the device-info spec's directory). */
  deviceInfoDir: string;
}

export class TestDevicePlugin {
  readonly #o: DevicePluginOptions;
  readonly #socket: string;
  readonly #server = new grpc.Server();
  readonly #streams = new Set<grpc.ServerWritableStream<unknown, unknown>>();
  /** Device IDs the kubelet asked us to allocate, per call. */
  readonly allocations: string[][] = [];

  constructor(o: DevicePluginOptions) {
    this.#o = o;
    this.#socket = join(o.pluginDir, `mt-${o.resourceName.replaceAll("/", "_")}.sock`);
  }

  async start(): Promise<void> {
    const pkg = loadProto("deviceplugin.proto");
    const devices = this.#o.devices.map((id) => ({ ID: id, health: "Healthy" }));
    this.#server.addService(service(pkg, "v1beta1.DevicePlugin").service, {
      GetDevicePluginOptions: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => {
        cb(null, { pre_start_required: false, get_preferred_allocation_available: false });
      },
      // Stays open: the kubelet marks the resource unhealthy when it ends.
      ListAndWatch: (call: grpc.ServerWritableStream<unknown, unknown>) => {
        this.#streams.add(call);
        call.write({ devices });
        call.on("cancelled", () => this.#streams.delete(call));
      },
      Allocate: (call: grpc.ServerUnaryCall<{ container_requests: { devices_ids: string[] }[] }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        const responses = call.request.container_requests.map((r) => {
          this.allocations.push(r.devices_ids);
          for (const id of r.devices_ids) this.#writeDeviceInfo(id);
          const env = `PCIDEVICE_${this.#o.resourceName.replace(/[./]/g, "_").toUpperCase()}`;
          return { envs: { [env]: r.devices_ids.join(",") } };
        });
        cb(null, { container_responses: responses });
      },
      GetPreferredAllocation: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => {
        cb(null, { container_responses: [] });
      },
      PreStartContainer: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => {
        cb(null, {});
      },
    });
    rmSync(this.#socket, { force: true });
    await bindUnix(this.#server, this.#socket);
    // The kubelet dials our socket before it answers Register, so we serve first.
    const Registration = service(pkg, "v1beta1.Registration");
    const client = new Registration(`unix://${join(this.#o.pluginDir, "kubelet.sock")}`, grpc.credentials.createInsecure());
    try {
      await new Promise<void>((resolve, reject) => {
        const register = (client as unknown as { Register: UnaryMethod<RegisterArgs> }).Register.bind(client);
        register(
          { version: "v1beta1", endpoint: this.#socket.slice(this.#o.pluginDir.length + 1), resource_name: this.#o.resourceName },
          { deadline: Date.now() + 15_000 },
          (err) => {
            if (err === null) resolve();
            else reject(new Error(`Register ${this.#o.resourceName} with the kubelet: ${err.message}`));
          },
        );
      });
    } finally {
      client.close();
    }
  }

  #writeDeviceInfo(id: string): void {
    const file = devicePluginInfoPath(this.#o.deviceInfoDir, this.#o.resourceName, id);
    mkdirSync(join(file, ".."), { recursive: true });
    writeFileSync(file, JSON.stringify({ type: "pci", version: "1.1.0", pci: { "pci-address": id } }));
  }

  /** The device-info files Allocate wrote. */
  deviceInfoFiles(): string[] {
    return this.#o.devices.map((id) => devicePluginInfoPath(this.#o.deviceInfoDir, this.#o.resourceName, id));
  }

  async stop(): Promise<void> {
    for (const s of this.#streams) s.end();
    await new Promise<void>((resolve) => {
      this.#server.tryShutdown(() => {
        resolve();
      });
      setTimeout(() => {
        this.#server.forceShutdown();
        resolve();
      }, 2000).unref();
    });
    rmSync(this.#socket, { force: true });
    for (const f of this.deviceInfoFiles()) rmSync(f, { force: true });
  }
}

/** A unary method of a grpc-js client loaded from a .proto (untyped by proto-loader). */
export type UnaryMethod<Req, Res = unknown> = (request: Req, options: grpc.CallOptions, callback: (err: grpc.ServiceError | null, response?: Res) => void) => void;

interface RegisterArgs {
  version: string;
  endpoint: string;
  resource_name: string;
}

