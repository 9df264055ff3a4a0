// `node test/helpers/api-bridge-cli.ts <node-netns> <port>`: keeps an API bridge (api-bridge.ts) up
// until SIGTERM/SIGINT, for scripts/demo.sh. Prints "ready" once the node namespace can reach the API.
import { startApiBridge } from "./api-bridge.ts";

const [ns, port] = process.argv.slice(2);
if (ns === undefined || port === undefined) {
  process.stderr.write("usage: api-bridge-cli.ts <node-netns> <port>\n");
  process.exitCode = 2;
} else {
  const bridge = await startApiBridge(ns, Number(port));
  process.stdout.write("ready\n");
  const stop = (): void => {
    void bridge.stop().then(() => process.exit(0));
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}
