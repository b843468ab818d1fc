import { __unsafe_getAllOwnEventDescriptors as acceptedEventTypes } from 'xstate';
import { describe, expect, it } from 'vitest';
import { APPLICATION_EVENT_RULES, STAGE_NAMES } from '../src/dispatch/application-rules.js';
import { applicationMachine } from '../src/dispatch/application-workflow.js';

/** The stages of the machine, as full state values. */
function stages(): string[] {
  const out: string[] = [];
  const walk = (node: { key: string; states: Record<string, unknown>; parent?: unknown }, prefix: string) => {
    for (const [key, child] of Object.entries(node.states)) {
      const path = prefix ? `${prefix}.${key}` : key;
      const c = child as { states: Record<string, unknown>; key: string };
      if (Object.keys(c.states).length) walk(c, path);
      else out.push(path);
    }
  };
  walk(applicationMachine.root as never, '');
  return out;
}

describe('application machine and its rule table agree', () => {
  it('every stage takes exactly the events the rule table lists for it', () => {
    const all = stages();
    expect(all.sort()).toEqual(Object.keys(STAGE_NAMES).sort());
    for (const stage of all) {
      const value = stage.includes('.') ? { [stage.split('.')[0]!]: stage.split('.')[1]! } : stage;
      const snapshot = applicationMachine.resolveState({ value, context: {} as never });
      // The loan contract's start is an effect's result, taken in every stage, not a command with rules.
      const accepted = acceptedEventTypes(snapshot)
        .filter((e) => !e.startsWith('xstate.') && !e.startsWith('LOAN_CONTRACT_'))
        .sort();
      const listed = Object.entries(APPLICATION_EVENT_RULES)
        .filter(([, rule]) => rule.stages.includes(stage))
        .map(([type]) => type)
        .sort();
      expect({ stage, accepted }).toEqual({ stage, accepted: listed });
    }
  });
});
