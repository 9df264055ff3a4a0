// The one object test every decoder uses: a JSON object (not null, not an array). Lives in src/cni/
// because that layer may import only node:* and itself, and every other layer may import it.
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
