// One drift item of `multusctl diagnose`, pod or node: what differs, where, and the fix named.
// `kind` is stable (docs/multusctl.md lists every kind) so that scripts can match on it.

export type FindingKind =
  // pod: desired (annotations) vs recorded (journal) vs network-status vs actual (the netns)
  | "plan-failed"
  | "no-sandbox-record"
  | "network-not-attached"
  | "network-not-desired"
  | "attachment-incomplete"
  | "status-missing"
  | "status-differs"
  | "interface-missing"
  | "address-missing"
  | "lease-missing"
  | "device-info-missing"
  | "stale-sandbox"
  // node: records without a live sandbox, state without a record, locks
  | "orphan-journal"
  | "corrupt-journal"
  | "orphan-result-cache"
  | "orphan-lease"
  | "unrecorded-lease"
  | "stale-lock"
  | "orphaned-delegates"
  | "orphan-device-info"
  // node: what a killed `validate --canary` left (canary-leftovers.ts)
  | "canary-leftover";

/** What `--repair` does about a finding (none: a person has to). */
export type RepairAction =
  /** The engine's DEL of the container (its journal, else the record-less path), with the runtime's locks. */
  | { kind: "del"; containerId: string }
  /** GC's own clean-up under the node lock held exclusively: unused lock files, unowned device-info files. */
  | { kind: "gc-files" }
  /** Only with --force-leases: the lease file, under host-local's own lock. */
  | { kind: "lease"; path: string; containerId: string }
  /** A killed canary's records: its DEL through the engine from its journal, then its namespace and records removed. */
  | { kind: "canary"; records: string }
  /** A killed canary's network namespace with no records left. */
  | { kind: "canary-netns"; name: string };

export interface Finding {
  kind: FindingKind;
  /** The object: a network and interface, a container ID, a file. */
  subject: string;
  /** What differs, saying which source says what. */
  detail: string;
  /** The fix, named. */
  fix: string;
  repair?: RepairAction;
}

export interface RepairOutcome {
  action: string;
  ok: boolean;
  error?: string;
}
