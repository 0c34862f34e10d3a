/** How an {@link EarshotClient} reconnects after its connection drops mid-session. */
export interface ReconnectOptions {
  /** Attempts before giving up. Default 8. */
  readonly attempts?: number;
  /** Delay before the first attempt, ms. Default 250. */
  readonly initialDelayMs?: number;
  /** Longest delay between attempts, ms. Default 5000. */
  readonly maxDelayMs?: number;
}

/**
 * The delay before reconnect attempt `attempt` (0-based): exponential backoff with "equal
 * jitter" (half fixed, half random), so a server that drops every client at once is not
 * stormed back in lockstep.
 */
export function reconnectDelayMs(
  attempt: number,
  options: ReconnectOptions = {},
  random: () => number = Math.random,
): number {
  const initial = options.initialDelayMs ?? 250;
  const max = options.maxDelayMs ?? 5000;
  const ceiling = Math.min(max, initial * 2 ** attempt);
  return ceiling / 2 + random() * (ceiling / 2);
}
