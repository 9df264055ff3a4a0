// A PodResources v1 server (the kubelet's PodResourcesLister) for integration tests where no kubelet
// runs, served by grpc-js from ./proto/podresources.proto: so Multus's own hand-written gRPC client is
// checked against an independent implementation of the protocol. The e2e tests use the real kubelet's.
// Answers come from `pods`; `getDisabled` makes Get fail as a kubelet with KubeletPodResourcesGet off
// does; `calls` counts requests per method.
import * as grpc from "@grpc/grpc-js";
import { rmSync } from "node:fs";
import { bindUnix, loadProto, service } from "./device-plugin.ts";

export interface FakePodDevices {
  namespace: string;
  name: string;
  /** Per container: resource name → device IDs. */
  containers: Record<string, Record<string, string[]>>;
}

export class TestPodResourcesServer {
  readonly socket: string;
  readonly pods: FakePodDevices[] = [];
  readonly calls = { List: 0, Get: 0 };
  getDisabled = false;
  readonly #server = new grpc.Server();

  constructor(socket: string) {
    this.socket = socket;
  }

  #toProto(p: FakePodDevices): unknown {
    return {
      name: p.name,
      namespace: p.namespace,
      containers: Object.entries(p.containers).map(([name, devices]) => ({
        name,
        devices: Object.entries(devices).map(([resource_name, device_ids]) => ({ resource_name, device_ids })),
      })),
    };
  }

  async start(): Promise<void> {
    const pkg = loadProto("podresources.proto");
    this.#server.addService(service(pkg, "v1.PodResourcesLister").service, {
      List: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => {
        this.calls.List++;
        cb(null, { pod_resources: this.pods.map((p) => this.#toProto(p)) });
      },
      Get: (call: grpc.ServerUnaryCall<{ pod_name: string; pod_namespace: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        this.calls.Get++;
        if (this.getDisabled) {
          // What a kubelet with the KubeletPodResourcesGet gate off answers.
          cb({ code: grpc.status.UNKNOWN, details: "PodResources API Get method disabled" });
          return;
        }
        const pod = this.pods.find((p) => p.name === call.request.pod_name && p.namespace === call.request.pod_namespace);
        if (pod === undefined) {
          cb({ code: grpc.status.UNKNOWN, details: `pod ${call.request.pod_name} in namespace ${call.request.pod_namespace} not found` });
          return;
        }
        cb(null, { pod_resources: this.#toProto(pod) });
      },
    });
    rmSync(this.socket, { force: true });
    await bindUnix(this.#server, this.socket);
  }

  stop(): void {
    this.#server.forceShutdown();
    rmSync(this.socket, { force: true });
  }
}
