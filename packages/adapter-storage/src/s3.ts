/** @sealflow/adapter-storage/s3: a document store on S3 or an S3-compatible service. Needs @aws-sdk/client-s3. */
export {
  type S3DocumentStoreOptions,
  type S3ServerSideEncryption,
  s3DocumentStore,
} from './documents/s3-document-store.js';
