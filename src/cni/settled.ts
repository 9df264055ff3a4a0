// settled(fn): a synchronous operation behind a Promise-returning API, with its exceptions turned into
// rejections (callers written for the asynchronous version attach .catch and expect nothing thrown).
// For small local file reads and removals on every CNI call: each takes microseconds, less than the
// thread-pool round trip of its node:fs/promises twin (docs/performance.md).
export function settled<T>(fn: () => T): Promise<T> {
  return new Promise((resolve) => {
    resolve(fn());
  });
}
