/** @sealflow/adapter-storage/fs: a document store on the local filesystem. No driver needed. */
export { fsDocumentStore, type FsDocumentStoreOptions } from './documents/fs-document-store.js';
