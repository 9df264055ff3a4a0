// Structured logs for the short-lived executables: one JSON object per line, constant messages,
// fields for the variable parts. Levels follow upstream Multus (debug, verbose, error, panic).
// `format: "text"` writes upstream Multus's line instead — `<RFC 3339 time> [<level>] <message>` —
// with the pod (a `pod` field) as a `[namespace/name]` prefix of the message and the other fields
// as key=value after it, for log pipelines that parse upstream's lines.
import { RotatingLogFile, type LogRotationOptions } from "./log-file.ts";

export type LogLevel = "debug" | "verbose" | "error" | "panic";
const RANK: Record<LogLevel, number> = { debug: 0, verbose: 1, error: 2, panic: 3 };

/** pino's calling convention (fields first), so the daemon can pass a pino logger where this is taken. */
export interface Logger {
  debug(fields: Record<string, unknown>, msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

export interface LoggerOptions {
  level: LogLevel;
  /** Where lines go besides the file; the thin plugin's stderr reaches the runtime's log. */
  stderr?: ((line: string) => void) | undefined;
  file?: string | undefined;
  /** Rotation of `file` (upstream's lumberjack defaults when absent). */
  rotation?: LogRotationOptions;
  component: string;
  /** "json" (default) or upstream's "text" line. */
  format?: LogFormat;
}

export type LogFormat = "json" | "text";

const DEFAULT_ROTATION: LogRotationOptions = { maxSizeMb: 100, maxBackups: 5, maxAgeDays: 5, compress: true };

/** Keys whose values never reach a log line. */
const SECRET = /token|password|secret|key$/i;

export function createLogger(opts: LoggerOptions): Logger {
  const min = RANK[opts.level];
  const file = opts.file === undefined ? undefined : new RotatingLogFile(opts.file, opts.rotation ?? DEFAULT_ROTATION);
  const emit = (level: LogLevel, label: string, fields: Record<string, unknown>, msg: string): void => {
    if (RANK[level] < min) return;
    const line = opts.format === "text" ? textLine(label, msg, redact(fields)) : JSON.stringify({ time: new Date().toISOString(), level: label, component: opts.component, msg, ...redact(fields) }) + "\n";
    opts.stderr?.(line);
    file?.write(line);
  };
  return {
    debug: (f, m) => { emit("debug", "debug", f, m); },
    info: (f, m) => { emit("verbose", "info", f, m); },
    warn: (f, m) => { emit("error", "warn", f, m); },
    error: (f, m) => { emit("error", "error", f, m); },
  };
}

/** Upstream's level words for ours (its Warningf lines say "warning"). */
const TEXT_LEVEL: Readonly<Record<string, string>> = { debug: "debug", info: "verbose", warn: "warning", error: "error" };

function textLine(label: string, msg: string, fields: Record<string, unknown>): string {
  // Go's time.RFC3339 in UTC: seconds, no fraction.
  const time = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const { pod, ...rest } = fields;
  const prefix = typeof pod === "string" && pod !== "" ? `[${pod}] ` : "";
  const kv = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === "string" && !/[\s"=]/.test(v) ? v : JSON.stringify(v)}`);
  return `${time} [${TEXT_LEVEL[label] ?? label}] ${prefix}${msg}${kv.length === 0 ? "" : ` ${kv.join(" ")}`}\n`.replace(/\n(?!$)/g, "\\n");
}

/** The format a config names ("text", any case, is upstream's line); anything else is JSON. */
export function parseLogFormat(s: string | undefined): LogFormat {
  return s?.trim().toLowerCase() === "text" ? "text" : "json";
}

/** The level a config names, as upstream reads it: case-insensitive; anything else is `fallback`. */
export function parseLogLevel(s: string | undefined, fallback: LogLevel): LogLevel {
  const l = s?.trim().toLowerCase();
  return l === "debug" || l === "verbose" || l === "error" || l === "panic" ? l : fallback;
}

function redact(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) out[k] = SECRET.test(k) ? "[redacted]" : v;
  return out;
}
