/**
 * @sealflow/adapter-storage: persistence and document stores, one entry point per backend so a host loads only the
 * driver it uses: `/pglite` (@electric-sql/pglite), `/postgres` (pg), `/s3` (@aws-sdk/client-s3), `/fs` (none).
 *
 * This root entry loads no driver: it holds what every backend shares (the schema migrations) and the driver-free
 * filesystem store.
 */
export { fsDocumentStore, type FsDocumentStoreOptions } from './documents/fs-document-store.js';
export { type Migration, migrations } from './persistence/migrations.js';
