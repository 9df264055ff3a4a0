// Wrapper plugins that run a real reference plugin and, when told through the environment (which
// multus hands to its delegates, CNI-P-13), sleep before or after it, so that a test can act while that
// delegate "runs": kill multus under it, start a concurrent operation. A wrapper named
// `<prefix>-<plugin>` (w1-bridge, w3-macvlan, …) runs /usr/lib/cni/<plugin>.
//
//   MT_SLOW_AT=<prefix>:before|after[:<COMMAND>]   which wrapper sleeps, and around which command (ADD)
//   MT_SLEEP=<seconds>                             how long
//   MT_MARKS=<dir>                                 where it touches <containerID>.<name>.started when it
//                                                  starts sleeping and <containerID>.<name>.finished at the end
import { chmod, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const WRAPPER = (plugins: string): string => `#!/bin/sh
me=\${0##*/}
real=${plugins}/\${me#*-}
spec=\${MT_SLOW_AT:-}
cmd=ADD
case "$spec" in *:*:*) cmd=\${spec##*:}; spec=\${spec%:*} ;; esac
slow=
[ "$CNI_COMMAND" = "$cmd" ] && [ "\${spec%%:*}" = "\${me%%-*}" ] && slow=\${spec#*:}
mark="$MT_MARKS/$CNI_CONTAINERID.$me"
if [ "$slow" = before ]; then
  touch "$mark.started"; sleep "$MT_SLEEP"
  "$real"; code=$?; touch "$mark.finished"; exit $code
fi
if [ "$slow" = after ]; then
  out=$("$real"); code=$?
  touch "$mark.started"; sleep "$MT_SLEEP"; touch "$mark.finished"
  printf '%s' "$out"; exit $code
fi
exec "$real"
`;

/** A temp directory with one wrapper per name; remove it when done. */
export async function createSlowWrappers(names: readonly string[], plugins = "/usr/lib/cni"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "mt-wrappers-"));
  for (const name of names) {
    await writeFile(join(dir, name), WRAPPER(plugins));
    await chmod(join(dir, name), 0o755);
  }
  return dir;
}
