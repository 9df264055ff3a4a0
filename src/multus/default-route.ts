// The `default-route` selection key: after every attachment is up, the pod's default route per address
// family goes through the requested gateway on that attachment's interface, and every other default
// route of that family is removed — any /0 counts, whichever plugin made it (upstream multus#1444).
// Families the request does not cover are left alone (upstream strips them too, multus#1011).
import { hostCommand } from "../cni/exec-plugin.ts";
import { execFileWithDeadline } from "../util/exec-file.ts";
import { MultusError } from "../util/multus-error.ts";
import { ipFamily } from "../cni/ip-family.ts";

export interface DefaultRouteRequest {
  netns: string;
  ifName: string;
  network: string;
  /** At most one per family (validated when planning). */
  gateways: string[];
}

interface IpRoute {
  dst?: string;
  gateway?: string;
  dev?: string;
  table?: string;
}

const TIMEOUT_MS = 10_000;

export async function applyDefaultRoute(req: DefaultRouteRequest): Promise<void> {
  for (const family of [4, 6] as const) {
    const gw = req.gateways.find((g) => ipFamily(g) === family);
    if (gw === undefined) continue;
    try {
      for (const r of await defaultRoutes(req.netns, family)) {
        if (r.dev === req.ifName && r.gateway === gw) continue;
        const del = ["route", "del", "default"];
        if (r.gateway !== undefined) del.push("via", r.gateway);
        if (r.dev !== undefined) del.push("dev", r.dev);
        await ip(req.netns, family, del);
      }
      await ip(req.netns, family, ["route", "replace", "default", "via", gw, "dev", req.ifName]);
    } catch (err) {
      throw new MultusError(
        "MULTUS_ERR_DEFAULT_ROUTE",
        `network "${req.network}": cannot make ${gw} on ${req.ifName} the default route: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }
}

/** Every route to a /0 in the main table, however `ip` spells it. */
async function defaultRoutes(netns: string, family: 4 | 6): Promise<IpRoute[]> {
  const { stdout } = await ip(netns, family, ["-json", "route", "show", "table", "main"]);
  const rows: unknown = JSON.parse(stdout === "" ? "[]" : stdout);
  if (!Array.isArray(rows)) return [];
  return rows
    .filter((r): r is Record<string, unknown> => typeof r === "object" && r !== null)
    .map((r) => ({
      ...(typeof r["dst"] === "string" ? { dst: r["dst"] } : {}),
      ...(typeof r["gateway"] === "string" ? { gateway: r["gateway"] } : {}),
      ...(typeof r["dev"] === "string" ? { dev: r["dev"] } : {}),
    }))
    .filter((r) => r.dst === "default" || r.dst === "0.0.0.0/0" || r.dst === "::/0");
}

/** `ip` inside the pod's namespace: Node cannot setns, nsenter can (and takes any netns path). */
function ip(netns: string, family: 4 | 6, args: string[]): Promise<{ stdout: string }> {
  // In the daemon's container (chrootDir) these are the host's nsenter and ip, as for the plugins.
  const [file, argv] = hostCommand("nsenter", [`--net=${netns}`, "ip", `-${String(family)}`, ...args]);
  return execFileWithDeadline(file, argv, { timeoutMs: TIMEOUT_MS });
}
