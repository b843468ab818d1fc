/**
 * The complaint (投诉) model: what a customer complained about, how it was taken in and what became of it.
 *
 * A complaint's record is the one place that holds its personal data — the contact's name and mobile, and the free
 * text people wrote (the complaint itself, replies, the institution's report, findings). The complaint workflow's
 * context, its domain events, its notifications and every error carry only the complaint number, ids, stages,
 * flags and penalties; views mask the contact, and only the people who must call the customer read it in clear.
 */
import { z } from 'zod';
import { ValidationError } from '../errors.js';
import { mobileSchema } from '../model/values.js';
import { defineRepository } from '../repository.js';

/** A complaint number as the intake system issues it: letters, digits and `-`, such as `TS20260101-0001`. */
export const COMPLAINT_NO_PATTERN = /^[A-Za-z0-9][A-Za-z0-9-]{2,39}$/;

const text = (max: number) => z.string().trim().min(1, { message: 'must not be empty' }).max(max);
const hostId = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .refine((value) => !value.includes('\u0000'), { message: 'must not contain U+0000' });
const epochMs = z.number().int().nonnegative();

/** How to reach the complaining customer. Personal data: kept in the record only, masked everywhere else. */
export const complaintContactSchema = z.object({
  name: text(50),
  mobile: mobileSchema,
});

/** A person's way to reach the complaining customer. */
export type ComplaintContact = z.output<typeof complaintContactSchema>;

/** What customer service takes in (受理登记). */
export const complaintIntakeSchema = z.object({
  complaintNo: z.string().regex(COMPLAINT_NO_PATTERN, { message: 'must be 3–40 letters, digits or -' }),
  subject: text(200),
  content: text(5_000),
  contact: complaintContactSchema,
  /** When the customer complained, epoch ms; defaults to now. */
  receivedAt: epochMs.optional(),
  /** The host's id of the customer, when known: the feedback goes to them; otherwise to the staff who took it in. */
  customerId: hostId.optional(),
  /** The application the complaint is about, if any. */
  applicationId: hostId.optional(),
  /** The institution complained about, if any (the default target when it is routed to an institution). */
  institutionId: hostId.optional(),
});

/** A complaint as customer service takes it in. */
export type ComplaintIntake = z.input<typeof complaintIntakeSchema>;

/**
 * The platform teams a complaint about the platform's own staff is routed to: the customer team leader (客服组长),
 * the business department (业务部), the review supervisor (审核主管) or the follow-up staff (跟单).
 */
export const COMPLAINT_TEAMS = ['customer-team', 'business-department', 'review', 'follow-up'] as const;

/** One of {@link COMPLAINT_TEAMS}. */
export type ComplaintTeam = (typeof COMPLAINT_TEAMS)[number];

/** Where a complaint goes by responsibility: a platform team, or the institution that must handle it. */
export const complaintRouteSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('platform'), team: z.enum(COMPLAINT_TEAMS) }),
  z.object({ kind: z.literal('institution'), institutionId: hostId }),
]);

/** Where a complaint goes by responsibility. */
export type ComplaintRoute = z.output<typeof complaintRouteSchema>;

/**
 * The penalty a founded complaint's decision proposes: a warning, a fine in integer fen, or a suspension from
 * dispatch for some days. Recorded against the institution once both confirmers have confirmed it.
 */
export const penaltySchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('warning') }),
  z.object({ kind: z.literal('fine'), amountFen: z.number().int().positive().max(Number.MAX_SAFE_INTEGER) }),
  z.object({ kind: z.literal('suspension'), days: z.number().int().min(1).max(365) }),
]);

/** A proposed or confirmed penalty. */
export type Penalty = z.output<typeof penaltySchema>;

/**
 * Where a complaint stands, as its record shows it:
 * `received` → `accepted` → `with-team` | `with-institution` → (`reported` →) `investigating` → `deciding` →
 * `confirming-penalty` → `awaiting-feedback` → `closed`; or `refused` / `suggestion` right after intake.
 */
export const COMPLAINT_STAGES = [
  'received',
  'accepted',
  'with-team',
  'with-institution',
  'reported',
  'investigating',
  'deciding',
  'confirming-penalty',
  'awaiting-feedback',
  'closed',
  'refused',
  'suggestion',
] as const;

/** One of {@link COMPLAINT_STAGES}. */
export type ComplaintStage = (typeof COMPLAINT_STAGES)[number];

const noteSchema = z.object({ text: z.string(), by: z.string(), at: epochMs });

/** The stored complaint: the intake, personal data included, and the text each step added. */
export const complaintRecordSchema = z.object({
  complaintNo: z.string(),
  subject: z.string(),
  content: z.string(),
  contact: complaintContactSchema,
  receivedAt: epochMs,
  receivedBy: z.string(),
  customerId: z.string().nullable(),
  applicationId: z.string().nullable(),
  /** The institution complained about, as taken in. */
  institutionId: z.string().nullable(),
  /** The institution the complaint was routed to; its staff see the complaint from then on. */
  routedInstitutionId: z.string().nullable(),
  stage: z.enum(COMPLAINT_STAGES),
  /** Set when the institution did not report back in time. */
  reportOverdue: z.boolean(),
  /** The reply to the customer when refused, or the thanks for a suggestion. */
  reply: noteSchema.nullable(),
  /** The institution's report: its talk with the customer and its internal outcome. */
  report: z.object({ talk: z.string(), outcome: z.string(), by: z.string(), at: epochMs }).nullable(),
  findings: noteSchema.nullable(),
  decision: noteSchema.nullable(),
  feedback: noteSchema.nullable(),
});

/** The stored complaint. */
export type ComplaintRecord = z.output<typeof complaintRecordSchema>;

/** The repository of complaint records, tagged by routed institution and stage (never by personal data). */
export const complaintRecords = defineRepository({
  kind: 'dispatch.complaint',
  schema: complaintRecordSchema,
  id: (record) => record.complaintNo,
  tags: (record) => ({ institution: record.routedInstitutionId ?? undefined, stage: record.stage }),
  label: 'complaint',
});

/**
 * Parse `value` with `schema` or throw a `ValidationError` naming the field path (`complaint.contact.mobile`) and the
 * rule; the offending value is never quoted, since it may be personal data.
 */
export function parseComplaintInput<S extends z.ZodType>(schema: S, value: unknown, field: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const path = [field, ...issue.path.map(String)].join('.');
  throw new ValidationError(
    `${path} ${issue.message.startsWith('Mobile') ? 'is not a valid mobile' : issue.message}.`,
    {
      details: { field: path },
    },
  );
}
