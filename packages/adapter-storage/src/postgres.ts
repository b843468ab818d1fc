/** @sealflow/adapter-storage/postgres: persistence on a PostgreSQL server through node-postgres. Needs pg. */
export { type Migration, migrations } from './persistence/migrations.js';
export { type PostgresPersistenceOptions, postgresPersistence } from './persistence/postgres.js';
