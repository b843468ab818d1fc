import { afterEach, vi } from 'vitest';
import { consoleLogger, silentLogger, systemClock, systemScheduler } from '../src/index.js';
import { createManualClock, createMemoryLogger } from '../src/memory/index.js';
import { runLoggerContract, runTimeContract } from '../src/testing/index.js';

runTimeContract({
  name: 'manual clock',
  create() {
    const clock = createManualClock();
    return { clock, scheduler: clock, pass: async (ms) => clock.advance(ms) };
  },
});

runTimeContract({
  name: 'system clock and scheduler',
  toleranceMs: 2,
  create: () => ({
    clock: systemClock,
    scheduler: systemScheduler,
    pass: (ms) => new Promise((resolve) => setTimeout(resolve, ms + 5)),
  }),
});

afterEach(() => vi.restoreAllMocks());

runLoggerContract({ name: 'memory logger', create: createMemoryLogger });
runLoggerContract({ name: 'silent logger', create: () => silentLogger });
runLoggerContract({
  name: 'console logger',
  create: () => {
    vi.spyOn(console, 'log').mockImplementation(() => {});
    vi.spyOn(console, 'error').mockImplementation(() => {});
    return consoleLogger('debug');
  },
});
