export {
  createSigningGateway,
  type SigningGateway,
  type SigningGatewayOptions,
  type SigningRetryOptions,
} from './gateway.js';
export {
  callbackEventSchema,
  callContextSchema,
  cancelReasonSchema,
  createFlowInputSchema,
  fillTemplateInputSchema,
  rawCallbackSchema,
  roleSchema,
  sealPlacementSchema,
  signedDocumentsSchema,
  signerSpecSchema,
  signerUrlSchema,
  signingCapabilitiesSchema,
  uploadDocumentInputSchema,
  vendorDocumentRefSchema,
  vendorFlowSchema,
  vendorIdSchema,
} from './vendor-schemas.js';
