export { type Migration, migrations } from './migrations.js';
export { type PglitePersistenceOptions, pglitePersistence } from './pglite.js';
export { type PostgresPersistenceOptions, postgresPersistence } from './postgres.js';
