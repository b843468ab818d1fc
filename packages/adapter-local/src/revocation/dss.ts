/**
 * The Document Security Store (ISO 32000-2 §12.8.4.3, ETSI EN 319 142-1 §5.4): the catalog's /DSS dictionary with
 * the certificates, OCSP responses and CRLs a validator needs, and /VRI entries that say which of them belong to
 * which signature. This file reads a DSS and finds the certificates of a signature; `long-term.ts` writes it and
 * `verify.ts` checks signatures against it.
 */
import { createHash } from 'node:crypto';
import { decodeStream, type PdfDict, type PdfReader, PdfStream, PdfString, type PdfValue } from '@sealflow/pdf-toolkit';
import { readCmsSigner } from '../cms-reader.js';
import { readTlv } from '../der.js';
import { issuerAndSerial } from '../signing-identity.js';
import { TSA_OID } from '../timestamp/rfc3161.js';
import { type CertificateParts, certificateParts, isIssuedBy } from './revocation-data.js';

/** The decoded contents of a document's DSS (empty lists when it has none). */
export interface DssContents {
  certs: Uint8Array[];
  ocsps: Uint8Array[];
  crls: Uint8Array[];
  /** Where each decoded stream above came from (the value in the DSS array, usually a reference), index for index. */
  sources: { certs: PdfValue[]; ocsps: PdfValue[]; crls: PdfValue[] };
}

/** Reads the catalog's /DSS; streams that cannot be decoded are skipped (they prove nothing). */
export function readDss(reader: PdfReader, catalog: PdfDict | undefined): DssContents {
  const dss = reader.dict(catalog?.get('DSS'));
  const streams = (key: string) => {
    const decoded: Uint8Array[] = [];
    const sources: PdfValue[] = [];
    for (const v of reader.array(dss?.get(key)) ?? []) {
      const s = reader.resolve(v);
      if (!(s instanceof PdfStream)) continue;
      try {
        decoded.push(decodeStream(s));
        sources.push(v);
      } catch {
        // An undecodable stream proves nothing; it is left out.
      }
    }
    return { decoded, sources };
  };
  const certs = streams('Certs');
  const ocsps = streams('OCSPs');
  const crls = streams('CRLs');
  return {
    certs: certs.decoded,
    ocsps: ocsps.decoded,
    crls: crls.decoded,
    sources: { certs: certs.sources, ocsps: ocsps.sources, crls: crls.sources },
  };
}

/** A signature's CMS: the signer certificate, and for a signature timestamp the token's too. */
export interface SignedCms {
  /** The certificate that made the CMS signature, when it is embedded. */
  signer: Uint8Array | undefined;
  /** All certificates carried (the signer's chain as embedded). */
  certificates: Uint8Array[];
  /** The signature timestamp token inside a CAdES signature, itself a CMS. */
  timestampToken: Uint8Array | undefined;
}

/** The signer certificate of a CMS SignedData (a CAdES signature or an RFC 3161 token), by issuer and serial. */
export function signedCms(cms: Uint8Array): SignedCms {
  const view = readCmsSigner(cms);
  const signer = view.certificates.find((cert) => {
    const { issuerDer, serialNumberDer } = issuerAndSerial(cert);
    const serialContent = serialNumberDer.subarray(readTlv(serialNumberDer, 0).contentStart);
    return Buffer.from(view.issuerDer).equals(issuerDer) && Buffer.from(view.serialNumber).equals(serialContent);
  });
  const timestampToken = view.unsignedAttributes.find((a) => a.type === TSA_OID.signatureTimeStampToken)?.value;
  return { signer, certificates: view.certificates, timestampToken };
}

/**
 * The chain from `leaf` up through `pool`: each next certificate is the one whose subject is the previous one's
 * issuer and whose key verifies it; it stops at a self-signed certificate, or where no issuer is found.
 */
export function buildChain(leaf: Uint8Array, pool: readonly Uint8Array[]): CertificateParts[] {
  const candidates = pool.map(certificateParts);
  const chain = [certificateParts(leaf)];
  for (let depth = 0; depth < 8; depth++) {
    const current = chain[chain.length - 1]!;
    if (isSelfSigned(current)) break;
    const issuer = candidates.find((c) => !chain.includes(c) && isIssuedBy(current, c));
    if (!issuer) break;
    chain.push(issuer);
  }
  return chain;
}

export function isSelfSigned(cert: CertificateParts): boolean {
  return Buffer.from(cert.issuerDer).equals(cert.subjectDer) && isIssuedBy(cert, cert);
}

/** The /VRI key of a signature: upper-case hex SHA-1 of its /Contents string's bytes (padding included). */
export function vriKey(contents: Uint8Array): string {
  return createHash('sha1').update(contents).digest('hex').toUpperCase();
}

/** The signature dictionaries of every signed field, in field order. */
export function signatureDictionaries(
  reader: PdfReader,
  catalog: PdfDict | undefined,
): { name: string; sig: PdfValue }[] {
  const acro = reader.dict(catalog?.get('AcroForm'));
  const found: { name: string; sig: PdfValue }[] = [];
  const visit = (items: PdfValue[], prefix: string, inheritedFt: string | undefined, depth: number) => {
    for (const item of items) {
      const d = reader.dict(item);
      if (!d || depth > 32) continue;
      const t = reader.resolve(d.get('T'));
      const partial = t instanceof PdfString ? t.toText() : undefined;
      const full = partial === undefined ? prefix : prefix ? `${prefix}.${partial}` : partial;
      const ft = (d.get('FT') as { name?: string } | undefined)?.name ?? inheritedFt;
      const v = d.get('V');
      if (ft === 'Sig' && reader.dict(v) && partial !== undefined) found.push({ name: full, sig: v! });
      const kids = reader.array(d.get('Kids'));
      if (kids) visit(kids, full, ft, depth + 1);
    }
  };
  visit(reader.array(acro?.get('Fields')) ?? [], '', undefined, 0);
  return found;
}
