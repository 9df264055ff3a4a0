// A promise raced against an AbortSignal: the work's own outcome, or `abortError()` as soon as the
// signal fires (the work itself is not cancelled: it settles on its own, unobserved). The listener is
// removed either way, so a long-lived signal does not collect one per call.
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal, abortError: () => Error): Promise<T> {
  if (signal.aborted) return Promise.reject(abortError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      reject(abortError());
    };
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
