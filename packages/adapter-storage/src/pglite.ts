/** @sealflow/adapter-storage/pglite: persistence on PGlite (embedded PostgreSQL). Needs @electric-sql/pglite. */
export { type Migration, migrations } from './persistence/migrations.js';
export { type PglitePersistenceOptions, pglitePersistence } from './persistence/pglite.js';
