/**
 * Signing scenes (签章场景) as data: which documents are signed together in one vendor flow, by which parties, in
 * what order and how. The workflow never branches on a scene's name; it reads these definitions. A host adds its own
 * scene (or replaces a default) with `createSigningService({ scenes: [...] })`.
 */
import { z } from 'zod';
import { ValidationError } from '../errors.js';
import { TemplateCode, TemplateDocumentType } from '../templates/model.js';

/** Who pays out the loan: the platform itself, or an external funder (资金方) that signs with its own seal. */
export const Funding = z.enum(['platform', 'funder']);
/** Who funds a loan: the platform itself or an external funder. */
export type Funding = z.infer<typeof Funding>;

/**
 * How a party signs:
 * - `auto`: without interaction when the flow starts. An organisation's auto-seal (自动盖章), or a person's authorised
 *   silent signing (静默签署): the customer's recorded consent plus a real-name-verified identity is the signature.
 * - `vendorUi`: a person signs in the vendor's signing page; the workflow waits (callback or polling).
 * - `ownCall`: an organisation signs through its own call (`signAsFunder`) with its own seal; the workflow waits for
 *   it. Its identity comes from the request's `funder`.
 */
export const PartySigning = z.enum(['auto', 'vendorUi', 'ownCall']);
/** How a party signs: automatically, in the vendor's UI, or by its own call. */
export type PartySigning = z.infer<typeof PartySigning>;

const documentKey = z.string().regex(/^[a-z][a-z0-9-]{0,39}$/, {
  message: 'a document key is lower-case kebab-case, such as credit-contract.',
});

/** The zod schema of {@link SceneDocument}. */
export const SceneDocument = z
  .object({
    /** Our key for the document within the flow, such as `credit-contract`. */
    key: documentKey,
    /**
     * The kind of document this is (`LOAN_CONTRACT` …): the template routed to it must be of this `documentType`, or
     * signing is refused (TEMPLATE_DOCUMENT_TYPE_MISMATCH) — a mapping to the wrong template is never signed.
     */
    documentType: TemplateDocumentType,
    /** The template code used unless the host maps this document to another (`templateCodes`). */
    templateCode: TemplateCode,
    /** File name shown at the vendor and in downloads. */
    fileName: z
      .string()
      .min(1)
      .max(100)
      .refine((name) => !/[/\\\r\n\0]/.test(name), { message: 'fileName must be a bare file name.' }),
  })
  .strict();
/** A document a scene signs: which template, under which key. */
export type SceneDocument = z.infer<typeof SceneDocument>;

/** The zod schema of {@link SceneParty}. */
export const SceneParty = z
  .object({
    /** Matches a party role in each document's template, which says where this party's seal goes. */
    role: z.string().regex(/^[a-z][A-Za-z0-9]{0,39}$/, { message: 'role must be lowerCamelCase, e.g. borrower.' }),
    kind: z.enum(['person', 'organization']),
    signing: PartySigning,
    /** Signing order, 1 first; parties that wait (`vendorUi`, `ownCall`) come after every `auto` one. */
    order: z.number().int().min(1).max(99),
    /** Only for this funding; absent: always. */
    funding: Funding.optional(),
  })
  .strict();
/** A party of a scene: its role and how it signs. */
export type SceneParty = z.infer<typeof SceneParty>;

/** The zod schema of {@link SigningScene}. */
export const SigningScene = z
  .object({
    /** UPPER_SNAKE code hosts pass in `sign({ scene })`. */
    code: z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/, { message: 'a scene code is UPPER_SNAKE_CASE.' }),
    name: z.string().min(1).max(100),
    /** Signed as one bundle in one vendor flow: all of them or none. */
    documents: z.array(SceneDocument).min(1).max(10),
    /** Fundings the scene accepts; the first is the default. */
    fundings: z.array(Funding).min(1).default(['platform']),
    parties: z.array(SceneParty).min(1).max(5),
    /** How long the vendor flow may take before the signing fails; default from the service. */
    deadlineMs: z.number().int().positive().optional(),
  })
  .strict()
  .superRefine((scene, ctx) => {
    const keys = new Set<string>();
    for (const [i, document] of scene.documents.entries()) {
      if (keys.has(document.key)) {
        ctx.addIssue({ code: 'custom', path: ['documents', i, 'key'], message: `${document.key} is used twice.` });
      }
      keys.add(document.key);
    }
    for (const funding of scene.fundings) {
      const parties = partiesFor(scene, funding);
      const where = `funding ${funding}`;
      const roles = new Set<string>();
      for (const party of parties) {
        if (roles.has(party.role))
          ctx.addIssue({ code: 'custom', path: ['parties'], message: `${where}: role ${party.role} appears twice.` });
        roles.add(party.role);
      }
      if (parties.filter((p) => p.kind === 'person').length !== 1) {
        ctx.addIssue({
          code: 'custom',
          path: ['parties'],
          message: `${where}: exactly one person party is needed (the customer, from the request's borrower).`,
        });
      }
      const own = parties.filter((p) => p.signing === 'ownCall');
      if (own.length > 1 || own.some((p) => p.kind !== 'organization')) {
        ctx.addIssue({
          code: 'custom',
          path: ['parties'],
          message: `${where}: at most one ownCall party, and it must be an organisation (the funder).`,
        });
      }
      if (parties.some((p) => p.signing === 'vendorUi' && p.kind !== 'person')) {
        ctx.addIssue({ code: 'custom', path: ['parties'], message: `${where}: only a person signs in the vendor UI.` });
      }
      const lastAuto = Math.max(0, ...parties.filter((p) => p.signing === 'auto').map((p) => p.order));
      const early = parties.find((p) => p.signing !== 'auto' && p.order <= lastAuto);
      if (early) {
        ctx.addIssue({
          code: 'custom',
          path: ['parties'],
          message: `${where}: ${early.role} waits (${early.signing}) and must come after every auto party in order.`,
        });
      }
    }
  });
/** A signing scene (for example a loan contract): its documents and parties, after defaults are applied. */
export type SigningScene = z.infer<typeof SigningScene>;
/** A signing scene as a host writes it (see {@link SigningScene}). */
export type SigningSceneInput = z.input<typeof SigningScene>;

/** The parties that sign a scene under a funding, in signing order. */
export function partiesFor(scene: Pick<SigningScene, 'parties'>, funding: Funding): SceneParty[] {
  return scene.parties
    .filter((party) => party.funding === undefined || party.funding === funding)
    .sort((a, b) => a.order - b.order);
}

/** Seed 1's scenes. Template codes are defaults; hosts map them to their own codes with `templateCodes`. */
export const DEFAULT_SCENES: readonly SigningSceneInput[] = [
  {
    code: 'CREDIT_GRANT',
    name: '授信签章',
    documents: [
      {
        key: 'credit-contract',
        documentType: 'CREDIT_CONTRACT',
        templateCode: 'CREDIT_CONTRACT',
        fileName: '授信合同.pdf',
      },
      {
        key: 'data-query-authorization',
        documentType: 'DATA_QUERY_AUTHORIZATION',
        templateCode: 'DATA_QUERY_AUTHORIZATION',
        fileName: '数据查询授权书.pdf',
      },
    ],
    parties: [
      { role: 'borrower', kind: 'person', signing: 'auto', order: 1 },
      { role: 'platform', kind: 'organization', signing: 'auto', order: 2 },
    ],
  },
  {
    code: 'LOAN_CONTRACT',
    name: '借款合同签章',
    documents: [
      { key: 'loan-contract', documentType: 'LOAN_CONTRACT', templateCode: 'LOAN_CONTRACT', fileName: '借款合同.pdf' },
    ],
    fundings: ['platform', 'funder'],
    // A funder signs in its own time: a day, like the funders' other windows (seed 2).
    deadlineMs: 24 * 3_600_000,
    parties: [
      { role: 'borrower', kind: 'person', signing: 'auto', order: 1 },
      { role: 'platform', kind: 'organization', signing: 'auto', order: 2, funding: 'platform' },
      { role: 'funder', kind: 'organization', signing: 'ownCall', order: 2, funding: 'funder' },
    ],
  },
  {
    code: 'CARD_BINDING',
    name: '绑卡协议签章',
    documents: [
      {
        key: 'payment-agreement',
        documentType: 'PAYMENT_AGREEMENT',
        templateCode: 'PAYMENT_AGREEMENT',
        fileName: '支付协议.pdf',
      },
    ],
    parties: [
      { role: 'borrower', kind: 'person', signing: 'auto', order: 1 },
      { role: 'paymentCompany', kind: 'organization', signing: 'auto', order: 2 },
    ],
  },
];

/**
 * The scenes a service runs: the defaults, with the host's scenes added or replacing a default of the same code.
 * Every scene is validated; a bad one fails here, at start-up, with its path.
 */
export function resolveScenes(hostScenes: readonly SigningSceneInput[] = []): ReadonlyMap<string, SigningScene> {
  const scenes = new Map<string, SigningScene>();
  for (const input of [...DEFAULT_SCENES, ...hostScenes]) {
    const parsed = SigningScene.safeParse(input);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'scene'}: ${i.message}`);
      throw new ValidationError(
        `Signing scene ${String((input as { code?: unknown }).code)} is invalid — ${problems.join('; ')}`,
        { details: { scene: (input as { code?: unknown }).code, problems } },
      );
    }
    scenes.set(parsed.data.code, parsed.data);
  }
  return scenes;
}
