// A Logger (src/util/logger.ts) that keeps its lines in memory, for tests that assert on what was logged.
import type { Logger } from "../../src/util/logger.ts";

export interface LogLine {
  level: string;
  fields: Record<string, unknown>;
  msg: string;
}

export function memoryLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (fields: Record<string, unknown>, msg: string): void => {
    lines.push({ level, fields, msg });
  };
  return { log: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") }, lines };
}
