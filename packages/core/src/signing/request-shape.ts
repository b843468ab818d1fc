/**
 * What must hold of a request before there is anything to keep a record of: the shape of a sign request and of a
 * query, read into messages that name the field and say what it is for; and the ids signing records get.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ValidationError } from '../errors.js';
import { jsonProblem } from '../model/json.js';

const printable = z
  .string()
  .regex(/^[\x21-\x7e]{1,64}$/, { message: 'must be 1–64 printable ASCII characters without spaces.' });
const text = (max: number) => z.string().max(max, { message: `must be at most ${max} characters.` });
export const SignRequestShape = z.object({
  businessNo: printable.describe("the host's business number (借据号, 授信申请号 …)"),
  scene: z.string().min(1).describe('the signing scene, such as LOAN_CONTRACT'),
  funding: z.enum(['platform', 'funder']).optional().describe('who funds the loan: platform or funder'),
  funder: z
    .object({
      id: printable.describe("the funder's id"),
      name: text(100).min(1).describe("the funder's registered name"),
      creditCode: text(18).min(1).describe("the funder's unified social credit code"),
    })
    .optional()
    .describe('the assigned funder of a funder-funded loan'),
  // Only the types here: their content is checked with the template values, so a bad one leaves a FAILED record.
  borrower: z
    .object({
      name: text(100).describe("the borrower's name"),
      idNumber: text(32).describe("the borrower's ID number"),
      mobile: text(32).describe("the borrower's mobile number"),
    })
    .describe('who borrows: name, idNumber and mobile'),
  // Values are kept in the workflow and fingerprinted as JSON: anything else is refused here, before any record.
  values: z
    .custom<Record<string, unknown>>(
      (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && jsonProblem(v) === undefined,
      { error: (issue) => jsonProblem(issue.input) ?? 'values must be an object keyed by source name.' },
    )
    .optional(),
  consent: z
    .object({
      at: z.number().int().nonnegative().describe('when the customer consented, epoch ms'),
      channel: text(64).min(1).describe('where the customer consented, such as app or h5'),
      ip: text(64).min(1).describe('the IP address the customer consented from'),
      device: text(200).min(1).describe('the device the customer consented on'),
      documentVersionsShown: z
        .array(text(100))
        .min(1, { message: 'list the template versions the customer was shown.' })
        .describe('the template versions the customer was shown'),
    })
    .describe("the customer's consent: at, channel, ip, device, documentVersionsShown"),
  actor: z.object({ id: text(100).min(1).describe('who asks for the signing') }).describe('who asks for the signing'),
});

/** The `.describe()` text of the field at `path`, to tell a person what the field is for. */
function describedAt(schema: z.ZodType, path: readonly PropertyKey[]): string | undefined {
  let field: z.ZodType | undefined = schema;
  for (const key of path) {
    while (field instanceof z.ZodOptional) field = field.unwrap() as z.ZodType;
    if (field instanceof z.ZodObject && typeof key === 'string') field = field.shape[key] as z.ZodType | undefined;
    else if (field instanceof z.ZodArray && typeof key === 'number') field = field.element as z.ZodType;
    else return undefined;
  }
  return field?.description;
}

/** One readable line per problem, naming the field: "consent.ip is required: the IP address …". */
function requestProblem(schema: z.ZodType, input: unknown, issue: z.core.$ZodIssue, where: string): string {
  const purpose = describedAt(schema, issue.path);
  const about = purpose === undefined ? '' : `: ${purpose}`;
  // zod leaves the input out of its issues (it may be personal data), so look at what was given at that path.
  if (issue.code === 'invalid_type' && valueAt(input, issue.path) === undefined) return `${where} is required${about}`;
  if (issue.code === 'invalid_type') return `${where} must be ${article(issue.expected)}${about}`;
  if (issue.code === 'too_small' && issue.origin === 'string' && issue.minimum === 1) {
    return `${where} must not be empty${about}`;
  }
  return `${where}: ${issue.message}`;
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let at = value;
  for (const key of path)
    at = at !== null && typeof at === 'object' ? (at as Record<PropertyKey, unknown>)[key] : undefined;
  return at;
}

function article(type: string): string {
  return `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`;
}

export function parseShape<T>(schema: z.ZodType<T>, value: unknown, what: string, title = 'signing request'): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  // The request's own fields are named as the caller wrote them (consent.ip); other arguments by their name.
  const named = (path: readonly PropertyKey[]) =>
    (what === 'request' && path.length > 0 ? path : [what, ...path]).map(String).join('.');
  const problems = result.error.issues.map((i) => requestProblem(schema, value, i, named(i.path)));
  throw new ValidationError(`Invalid ${title} — ${problems.join('; ')}`, {
    details: { paths: result.error.issues.map((i) => [what, ...i.path].join('.')) },
  });
}

/** Record ids arrive from hosts' URLs and queues: anything but a plausible id is refused before storage sees it. */
export function checkRecordId(recordId: unknown): asserts recordId is string {
  if (typeof recordId !== 'string' || recordId.length === 0 || recordId.length > 200) {
    throw new ValidationError('A signing record id is a non-empty string of at most 200 characters, such as sgn_…_1.', {
      details: { paths: ['recordId'] },
    });
  }
}

export const SigningQueryShape = z.object({
  businessNo: z.string().optional(),
  customerIdNumber: z.string().optional(),
  scene: z.string().optional(),
  status: z.string().optional(),
  from: z.number().optional(),
  to: z.number().optional(),
  limit: z.number().int().positive().optional(),
  afterId: z.string().optional(),
});

/**
 * The id of a signing's n-th attempt: derived from (scene, businessNo), so a repeated request finds its signing by
 * key, and the business number itself is not spelled out in ids that travel to vendors and logs.
 */
export function signingRecordId(scene: string, businessNo: string, attempt: number): string {
  return `sgn_${createHash('sha256').update(`${scene}\u0000${businessNo}`).digest('hex').slice(0, 24)}_${attempt}`;
}
