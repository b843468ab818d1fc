import type { Scheduler } from '../ports/clock.js';
import type { OutboxEntry } from '../ports/persistence.js';

/**
 * The relay's background loop. Like the runtime's worker, it holds up to `concurrency` deliveries at once and claims
 * more as soon as one finishes, rather than waiting for a whole batch: an endpoint that hangs until its timeout then
 * occupies one slot, not every delivery claimed beside it.
 */

export interface LoopOptions {
  /** Deliveries in flight at once (default 16). */
  concurrency?: number;
  /** Idle wait between looks at the store that found nothing, in ms (default 1 000). */
  pollMs?: number;
}

export interface LoopWork {
  claim(limit: number): Promise<{ claimToken: string; claimed: OutboxEntry[] }>;
  /** Send one delivery and settle it; a rejection is reported to `onError` and the claim left to expire. */
  deliver(entry: OutboxEntry, claimToken: string): Promise<void>;
  onError(error: unknown): void;
}

export interface DeliveryLoop {
  start(options?: LoopOptions): void;
  /** Stop claiming, then wait for the deliveries in flight (each ends by its timeout at the latest). */
  stop(): Promise<void>;
  /** Something became due (a replay, a finished delivery): look now instead of after the idle wait. */
  wake(): void;
}

export function deliveryLoop(work: LoopWork, scheduler: Scheduler): DeliveryLoop {
  let stopped = true;
  let concurrency = 16;
  let pollMs = 1_000;
  let held = 0;
  const inFlight = new Set<Promise<void>>();
  let cancelNext: (() => void) | undefined;
  let current: Promise<void> = Promise.resolve();
  let passRunning = false;
  let passAgain = false;

  function launch(entry: OutboxEntry, claimToken: string): void {
    const delivery: Promise<void> = work
      .deliver(entry, claimToken)
      .catch(work.onError)
      .finally(() => {
        held--;
        inFlight.delete(delivery);
        wake();
      });
    inFlight.add(delivery);
  }

  /** Claim as many deliveries as there are free slots and start them; true when any were claimed. */
  async function pass(): Promise<boolean> {
    const free = concurrency - held;
    if (free <= 0) return false;
    const { claimToken, claimed } = await work.claim(free);
    held += claimed.length;
    for (const entry of claimed) launch(entry, claimToken);
    return claimed.length > 0;
  }

  function loop(): void {
    cancelNext = undefined;
    if (stopped) return;
    passRunning = true;
    current = pass()
      .catch((error) => {
        work.onError(error);
        return false;
      })
      .then((claimedAny) => {
        passRunning = false;
        const again = passAgain;
        passAgain = false;
        if (!stopped) cancelNext = scheduler.schedule(loop, claimedAny || again ? 0 : pollMs);
      });
  }

  function wake(): void {
    if (stopped) return;
    if (passRunning) {
      passAgain = true;
      return;
    }
    cancelNext?.();
    cancelNext = scheduler.schedule(loop, 0);
  }

  return {
    start(options = {}) {
      if (!stopped) return;
      stopped = false;
      concurrency = options.concurrency ?? 16;
      pollMs = options.pollMs ?? 1_000;
      loop();
    },
    async stop() {
      stopped = true;
      cancelNext?.();
      cancelNext = undefined;
      await current;
      while (inFlight.size > 0) await Promise.all(inFlight);
    },
    wake,
  };
}
