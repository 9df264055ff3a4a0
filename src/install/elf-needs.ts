// What a dynamically linked ELF executable asks of the machine that runs it: its ELF interpreter
// (PT_INTERP), the shared libraries it names (DT_NEEDED) and the symbol versions it needs from each
// (.gnu.version_r: GLIBC_2.28, GLIBCXX_3.4.21, …). The host check (host-check.ts) reads it from the
// executable it installed, so that a failure names what this very build needs, not a number in the
// docs that a toolchain update made wrong. 64-bit little-endian ELF only (x86-64, arm64): what the
// build makes; anything else reads as "not a 64-bit ELF", which the exec will then explain.
//
// Exported API:
//   readElfNeeds(path): Promise<ElfNeeds | undefined>   undefined: not a 64-bit little-endian ELF
//   interface ElfNeeds { machine, interpreter, libraries: { file, versions[] }[] }
//   ELF_MACHINES: e_machine by Node's process.arch, and names for messages
import { open, type FileHandle } from "node:fs/promises";

export interface ElfNeeds {
  /** e_machine: the CPU it is built for (62 x86-64, 183 AArch64). */
  machine: number;
  /** PT_INTERP: the dynamic loader the kernel runs first (undefined: a static executable). */
  interpreter: string | undefined;
  /** DT_NEEDED, in the file's order, each with the versions .gnu.version_r asks of it. */
  libraries: { file: string; versions: string[] }[];
}

/** e_machine of the CPUs the build makes, by Node's process.arch; and their names. */
export const ELF_MACHINES: Readonly<Record<string, number>> = { x64: 62, arm64: 183 };
export const ELF_MACHINE_NAMES: Readonly<Record<number, string>> = { 62: "x86-64", 183: "AArch64 (arm64)" };

const PT_INTERP = 3;
const SHT_DYNAMIC = 6;
const SHT_GNU_VERNEED = 0x6ffffffe;
const DT_NEEDED = 1n;
/** Upper bound for one table we read (headers, .dynamic, .dynstr, .gnu.version_r): far above any real one. */
const MAX_TABLE = 16 * 1024 * 1024;

export async function readElfNeeds(path: string): Promise<ElfNeeds | undefined> {
  const fh = await open(path, "r");
  try {
    const h = await readAt(fh, 0, 64);
    // \x7fELF, ELFCLASS64, ELFDATA2LSB.
    if (h.length < 64 || h.readUInt32BE(0) !== 0x7f454c46 || h[4] !== 2 || h[5] !== 1) return undefined;
    const machine = h.readUInt16LE(0x12);
    const phoff = Number(h.readBigUInt64LE(0x20));
    const shoff = Number(h.readBigUInt64LE(0x28));
    const phentsize = h.readUInt16LE(0x36);
    const phnum = h.readUInt16LE(0x38);
    const shentsize = h.readUInt16LE(0x3a);
    const shnum = h.readUInt16LE(0x3c);

    let interpreter: string | undefined;
    const ph = await readAt(fh, phoff, phentsize * phnum);
    for (let i = 0; i + 56 <= ph.length && i < phentsize * phnum; i += phentsize) {
      if (ph.readUInt32LE(i) !== PT_INTERP) continue;
      const raw = await readAt(fh, Number(ph.readBigUInt64LE(i + 8)), Number(ph.readBigUInt64LE(i + 32)));
      interpreter = cString(raw, 0);
    }

    const sections: { type: number; offset: number; size: number; link: number; info: number }[] = [];
    if (shoff !== 0 && shentsize >= 64) {
      const sh = await readAt(fh, shoff, shentsize * shnum);
      for (let i = 0; i + 64 <= sh.length; i += shentsize) {
        sections.push({ type: sh.readUInt32LE(i + 4), offset: Number(sh.readBigUInt64LE(i + 24)), size: Number(sh.readBigUInt64LE(i + 32)), link: sh.readUInt32LE(i + 40), info: sh.readUInt32LE(i + 44) });
      }
    }
    const strings = async (index: number): Promise<Buffer> => {
      const s = sections[index];
      return s === undefined ? Buffer.alloc(0) : readAt(fh, s.offset, s.size);
    };

    const libraries: ElfNeeds["libraries"] = [];
    const dynamic = sections.find((s) => s.type === SHT_DYNAMIC);
    if (dynamic !== undefined) {
      const d = await readAt(fh, dynamic.offset, dynamic.size);
      const str = await strings(dynamic.link);
      for (let i = 0; i + 16 <= d.length; i += 16) {
        const tag = d.readBigInt64LE(i);
        if (tag === 0n) break;
        if (tag === DT_NEEDED) libraries.push({ file: cString(str, Number(d.readBigUInt64LE(i + 8))), versions: [] });
      }
    }
    const verneed = sections.find((s) => s.type === SHT_GNU_VERNEED);
    if (verneed !== undefined) {
      const v = await readAt(fh, verneed.offset, verneed.size);
      const str = await strings(verneed.link);
      // Elf64_Verneed { vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32 },
      // Elf64_Vernaux { vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32 }.
      let at = 0;
      for (let n = 0; n < verneed.info && at + 16 <= v.length; n++) {
        const file = cString(str, v.readUInt32LE(at + 4));
        let lib = libraries.find((l) => l.file === file);
        if (lib === undefined) libraries.push((lib = { file, versions: [] }));
        let aux = at + v.readUInt32LE(at + 8);
        for (let k = 0; k < v.readUInt16LE(at + 2) && aux + 16 <= v.length; k++) {
          lib.versions.push(cString(str, v.readUInt32LE(aux + 8)));
          const next = v.readUInt32LE(aux + 12);
          if (next === 0) break;
          aux += next;
        }
        const next = v.readUInt32LE(at + 12);
        if (next === 0) break;
        at += next;
      }
    }
    return { machine, interpreter, libraries };
  } finally {
    await fh.close();
  }
}

async function readAt(fh: FileHandle, offset: number, length: number): Promise<Buffer> {
  if (!Number.isSafeInteger(offset) || offset < 0 || length <= 0) return Buffer.alloc(0);
  const buf = Buffer.alloc(Math.min(length, MAX_TABLE));
  const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
  return buf.subarray(0, bytesRead);
}

function cString(buf: Buffer, at: number): string {
  if (at < 0 || at >= buf.length) return "";
  const end = buf.indexOf(0, at);
  return buf.toString("utf8", at, end < 0 ? buf.length : end);
}
