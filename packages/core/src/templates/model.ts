/**
 * The template model: what operations configure for a contract template (变量, 替换规则, 签章主体, 业务校验, 厂商参数)
 * and the stored, versioned record of it. Zod schemas are the single source of the types.
 *
 * The schemas check the shape of one definition in isolation. Consistency with the template's PDF and between parts
 * of the definition (duplicate keys, a check naming an unknown variable) is `validate-definition.ts`'s job, because it
 * needs the PDF's fields and because it reports every problem with a readable path instead of stopping at the first.
 */
import { z } from 'zod';
import { moneyProblem } from '../model/values.js';
import { ReplacementRule } from './formatters.js';
import { patternProblem } from './patterns.js';

// ---------------------------------------------------------------------------------------------------------------
// Identity

/** A stable business code such as `LOAN_CONTRACT_V`; no dots, so it can never be mistaken for a version id. */
export const TemplateCode = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, {
  message: 'code must be 1–64 letters, digits, _ or -, starting with a letter or digit (e.g. LOAN_CONTRACT_V).',
});

/**
 * What kind of document a template is (借款合同, 授信合同 …). Signing scenes name the document type each of their
 * documents expects, and signing refuses a template of another type. These are the types sealflow knows; hosts may
 * add their own in the same UPPER_SNAKE form.
 */
export const KNOWN_DOCUMENT_TYPES = [
  'CREDIT_CONTRACT',
  'DATA_QUERY_AUTHORIZATION',
  'LOAN_CONTRACT',
  'CARD_BINDING_AGREEMENT',
  'PAYMENT_AGREEMENT',
] as const;
/** A document type sealflow knows by name. */
export type KnownDocumentType = (typeof KNOWN_DOCUMENT_TYPES)[number];

/** The zod schema of {@link TemplateDocumentType}. */
export const TemplateDocumentType = z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/, {
  message: `documentType must be UPPER_SNAKE_CASE, e.g. one of ${KNOWN_DOCUMENT_TYPES.join(', ')}.`,
});
/** A template's document type (what kind of contract it is), in UPPER_SNAKE_CASE, such as a loan contract. */
export type TemplateDocumentType = z.infer<typeof TemplateDocumentType>;

// ---------------------------------------------------------------------------------------------------------------
// Geometry and placement

/** The zod schema of {@link PlacementRect}. */
export const PlacementRect = z.object({
  x: z.number().finite(),
  y: z.number().finite(),
  width: z.number().positive(),
  height: z.number().positive(),
});
/** A rectangle on a page of a template. */
export type PlacementRect = z.infer<typeof PlacementRect>;

const pageIndex = z.number().int().min(0, { message: 'page is 0-based and must not be negative.' });

/** Where a value lands: an AcroForm field of the PDF, or a blank without a field (page + rectangle, PDF points). */
export const VariablePlacement = z.union(
  [z.object({ field: z.string().min(1) }).strict(), z.object({ page: pageIndex, rect: PlacementRect }).strict()],
  { message: 'placement must be { field: name } or { page, rect: { x, y, width, height } }.' },
);
/** Where a variable is drawn: a form field or a rectangle. */
export type VariablePlacement = z.infer<typeof VariablePlacement>;

/** Where a party's seal goes: a (signature) field, next to a keyword in the text, or fixed coordinates. */
export const PartySealPlacement = z.union(
  [
    z.object({ field: z.string().min(1) }).strict(),
    z
      .object({
        keyword: z.string().min(1),
        offset: z.object({ x: z.number().finite(), y: z.number().finite() }).optional(),
      })
      .strict(),
    z.object({ page: pageIndex, rect: PlacementRect }).strict(),
  ],
  { message: 'seal must be { field }, { keyword, offset? } or { page, rect }.' },
);
/** Where a party's seal goes: a form field, a keyword or a rectangle. */
export type PartySealPlacement = z.infer<typeof PartySealPlacement>;

// ---------------------------------------------------------------------------------------------------------------
// Variables

/**
 * The longest text value any variable takes, in characters (code points), whatever its `maxLength`: a contract blank
 * holds a name, an address or a clause, and a bound keeps every check of a value cheap.
 */
export const MAX_VALUE_LENGTH = 4_000;

/** Every variable type a template can declare. */
export const VARIABLE_TYPES = [
  'text',
  'date',
  'amount',
  'idNumber',
  'mobile',
  'creditCode',
  'bankCard',
  'integer',
  'enum',
] as const;
/** The zod schema of {@link VariableType}. */
export const VariableType = z.enum(VARIABLE_TYPES, { message: `type must be one of ${VARIABLE_TYPES.join(', ')}.` });
/** The type of a template variable. */
export type VariableType = z.infer<typeof VariableType>;

/** A format pattern, matched in linear time (see `patterns.ts`): backreferences and lookarounds are refused. */
const regexSource = z.string().superRefine((source, ctx) => {
  const problem = patternProblem(source);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

/** Amount bounds are yuan ('188000.00' or 188000), checked exactly like the values they bound. */
const yuanBound = z
  .union([z.string(), z.number()])
  .refine((v) => moneyProblem(v) === undefined, { message: 'an amount bound must be yuan such as "200000.00".' });

/** The zod schema of {@link VariableValidation}. */
export const VariableValidation = z
  .object({
    maxLength: z
      .number()
      .int()
      .positive()
      .max(MAX_VALUE_LENGTH, { message: `maxLength is at most ${MAX_VALUE_LENGTH} characters.` })
      .optional(),
    pattern: regexSource.optional(),
    enumValues: z.array(z.string().min(1)).min(1).optional(),
    /** Integers: the number itself; amounts: yuan. */
    min: z.number().finite().optional(),
    max: z.number().finite().optional(),
  })
  .strict();
/** Extra validation of a variable's value: maximum length, pattern, allowed values, range. */
export type VariableValidation = z.infer<typeof VariableValidation>;

/** The zod schema of {@link TemplateVariable}. */
export const TemplateVariable = z
  .object({
    /** Referenced by checks, vendor bindings and values: letters, digits and _ (e.g. `borrowerName`). */
    key: z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, {
      message: 'key must start with a letter and contain only letters, digits and _ (e.g. borrowerName).',
    }),
    label: z.string().min(1).max(100),
    type: VariableType,
    /** Dotted path into a signing request, such as `borrower.name`, from which the value is taken. */
    source: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/, {
        message: 'source must be a dotted path such as borrower.name.',
      })
      .optional(),
    required: z.boolean().default(true),
    validation: VariableValidation.optional(),
    rule: ReplacementRule.optional(),
    /** Absent for values used only by checks (a credit limit), never printed. */
    placement: VariablePlacement.optional(),
  })
  .strict()
  .refine((v) => v.type !== 'enum' || (v.validation?.enumValues?.length ?? 0) > 0, {
    message: 'an enum variable needs validation.enumValues.',
    path: ['validation', 'enumValues'],
  });
/** A template variable: its name, type, validation, rule and placement. */
export type TemplateVariable = z.infer<typeof TemplateVariable>;

// ---------------------------------------------------------------------------------------------------------------
// Parties

/** The party roles sealflow knows by name. */
export const KNOWN_PARTY_ROLES = ['borrower', 'platform', 'funder', 'guarantor', 'paymentCompany'] as const;
/** A party role sealflow knows by name. */
export type KnownPartyRole = (typeof KNOWN_PARTY_ROLES)[number];

/** The zod schema of {@link TemplateParty}. */
export const TemplateParty = z
  .object({
    /** One of {@link KNOWN_PARTY_ROLES} or a host's own lowerCamel role. */
    role: z.string().regex(/^[a-z][A-Za-z0-9]{0,39}$/, {
      message: `role must be lowerCamelCase, e.g. one of ${KNOWN_PARTY_ROLES.join(', ')}.`,
    }),
    kind: z.enum(['person', 'organization'], { message: "kind must be 'person' or 'organization'." }),
    label: z.string().min(1).max(100).optional(),
    seal: PartySealPlacement,
    /** Signing order, 1 first. */
    order: z.number().int().min(1),
  })
  .strict();
/** A party of a template: its role and where its seal goes. */
export type TemplateParty = z.infer<typeof TemplateParty>;

// ---------------------------------------------------------------------------------------------------------------
// Business checks (业务校验): declarative, each with the message shown when it fails

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { message: 'date must be YYYY-MM-DD.' });
/** What a date is compared with: the signing day (in China), a fixed date, or another variable. */
export const DateReference = z.union([
  z.literal('today'),
  z.object({ date: isoDate }).strict(),
  z.object({ variable: z.string().min(1) }).strict(),
]);
/** A date a business check compares with: today, a fixed date, or the value of a variable. */
export type DateReference = z.infer<typeof DateReference>;

const checkBase = { variable: z.string().min(1), message: z.string().min(1).max(200) };

/** The zod schema of {@link TemplateCheck}. */
export const TemplateCheck = z.discriminatedUnion(
  'kind',
  [
    z
      .object({ kind: z.literal('ageBetween'), ...checkBase, min: z.number().int().min(0), max: z.number().int() })
      .strict(),
    z
      .object({
        kind: z.literal('amountWithin'),
        ...checkBase,
        /** A fixed ceiling in yuan. */
        max: yuanBound.optional(),
        /** Or the key of another amount variable holding the ceiling (a credit limit). */
        maxVariable: z.string().min(1).optional(),
      })
      .strict()
      .refine((c) => (c.max === undefined) !== (c.maxVariable === undefined), {
        message: 'amountWithin needs exactly one of max or maxVariable.',
      }),
    z.object({ kind: z.literal('required'), ...checkBase }).strict(),
    z.object({ kind: z.literal('pattern'), ...checkBase, pattern: regexSource }).strict(),
    z.object({ kind: z.literal('dateNotBefore'), ...checkBase, than: DateReference }).strict(),
    z.object({ kind: z.literal('dateNotAfter'), ...checkBase, than: DateReference }).strict(),
    z
      .object({
        kind: z.literal('equals'),
        ...checkBase,
        value: z.string().optional(),
        otherVariable: z.string().min(1).optional(),
      })
      .strict()
      .refine((c) => (c.value === undefined) !== (c.otherVariable === undefined), {
        message: 'equals needs exactly one of value or otherVariable.',
      }),
  ],
  { message: 'kind must be one of ageBetween, amountWithin, required, pattern, dateNotBefore, dateNotAfter, equals.' },
);
/** A business check of a template (for example an amount limit or an age rule). */
export type TemplateCheck = z.infer<typeof TemplateCheck>;

// ---------------------------------------------------------------------------------------------------------------
// Vendor bindings: the same template configured at the vendor with its own parameter names

/** The zod schema of {@link VendorBindings}. */
export const VendorBindings = z
  .object({
    /** e签宝: the document template and the component key each variable fills. */
    esign: z
      .object({ docTemplateId: z.string().min(1), componentKeys: z.record(z.string(), z.string().min(1)) })
      .strict()
      .optional(),
    /** CFCA 安心签: the template and the field name each variable fills. */
    cfca: z
      .object({ templateId: z.string().min(1), fieldNames: z.record(z.string(), z.string().min(1)) })
      .strict()
      .optional(),
  })
  .strict();
/** A template's ids and field names at the signing vendors that fill templates themselves (e签宝, CFCA). */
export type VendorBindings = z.infer<typeof VendorBindings>;

// ---------------------------------------------------------------------------------------------------------------
// The definition

/**
 * One template configuration. A draft may be incomplete (no parties yet); `submit` demands a complete one (two or
 * three parties), see `validateDefinition(…, { stage: 'submit' })`.
 */
export const TemplateDefinition = z
  .object({
    code: TemplateCode,
    name: z.string().min(1).max(200),
    documentType: TemplateDocumentType,
    variables: z.array(TemplateVariable).default([]),
    parties: z.array(TemplateParty).max(3, { message: 'a template has two or three signing parties.' }).default([]),
    checks: z.array(TemplateCheck).default([]),
    vendorBindings: VendorBindings.default({}),
  })
  .strict();
/** A template definition after parsing: code, name, scene, variables, parties, checks and vendor bindings. */
export type TemplateDefinition = z.infer<typeof TemplateDefinition>;
/** What callers pass: defaults (empty lists) may be left out. */
export type TemplateDefinitionInput = z.input<typeof TemplateDefinition>;

/** The editable part of a definition; `code` is fixed for the life of a template. */
export type TemplateDefinitionChanges = Partial<Omit<TemplateDefinitionInput, 'code'>>;

// ---------------------------------------------------------------------------------------------------------------
// Stored versions

/** Every status a template version can have, in lifecycle order. */
export const TEMPLATE_STATUSES = [
  'DRAFT',
  'PENDING_APPROVAL',
  'EFFECTIVE',
  'INVALID',
  'SUPERSEDED',
  'WITHDRAWN',
] as const;
/** The zod schema of {@link TemplateStatus}. */
export const TemplateStatus = z.enum(TEMPLATE_STATUSES);
/** The status of a template version. */
export type TemplateStatus = z.infer<typeof TemplateStatus>;

/** The names operations use in the back office. */
export const TEMPLATE_STATUS_LABELS: Readonly<Record<TemplateStatus, string>> = {
  DRAFT: '草稿',
  PENDING_APPROVAL: '审批中',
  EFFECTIVE: '生效',
  INVALID: '失效',
  SUPERSEDED: '已替代',
  WITHDRAWN: '已撤回',
};

/** A form field found in the template PDF. */
export const TemplatePdfField = z.object({
  name: z.string(),
  /** `text`, `checkbox`, `signature`, … as `inspectPdf` reports it. */
  type: z.string(),
  /** 0-based; -1 for a widget on no page. */
  page: z.number().int().min(-1),
  rect: PlacementRect,
  maxLength: z.number().int().optional(),
});
/** A form field of a template's PDF. */
export type TemplatePdfField = z.infer<typeof TemplatePdfField>;

/** The zod schema of {@link TemplatePdf}. */
export const TemplatePdf = z.object({
  fileId: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  pageCount: z.number().int().positive(),
  fields: z.array(TemplatePdfField),
  /**
   * Each page's MediaBox in PDF points (lower-left corner and size), which placements by `{ page, rect }` must lie
   * on. Absent on versions imported before it was kept: their edits read it from the stored PDF.
   */
  pages: z.array(z.object({ x: z.number(), y: z.number(), width: z.number(), height: z.number() })).optional(),
});
/** The PDF of a template version: where it is stored, its hash and its fields. */
export type TemplatePdf = z.infer<typeof TemplatePdf>;

/** The zod schema of {@link TemplateDecision}. */
export const TemplateDecision = z.object({
  outcome: z.enum(['approved', 'rejected', 'withdrawn']),
  reason: z.string().nullable(),
  by: z.string(),
  at: z.number().int(),
});
/** An approval decision on a template version. */
export type TemplateDecision = z.infer<typeof TemplateDecision>;

/** The zod schema of {@link LevelApproval}. */
export const LevelApproval = z.object({
  level: z.number().int().min(1),
  name: z.string(),
  actorId: z.string(),
  at: z.number().int(),
});
/** An approval given at one level. */
export type LevelApproval = z.infer<typeof LevelApproval>;

/**
 * Versions stored before the rename called the document type `scene`: read them as `documentType`, so they load
 * (and are written back) in today's shape. Only stored versions are read this way; a new definition must say
 * `documentType`.
 */
function documentTypeFromScene(stored: unknown): unknown {
  if (stored === null || typeof stored !== 'object' || !('scene' in stored) || 'documentType' in stored) return stored;
  const { scene, ...rest } = stored as Record<string, unknown>;
  return { ...rest, documentType: scene };
}

/** The zod schema of {@link TemplateVersion}. */
export const TemplateVersion = z.object({
  /** `<code>.v<version, 4 digits>`, e.g. `LOAN_CONTRACT_V.v0002`: readable, ordered, never reused. */
  id: z.string(),
  code: TemplateCode,
  version: z.number().int().min(1),
  status: TemplateStatus,
  definition: z.preprocess(documentTypeFromScene, TemplateDefinition),
  pdf: TemplatePdf,
  createdBy: z.string(),
  /**
   * Normalised ids (`normaliseActorId`) of everyone who created, edited or submitted this version: none of them may
   * approve it. Empty only in versions stored before makers were recorded.
   */
  makers: z.array(z.string()).default([]),
  /** The effective version this draft was copied from (`reviseEffective`), if any. */
  revisedFrom: z.string().nullable(),
  submittedBy: z.string().nullable(),
  submittedAt: z.number().int().nullable(),
  approvals: z.array(LevelApproval),
  /** Set once the approval deadline passed without a decision. */
  escalatedAt: z.number().int().nullable(),
  decision: TemplateDecision.nullable(),
  approvalWorkflowId: z.string().nullable(),
  /** The version that replaced this one when it became SUPERSEDED. */
  supersededBy: z.string().nullable(),
});
/** A version of a template: its definition, PDF, status and approvals. */
export type TemplateVersion = z.infer<typeof TemplateVersion>;

/** A version as queries return it: the record plus when it was created and last changed. */
export type TemplateVersionView = TemplateVersion & { createdAt: number; updatedAt: number };

/**
 * One changed value between two definitions. `before` is absent for an addition and `after` for a removal: absent,
 * not `undefined`, because JSON (and so every store) drops `undefined` keys, and the entry must read back as written.
 */
export const DefinitionChange = z.object({
  path: z.string(),
  before: z.unknown().optional(),
  after: z.unknown().optional(),
  /** `variables.borrowerName.rule: text → mask(1,0)` */
  summary: z.string(),
});
/** One change between two definitions. */
export type DefinitionChange = z.infer<typeof DefinitionChange>;

/** Every kind of template history entry. */
export const TEMPLATE_HISTORY_ACTIONS = [
  'imported',
  'revised',
  'updated',
  'submitted',
  'levelApproved',
  'approved',
  'rejected',
  'withdrawn',
  'superseded',
  'escalated',
] as const;

/** The zod schema of {@link TemplateHistoryEntry}. */
export const TemplateHistoryEntry = z.object({
  id: z.string(),
  code: TemplateCode,
  /** 1, 2, 3 … per code, in the order things happened. */
  seq: z.number().int().min(1),
  versionId: z.string(),
  version: z.number().int().min(1),
  action: z.enum(TEMPLATE_HISTORY_ACTIONS),
  actorId: z.string(),
  at: z.number().int(),
  /** One readable line. */
  summary: z.string(),
  changes: z.array(DefinitionChange).default([]),
  reason: z.string().nullable().default(null),
  /** Idempotency for entries written from redelivered domain events. */
  eventId: z.string().nullable().default(null),
});
/** An entry of a template's history: who did what to which version, when. */
export type TemplateHistoryEntry = z.infer<typeof TemplateHistoryEntry>;

/** Per-code bookkeeping: the version counter, the effective and the open (draft/pending) version. */
export const TemplateHead = z.object({
  code: TemplateCode,
  latestVersion: z.number().int().min(0),
  effectiveVersionId: z.string().nullable(),
  /** At most one DRAFT or PENDING_APPROVAL version per code, so reviewers never compare two open edits. */
  openVersionId: z.string().nullable(),
  historySeq: z.number().int().min(0),
});
/** A template's head: its latest version number, its effective version and the version being edited or approved. */
export type TemplateHead = z.infer<typeof TemplateHead>;

export function templateVersionId(code: string, version: number): string {
  return `${code}.v${String(version).padStart(4, '0')}`;
}
