// multusctl's --output formats: `table` (the default, for people), `json` and `yaml` (for scripts;
// the same object in both). A verb hands over its result object and how to lay it out as a table.
//
// Exported API:
//   type OutputFormat = "table" | "json" | "yaml"
//   OUTPUT_FORMATS, parseOutputFormat(text): OutputFormat          (UsageError for anything else)
//   interface Table { headers: string[]; rows: string[][] }
//   renderTable(table): string            columns padded to their widest cell, two spaces apart (kubectl's look)
//   renderOutput(format, value, table): Promise<string>   the text to print, ending in a newline
import { UsageError } from "./cli-error.ts";

export const OUTPUT_FORMATS = ["table", "json", "yaml"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function parseOutputFormat(text: string): OutputFormat {
  const found = OUTPUT_FORMATS.find((f) => f === text);
  if (found === undefined) throw new UsageError(`--output must be one of ${OUTPUT_FORMATS.join(", ")}, not ${JSON.stringify(text)}`);
  return found;
}

export interface Table {
  headers: readonly string[];
  rows: readonly (readonly string[])[];
}

/** Columns left-aligned; the last column is not padded (no trailing blanks); a cell's newlines become spaces. */
export function renderTable(table: Table): string {
  const clean = (cell: string): string => cell.replace(/\s*\n\s*/g, " ");
  const lines = [table.headers.map((h) => h.toUpperCase()), ...table.rows.map((r) => r.map(clean))];
  const widths = table.headers.map((_, col) => Math.max(...lines.map((l) => (l[col] ?? "").length)));
  return lines
    .map((l) =>
      table.headers
        .map((_, col) => {
          const cell = l[col] ?? "";
          return col === table.headers.length - 1 ? cell : cell.padEnd(widths[col] ?? 0);
        })
        .join("  ")
        .trimEnd(),
    )
    .join("\n") + "\n";
}

/**
 * The text for `value` in `format`. `table` is called only for the table format. YAML is loaded only
 * when asked for (it is the CLI's one heavy import).
 */
export async function renderOutput(format: OutputFormat, value: unknown, table: () => Table): Promise<string> {
  switch (format) {
    case "json":
      return `${JSON.stringify(value, null, 2)}\n`;
    case "yaml": {
      const yaml = await import("yaml");
      return yaml.stringify(value, { lineWidth: 0 });
    }
    case "table":
      return renderTable(table());
  }
}
