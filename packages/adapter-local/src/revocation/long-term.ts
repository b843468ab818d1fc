/**
 * `addLongTermValidation`: PAdES baseline B-LT (and with a document timestamp B-LTA, ETSI EN 319 142-1 §6).
 *
 * For every signature and document timestamp in the PDF it collects the certificate chain (the signer's, and the
 * TSA's for a signature timestamp), asks the revocation source for an OCSP response or CRL for each certificate below
 * a self-signed root, and appends one incremental update whose catalog points to a Document Security Store holding
 * them, with a /VRI entry per signature. Nothing signed is touched, so every signature stays valid; a validator can
 * then judge each signature with what the document carries, after the CA's responders are gone.
 */
import { createHash } from 'node:crypto';
import { RevocationError, type RevocationSource, type TimestampAuthority } from '@sealflow/core';
import { dict, name, PdfDict, PdfReader, PdfRef, PdfStream, PdfString, type PdfValue } from '@sealflow/pdf-toolkit';
import { readTlv } from '../der.js';
import { SealingError, withSealingErrors } from '../errors.js';
import { IncrementalUpdate } from '../incremental-writer.js';
import { addDocumentTimestamp } from '../seal-pdf.js';
import { toDer } from '../timestamp/verify-token.js';
import { type CertificateParts, checkCrl, checkOcspResponse } from './revocation-data.js';
import {
  buildChain,
  type DssContents,
  isSelfSigned,
  readDss,
  signatureDictionaries,
  signedCms,
  vriKey,
} from './dss.js';

/** Options of {@link addLongTermValidation}. */
export interface LongTermValidationOptions {
  /** Where OCSP responses and CRLs come from (`httpRevocationSource()`, `staticRevocationSource()`). */
  revocation: RevocationSource;
  /**
   * Further certificates (intermediates, roots), DER or PEM, for chains the signatures do not embed completely. The
   * chain of each signature is built from its own certificates, these, and those already in the document's DSS.
   */
  certificates?: readonly (Uint8Array | string)[];
  /**
   * A TSA for PAdES B-LTA: after the DSS, a document timestamp covers the whole document, DSS included, so the
   * validation data is itself proven to have existed at the TSA's time. Renew it (call again) before its TSA
   * certificate expires.
   */
  documentTimestamp?: TimestampAuthority;
  /**
   * Fetch revocation data even for certificates the DSS already holds a valid answer about (default false: those
   * answers are reused, so renewing a B-LTA document only fetches for the new timestamp's chain).
   */
  refresh?: boolean;
}

/**
 * Returns `pdf` with a Document Security Store (/DSS with /Certs, /OCSPs, /CRLs and a /VRI entry per signature)
 * appended as an incremental update, holding the revocation data of every signature's certificate chain, TSA
 * chains included; with `documentTimestamp`, a document timestamp follows (B-LTA). Existing DSS data is kept and
 * extended. Rejects with the source's `RevocationError` when a certificate's status cannot be had (the signatures
 * are then still valid B-B/B-T signatures; try again later), REVOCATION_NOT_AVAILABLE when a certificate's issuer is
 * neither embedded nor in `certificates`, a `SealingError` for a PDF without signatures or that cannot be read, or
 * the TSA's `TimestampError`.
 */
export async function addLongTermValidation(pdf: Uint8Array, options: LongTermValidationOptions): Promise<Uint8Array> {
  const { revocation } = options;
  if (!revocation || typeof revocation.fetch !== 'function') {
    throw new SealingError(
      'INVALID_INPUT',
      'addLongTermValidation needs a revocation source (httpRevocationSource()).',
    );
  }
  const extra = (options.certificates ?? []).flatMap((c) => toDer(c));
  const { reader, catalog, rootRef, signatures, existing } = withSealingErrors(() => {
    const reader = new PdfReader(pdf);
    const rootRef = reader.trailer.get('Root');
    const catalog = reader.dict(rootRef);
    if (!(rootRef instanceof PdfRef) || !catalog) {
      throw new SealingError('PDF_MALFORMED', 'The PDF has no document catalog (/Root).');
    }
    const signatures = signatureDictionaries(reader, catalog).map(({ sig }) => {
      const contents = reader.resolve(reader.dict(sig)?.get('Contents'));
      if (!(contents instanceof PdfString)) {
        throw new SealingError('PDF_MALFORMED', 'A signature dictionary has no /Contents string.');
      }
      const bytes = contents.bytes;
      return { contents: bytes, cms: bytes.subarray(0, readTlv(bytes, 0).end) };
    });
    return { reader, catalog, rootRef, signatures, existing: readDss(reader, catalog) };
  });
  if (signatures.length === 0) {
    throw new SealingError(
      'INVALID_INPUT',
      'The PDF has no signatures, so there is nothing to add validation data for.',
    );
  }

  const store = new StreamStore(existing);
  // One fetch per certificate, however many signatures share it (the same seal signs every page).
  const fetched = new Map<string, Promise<{ ocsps: number[]; crls: number[] }>>();
  const vri = new Map<string, { certs: number[]; ocsps: number[]; crls: number[] }>();
  for (const signature of signatures) {
    const entry = { certs: new Set<number>(), ocsps: new Set<number>(), crls: new Set<number>() };
    const cmsList = [signature.cms];
    const first = readSigned(signature.cms);
    if (first.timestampToken) cmsList.push(first.timestampToken);
    for (const cms of cmsList) {
      const signed = cms === signature.cms ? first : readSigned(cms);
      if (!signed.signer) {
        throw new SealingError(
          'PDF_UNSUPPORTED',
          'A signature does not embed its signer certificate; it cannot be given validation data.',
        );
      }
      const chain = buildChain(signed.signer, [...signed.certificates, ...extra, ...existing.certs]);
      for (const cert of chain) entry.certs.add(store.add('Certs', cert.der));
      for (let i = 0; i < chain.length; i++) {
        const cert = chain[i]!;
        if (isSelfSigned(cert)) break;
        const issuer = chain[i + 1];
        if (!issuer) {
          throw new RevocationError(
            'REVOCATION_NOT_AVAILABLE',
            `The issuer certificate of ${cert.subject} is neither in the signature nor in the document; pass it (and any intermediates) in options.certificates.`,
          );
        }
        const key = Buffer.from(cert.der).toString('base64');
        let answers = fetched.get(key);
        if (!answers && !options.refresh) {
          const held = heldAnswers(existing, cert, issuer);
          if (held.ocsps.length || held.crls.length) {
            answers = Promise.resolve({
              ocsps: held.ocsps.map((r) => store.add('OCSPs', r)),
              crls: held.crls.map((c) => store.add('CRLs', c)),
            });
            fetched.set(key, answers);
          }
        }
        if (!answers) {
          answers = revocation.fetch(cert.der, issuer.der).then((data) => ({
            ocsps: data.ocspResponses.map((r) => store.add('OCSPs', r)),
            crls: data.crls.map((c) => store.add('CRLs', c)),
          }));
          fetched.set(key, answers);
        }
        const { ocsps, crls } = await answers;
        for (const o of ocsps) entry.ocsps.add(o);
        for (const c of crls) entry.crls.add(c);
      }
    }
    vri.set(vriKey(signature.contents), { certs: [...entry.certs], ocsps: [...entry.ocsps], crls: [...entry.crls] });
  }

  const out = withSealingErrors(() => writeDss(pdf, reader, catalog, rootRef, store, vri));
  if (!options.documentTimestamp) return out;
  return addDocumentTimestamp(out, { timestampAuthority: options.documentTimestamp });
}

/** The OCSP responses and CRLs already in the document that are valid answers about `cert`. */
function heldAnswers(existing: DssContents, cert: CertificateParts, issuer: CertificateParts) {
  const valid = (check: () => unknown) => {
    try {
      check();
      return true;
    } catch {
      return false;
    }
  };
  return {
    ocsps: existing.ocsps.filter((r) => valid(() => checkOcspResponse(r, cert, issuer))),
    crls: existing.crls.filter((c) => valid(() => checkCrl(c, cert, issuer))),
  };
}

function readSigned(cms: Uint8Array) {
  try {
    return signedCms(cms);
  } catch (cause) {
    throw new SealingError('PDF_MALFORMED', "A signature's /Contents is not a CMS SignedData.", { cause });
  }
}

type Kind = 'Certs' | 'OCSPs' | 'CRLs';

/**
 * The DSS streams: those already in the document (kept as they are, by reference) and new ones, each DER stored
 * once, however many signatures refer to it. Entries are indexes; refs are assigned when written.
 */
class StreamStore {
  readonly items: Record<Kind, { der: Uint8Array; kept?: PdfValue }[]> = { Certs: [], OCSPs: [], CRLs: [] };
  private readonly byHash = new Map<string, number>();

  constructor(existing: DssContents) {
    // Every existing entry is kept, duplicates included: only new data is deduplicated against it.
    const keep = (kind: Kind, ders: Uint8Array[], sources: PdfValue[]) => {
      for (let i = 0; i < ders.length; i++) {
        const index = this.items[kind].push({ der: ders[i]!, kept: sources[i] }) - 1;
        const key = this.key(kind, ders[i]!);
        if (!this.byHash.has(key)) this.byHash.set(key, index);
      }
    };
    keep('Certs', existing.certs, existing.sources.certs);
    keep('OCSPs', existing.ocsps, existing.sources.ocsps);
    keep('CRLs', existing.crls, existing.sources.crls);
  }

  add(kind: Kind, der: Uint8Array): number {
    const key = this.key(kind, der);
    const hit = this.byHash.get(key);
    if (hit !== undefined) return hit;
    const index = this.items[kind].push({ der }) - 1;
    this.byHash.set(key, index);
    return index;
  }

  private key(kind: Kind, der: Uint8Array): string {
    return `${kind}:${createHash('sha256').update(der).digest('base64')}`;
  }
}

function writeDss(
  pdf: Uint8Array,
  reader: PdfReader,
  catalog: PdfDict,
  rootRef: PdfRef,
  store: StreamStore,
  vri: Map<string, { certs: number[]; ocsps: number[]; crls: number[] }>,
): Uint8Array {
  const update = new IncrementalUpdate(reader);
  const oldDss = reader.dict(catalog.get('DSS'));
  const refs = {} as Record<Kind, PdfValue[]>;
  for (const kind of ['Certs', 'OCSPs', 'CRLs'] as const) {
    refs[kind] = store.items[kind].map((item) => {
      // Existing streams are referred to again, not copied.
      if (item.kept instanceof PdfRef) return item.kept;
      const ref = update.allocate();
      update.set(ref, new PdfStream(new PdfDict(), item.der));
      return ref;
    });
  }
  const vriDict = reader.dict(oldDss?.get('VRI'))?.clone() ?? new PdfDict();
  for (const [key, entry] of vri) {
    const pick = (kind: Kind, indexes: number[]) => (indexes.length ? indexes.map((i) => refs[kind][i]!) : undefined);
    vriDict.set(
      key,
      dict({
        Type: name('VRI'),
        Cert: pick('Certs', entry.certs),
        OCSP: pick('OCSPs', entry.ocsps),
        CRL: pick('CRLs', entry.crls),
      }),
    );
  }
  const dss = dict({
    Type: name('DSS'),
    VRI: vriDict,
    Certs: refs.Certs.length ? refs.Certs : undefined,
    OCSPs: refs.OCSPs.length ? refs.OCSPs : undefined,
    CRLs: refs.CRLs.length ? refs.CRLs : undefined,
  });
  const oldRef = catalog.get('DSS');
  if (oldRef instanceof PdfRef) {
    update.set(oldRef, dss);
  } else {
    const dssRef = update.allocate();
    update.set(dssRef, dss);
    update.set(rootRef, catalog.clone().set('DSS', dssRef));
  }
  return Buffer.concat([pdf, ...update.write()]);
}
