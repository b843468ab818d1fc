import type { AnyMachineSnapshot, StateValue } from 'xstate';
import { SnapshotError } from '../errors.js';
import type { WorkflowRow } from '../ports/persistence.js';
import type { WorkflowDefinition } from './workflow-definition.js';

/**
 * Restoring stored snapshots safely: version checks and migrations first, then XState's own resolution, and every
 * failure turned into a `SnapshotError` that says what to do rather than a TypeError from deep inside XState.
 */

export function restoreSnapshot(definition: WorkflowDefinition, row: WorkflowRow): AnyMachineSnapshot {
  const migrated = migrateSnapshot(definition, row);
  if (!isSnapshotShaped(migrated)) {
    throw corrupt(row, 'it is not an object with value, status and context');
  }
  try {
    return definition.machine.resolveState(migrated as Parameters<typeof definition.machine.resolveState>[0]);
  } catch (cause) {
    throw corrupt(row, cause instanceof Error ? cause.message : String(cause), cause);
  }
}

function migrateSnapshot(definition: WorkflowDefinition, row: WorkflowRow): unknown {
  if (row.machineVersion === definition.version) return row.snapshot;
  if (row.machineVersion > definition.version) {
    throw new SnapshotError(
      'MIGRATION_MISSING',
      `Workflow ${row.id} was written by ${definition.id} v${row.machineVersion}, newer than the v${definition.version} ` +
        'this process runs. Upgrade this process to the release that wrote it; old code cannot read newer snapshots.',
      { details: { workflowId: row.id, storedVersion: row.machineVersion, runningVersion: definition.version } },
    );
  }
  let snapshot: unknown = row.snapshot;
  for (let from = row.machineVersion; from < definition.version; from++) {
    const migrate = definition.migrations[from];
    if (!migrate) {
      throw new SnapshotError(
        'MIGRATION_MISSING',
        `Workflow ${row.id} was written by ${definition.id} v${row.machineVersion} and this process runs ` +
          `v${definition.version}, but no migration from v${from} is registered. Add ` +
          `\`migrations: { ${from}: (snapshot) => … }\` to defineWorkflow('${definition.id}'), ` +
          `or finish these workflows with a process running v${row.machineVersion}.`,
        { details: { workflowId: row.id, storedVersion: row.machineVersion, runningVersion: definition.version } },
      );
    }
    try {
      snapshot = migrate(structuredClone(snapshot));
    } catch (cause) {
      throw corrupt(row, `migration from v${from} threw: ${cause instanceof Error ? cause.message : cause}`, cause);
    }
  }
  return snapshot;
}

function isSnapshotShaped(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return (
    (typeof v.value === 'string' || (typeof v.value === 'object' && v.value !== null)) && typeof v.status === 'string'
  );
}

function corrupt(row: WorkflowRow, reason: string, cause?: unknown): SnapshotError {
  return new SnapshotError(
    'CORRUPT_SNAPSHOT',
    `The stored snapshot of workflow ${row.id} (${row.machineId} v${row.machineVersion}) cannot be restored: ${reason}. ` +
      'Nothing was changed. Restore the row from a backup or its audit log, or stop the workflow.',
    { cause, details: { workflowId: row.id } },
  );
}

/** `{ pending: 'legal' }` → `pending.legal`; parallel regions are joined with commas, sorted. */
export function stateValueText(value: StateValue): string {
  if (typeof value === 'string') return value;
  return Object.entries(value)
    .map(([key, child]) => {
      if (child === undefined) return key;
      const inner = stateValueText(child as StateValue);
      return inner === ''
        ? key
        : inner
            .split(',')
            .map((part) => `${key}.${part}`)
            .join(',');
    })
    .sort()
    .join(',');
}
