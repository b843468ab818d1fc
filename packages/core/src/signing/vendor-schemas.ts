/**
 * zod schemas for everything that crosses the signing-vendor port, in both directions.
 *
 * The gateway checks inputs with them before any vendor sees a request (so a bad ID number is refused by us, with a
 * field path, not by e签宝 with `1435002 参数错误`), and checks outputs after, so an adapter bug or a changed vendor
 * reply surfaces as `VENDOR_BAD_RESPONSE` instead of an `undefined` deep inside a workflow. The personal-data checks
 * reuse `model/values.ts`, whose messages are already masked.
 */
import { z } from 'zod';
import { creditCodeSchema, idNumberSchema, mobileSchema } from '../model/values.js';
import type {
  CreateFlowInput,
  RawCallback,
  SealPlacement,
  SignatureTimestamp,
  SignedDocument,
  SignerSpec,
  SigningCapabilities,
  VendorCallbackEvent,
  VendorDocumentRef,
  VendorFlow,
} from '../ports/signing-vendor.js';

/** Our own identifiers (document keys, roles): short, no spaces, safe in URLs, file names and field names. */
const identifier = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'use 1–64 letters, digits, "_" or "-", starting with a letter');

/** Ids the vendor issued (file ids, flow ids): opaque, but never empty, never huge, never multi-line. */
export const vendorIdSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(128, 'is longer than 128 characters')
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

const fileName = z
  .string()
  .min(1, 'must not be empty')
  .max(100, 'is longer than 100 characters (e签宝 limit)')
  .refine((name) => !/[/\\\r\n\0]/.test(name), 'must be a bare file name without path separators or line breaks');

const epochMs = z.number().int().nonnegative();

const pdfBytes = z
  .instanceof(Uint8Array, { message: 'must be a Uint8Array' })
  .refine((bytes) => bytes.byteLength > 0, 'must not be empty')
  .refine((bytes) => Buffer.from(bytes.subarray(0, 1024)).includes('%PDF-'), 'is not a PDF (no %PDF- header)');

const placementMessage =
  'a placement is { documentKey, field }, { documentKey, keyword, offsetX?, offsetY? } or ' +
  '{ documentKey, page, x, y, width?, height? }';

const coordinate = z.number().finite();
const extent = z.number().finite().positive();

export const sealPlacementSchema: z.ZodType<SealPlacement> = z.union(
  [
    z.strictObject({ documentKey: identifier, field: z.string().min(1).max(128) }),
    z.strictObject({
      documentKey: identifier,
      keyword: z.string().min(1).max(64),
      offsetX: coordinate.optional(),
      offsetY: coordinate.optional(),
    }),
    z.strictObject({
      documentKey: identifier,
      page: z.number().int().nonnegative(),
      x: coordinate.nonnegative(),
      y: coordinate.nonnegative(),
      width: extent.optional(),
      height: extent.optional(),
    }),
  ],
  { error: placementMessage },
);

const signerCommon = {
  role: identifier,
  name: z.string().trim().min(1, 'must not be empty').max(100, 'is longer than 100 characters'),
  mobile: mobileSchema.optional(),
  autoSign: z.boolean(),
  order: z.number().int().min(1, 'starts at 1').max(99),
  placements: z.array(sealPlacementSchema).min(1, 'needs at least one placement: where does this signer sign?'),
};

export const signerSpecSchema: z.ZodType<SignerSpec> = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({
      ...signerCommon,
      kind: z.literal('person'),
      idNumber: idNumberSchema,
      sealId: z.undefined({ error: 'is for organisations only; a person signs with a personal signature' }).optional(),
    }),
    z.strictObject({
      ...signerCommon,
      kind: z.literal('organization'),
      idNumber: creditCodeSchema,
      sealId: z.string().min(1).max(128).optional(),
    }),
  ],
  { error: 'kind must be "person" or "organization"' },
);

export const vendorDocumentRefSchema: z.ZodType<VendorDocumentRef> = z.strictObject({
  key: identifier,
  vendorFileId: vendorIdSchema,
  fileName,
});

export const uploadDocumentInputSchema = z.strictObject({ key: identifier, fileName, bytes: pdfBytes });

export const fillTemplateInputSchema = z.strictObject({
  key: identifier,
  fileName,
  vendorTemplateId: vendorIdSchema,
  values: z.record(z.string().min(1), z.string()),
});

export const createFlowInputSchema: z.ZodType<CreateFlowInput> = z
  .strictObject({
    title: z.string().trim().min(1, 'must not be empty').max(100, 'is longer than 100 characters'),
    businessNo: z
      .string()
      .min(1, 'must not be empty')
      .max(64, 'is longer than 64 characters')
      .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
    documents: z.array(vendorDocumentRefSchema).min(1, 'a flow signs at least one document').max(50),
    signers: z.array(signerSpecSchema).min(1, 'a flow needs at least one signer'),
    deadlineAt: epochMs.optional(),
    callbackUrl: z.url({ protocol: /^https?$/ }).optional(),
  })
  .superRefine((input, ctx) => {
    const keys = new Set<string>();
    input.documents.forEach((doc, i) => {
      if (keys.has(doc.key)) ctx.addIssue({ code: 'custom', path: ['documents', i, 'key'], message: 'is used twice' });
      keys.add(doc.key);
    });
    const roles = new Set<string>();
    input.signers.forEach((signer, i) => {
      if (roles.has(signer.role)) {
        ctx.addIssue({ code: 'custom', path: ['signers', i, 'role'], message: 'is used twice; one signer per role' });
      }
      roles.add(signer.role);
      signer.placements.forEach((placement, j) => {
        if (!keys.has(placement.documentKey)) {
          ctx.addIssue({
            code: 'custom',
            path: ['signers', i, 'placements', j, 'documentKey'],
            message: `names no document of this flow (documents: ${[...keys].join(', ')})`,
          });
        }
      });
    });
  });

export const flowLookupSchema = z.strictObject({
  createKey: z
    .string()
    .min(1, 'must not be empty')
    .max(128, 'is longer than 128 characters')
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
  businessNo: z
    .string()
    .min(1, 'must not be empty')
    .max(64, 'is longer than 64 characters')
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
});

export const cancelReasonSchema = z.string().trim().min(1, 'must not be empty').max(200);

export const roleSchema = identifier;

export const callContextSchema = z.object({
  idempotencyKey: z
    .string({ error: 'is required on every vendor call' })
    .trim()
    .min(1, 'must not be empty')
    .max(128, 'is longer than 128 characters')
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
  signal: z.instanceof(AbortSignal).optional(),
});

const header = z.union([z.string(), z.array(z.string()), z.undefined()]);

export const rawCallbackSchema: z.ZodType<RawCallback> = z.object({
  headers: z.record(z.string(), header),
  query: z.record(z.string(), header),
  rawBody: z.union([z.string(), z.instanceof(Uint8Array)]),
});

// --- outputs ---------------------------------------------------------------------------------------------------

export const vendorFlowSchema: z.ZodType<VendorFlow> = z.object({
  flowId: vendorIdSchema,
  status: z.enum(['draft', 'signing', 'completed', 'rejected', 'revoked', 'expired', 'failed']),
  signers: z.array(
    z.object({
      role: z.string().min(1),
      status: z.enum(['waiting', 'signing', 'signed', 'rejected', 'failed']),
      signedAt: epochMs.optional(),
      seal: z
        .object({
          sealId: z.string().min(1).max(128),
          certificateSha256: z
            .string()
            .regex(/^[0-9a-f]{64}$/, 'must be the lower-case hex SHA-256 of the certificate')
            .optional(),
          certificateSerial: z
            .string()
            .regex(/^[0-9A-Fa-f]{1,64}$/, 'must be the serial number in hex')
            .optional(),
        })
        .optional(),
    }),
  ),
  reason: z.string().optional(),
});

const lowerHex = z.string().regex(/^([0-9a-f]{2})+$/, 'must be lower-case hex');

/** A timestamp a vendor reports with a signed document; the token is base64 DER, at most 64 KiB. */
export const signatureTimestampSchema: z.ZodType<SignatureTimestamp> = z.object({
  field: z.string().min(1).max(256),
  kind: z.enum(['signature', 'document']),
  token: z.base64().min(4).max(90_000),
  time: epochMs,
  tsaName: z.string().max(1024).nullable(),
  imprint: lowerHex.min(64).max(128),
  hashAlgorithm: z.enum(['sha256', 'sha384', 'sha512']),
});

export const signedDocumentsSchema: z.ZodType<SignedDocument[]> = z
  .array(
    z.object({
      key: z.string().min(1),
      fileName,
      bytes: pdfBytes,
      timestamps: z.array(signatureTimestampSchema).max(64).optional(),
    }),
  )
  .min(1, 'a completed flow has at least one signed document');

export const signerUrlSchema = z.object({ url: z.url({ protocol: /^https?$/ }), expiresAt: epochMs.optional() });

export const callbackEventSchema: z.ZodType<VendorCallbackEvent> = z.object({
  eventId: z.string().min(1).max(256),
  flowId: vendorIdSchema,
  kind: z.enum(['signer-signed', 'flow-completed', 'flow-rejected', 'flow-revoked', 'flow-expired', 'other']),
  role: z.string().min(1).optional(),
  occurredAt: epochMs,
  vendorAction: z.string(),
});

export const signingCapabilitiesSchema: z.ZodType<SigningCapabilities> = z.strictObject({
  organizationAutoSeal: z.boolean(),
  personAutoSign: z.boolean(),
  vendorTemplates: z.boolean(),
  callbacks: z.boolean(),
  appendSigners: z.boolean(),
  padesOutput: z.boolean(),
  maxSignersPerFlow: z.number().int().min(1),
  timestamps: z.boolean().optional(),
  sm2: z.boolean().optional(),
});
