/** A workflows wrapper for `createSealflow({ workflows })` that replays effects, as a retry after a lost answer does. */
import type { WorkflowDefinition } from '../src/index.js';

/** Each effect named here runs twice per attempt, as when an answer is lost and the effect is retried. */
export function twice(names: string[]) {
  return (builtIn: WorkflowDefinition[]) =>
    builtIn.map((definition) => {
      const effects = Object.fromEntries(
        Object.entries(definition.effects).map(([name, effect]) => [
          name,
          names.includes(name)
            ? {
                ...effect,
                async run(params: unknown, context: Parameters<typeof effect.run>[1]) {
                  await effect.run(params, context);
                  return effect.run(params, context);
                },
              }
            : effect,
        ]),
      );
      return { ...definition, effects };
    });
}
