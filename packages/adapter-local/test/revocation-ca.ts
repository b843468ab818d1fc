/**
 * A certificate authority made with the openssl CLI for the long-term validation tests: a root, certificates it
 * issues with an OCSP responder URL (Authority Information Access) and a CRL distribution point, and one local HTTP
 * server that serves both. OCSP answers are made by `openssl ocsp -index … -reqin … -respout …` from the CA's
 * index.txt, and the CRL by `openssl ca -gencrl`, so what our code fetches and checks is what openssl produces.
 *
 * Revocation is written into index.txt with a chosen date, so a test can revoke a certificate "before" or "after"
 * a signature without waiting for the clock.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface IssuedCertificate {
  certificatePem: string;
  privateKeyPem: string;
  der: Uint8Array;
  /** Serial number, upper-case hex as in index.txt. */
  serial: string;
  file: string;
}

export interface TestCa {
  name: string;
  dir: string;
  caPem: string;
  caDer: Uint8Array;
  caFile: string;
  /** http://127.0.0.1:port */
  baseUrl: string;
  /** What the server does: answer, fail with HTTP 503, or serve another CA's CRL at the CRL URL. */
  mode: { ocsp: 'up' | 'down'; crl: 'up' | 'down' | Uint8Array };
  /** Requests the server received, by path. */
  requests: { ocsp: number; crl: number };
  issue(commonName: string, kind?: 'signer' | 'tsa'): IssuedCertificate;
  /** Marks `cert` revoked at `at` in index.txt (OCSP answers and the next CRL say so). */
  revoke(cert: IssuedCertificate, at: Date): void;
  /** The current CRL, DER. */
  crl(): Uint8Array;
  close(): Promise<void>;
}

const openssl = (args: string[], cwd?: string) => execFileSync('openssl', args, { cwd, encoding: 'latin1' });

/** YYMMDDHHMMSSZ, as index.txt writes dates. */
function utcTime(d: Date): string {
  return d.toISOString().replace(/^\d\d(\d\d)-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d).*$/, '$1$2$3$4$5$6Z');
}

function pemToDer(pem: string): Uint8Array {
  const body = /-----BEGIN [A-Z0-9 ]+-----([\s\S]*?)-----END/.exec(pem)![1]!;
  return new Uint8Array(Buffer.from(body.replace(/\s+/g, ''), 'base64'));
}

export async function createTestCa(name = 'sealflow test CA'): Promise<TestCa> {
  const dir = mkdtempSync(join(tmpdir(), 'sealflow-ca-'));
  const requests = { ocsp: 0, crl: 0 };
  const mode: TestCa['mode'] = { ocsp: 'up', crl: 'up' };
  let ca: TestCa;

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        if (req.method === 'POST' && req.url === '/ocsp') {
          requests.ocsp++;
          if (mode.ocsp === 'down') {
            res.writeHead(503).end();
            return;
          }
          writeFileSync(join(dir, 'req.der'), Buffer.concat(chunks));
          openssl(
            [
              'ocsp',
              '-index',
              'index.txt',
              '-CA',
              'ca.pem',
              '-rsigner',
              'ca.pem',
              '-rkey',
              'ca.key',
              '-reqin',
              'req.der',
            ].concat(['-respout', 'resp.der', '-ndays', '7']),
            dir,
          );
          res.writeHead(200, { 'content-type': 'application/ocsp-response' }).end(readFileSync(join(dir, 'resp.der')));
          return;
        }
        if (req.method === 'GET' && req.url === '/ca.crl') {
          requests.crl++;
          if (mode.crl === 'down') {
            res.writeHead(503).end();
            return;
          }
          const body = mode.crl instanceof Uint8Array ? mode.crl : ca.crl();
          res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(Buffer.from(body));
          return;
        }
        res.writeHead(404).end();
      } catch (error) {
        res.writeHead(500).end(String(error));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '1000\n');
  writeFileSync(join(dir, 'crlnumber'), '01\n');
  writeFileSync(
    join(dir, 'ca.cnf'),
    `[ca]
default_ca = test_ca
[test_ca]
dir = ${dir}
database = $dir/index.txt
serial = $dir/serial
crlnumber = $dir/crlnumber
new_certs_dir = $dir
certificate = $dir/ca.pem
private_key = $dir/ca.key
default_md = sha256
default_crl_days = 7
policy = anything
unique_subject = no
copy_extensions = none
[anything]
commonName = supplied
organizationName = optional
countryName = optional
[signer]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
authorityInfoAccess = OCSP;URI:${baseUrl}/ocsp
crlDistributionPoints = URI:${baseUrl}/ca.crl
[tsa]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = critical,timeStamping
authorityInfoAccess = OCSP;URI:${baseUrl}/ocsp
crlDistributionPoints = URI:${baseUrl}/ca.crl
`,
  );
  openssl(
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '3650']
      .concat(['-subj', `/C=CN/O=sealflow test/CN=${name}`, '-set_serial', '1'])
      .concat(['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']),
    dir,
  );
  const caPem = readFileSync(join(dir, 'ca.pem'), 'latin1');
  let issued = 0;

  ca = {
    name,
    dir,
    caPem,
    caDer: pemToDer(caPem),
    caFile: join(dir, 'ca.pem'),
    baseUrl,
    mode,
    requests,
    issue(commonName, kind = 'signer') {
      const id = `cert${issued++}`;
      openssl(
        ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${id}.key`, '-out', `${id}.csr`].concat([
          '-subj',
          `/C=CN/O=sealflow test/CN=${commonName}`,
          '-utf8',
        ]),
        dir,
      );
      openssl(
        [
          'ca',
          '-batch',
          '-config',
          'ca.cnf',
          '-extensions',
          kind,
          '-in',
          `${id}.csr`,
          '-out',
          `${id}.pem`,
          '-notext',
        ].concat(['-startdate', '20240101000000Z', '-enddate', '20351231000000Z', '-utf8']),
        dir,
      );
      const certificatePem = readFileSync(join(dir, `${id}.pem`), 'latin1');
      const serial = openssl(['x509', '-in', `${id}.pem`, '-noout', '-serial'], dir)
        .trim()
        .replace('serial=', '');
      return {
        certificatePem,
        privateKeyPem: readFileSync(join(dir, `${id}.key`), 'latin1'),
        der: pemToDer(certificatePem),
        serial,
        file: join(dir, `${id}.pem`),
      };
    },
    revoke(cert, at) {
      const file = join(dir, 'index.txt');
      const lines = readFileSync(file, 'latin1').split('\n');
      const i = lines.findIndex((l) => l.split('\t')[3] === cert.serial);
      if (i < 0) throw new Error(`serial ${cert.serial} is not in index.txt`);
      const f = lines[i]!.split('\t');
      lines[i] = ['R', f[1], `${utcTime(at)},keyCompromise`, f[3], f[4], f[5]].join('\t');
      writeFileSync(file, lines.join('\n'));
    },
    crl() {
      openssl(['ca', '-gencrl', '-config', 'ca.cnf', '-out', 'crl.pem'], dir);
      return pemToDer(readFileSync(join(dir, 'crl.pem'), 'latin1'));
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  return ca;
}
