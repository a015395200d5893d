import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const DAY_MS = 86_400_000;

export interface KeyPair {
  /** PEM text, ready for tls.createServer. */
  key: string;
  cert: string;
  certPath: string;
}

export interface LeafSpec {
  commonName?: string;
  /** subjectAltName entries; default DNS:localhost and IP:127.0.0.1, so loopback targets verify. */
  altNames?: string[];
  notBefore: Date;
  notAfter: Date;
}

/**
 * A throw-away certificate authority in a temp dir, driven by the `openssl` CLI. `openssl ca` is used
 * rather than `x509 -days` because only it takes explicit start and end dates (OpenSSL 3.0 has no
 * `-not_after`), which is how an already expired certificate is made without faking the clock.
 */
export class TestCa {
  private constructor(
    readonly dir: string,
    /** The CA's own certificate, PEM. */
    readonly ca: KeyPair,
    private serial = 0,
    /** `openssl ca` rewrites its serial and index files: two signings at once corrupt them. */
    private signing: Promise<unknown> = Promise.resolve(),
  ) {}

  static async create(): Promise<TestCa> {
    const dir = await mkdtemp(path.join(tmpdir(), 'prodrome-certs-'));
    await writeFile(path.join(dir, 'index.txt'), '');
    await writeFile(path.join(dir, 'serial'), '1000\n');
    await writeFile(
      path.join(dir, 'ca.cnf'),
      [
        '[ ca ]',
        'default_ca = test_ca',
        '[ test_ca ]',
        `database = ${path.join(dir, 'index.txt')}`,
        `new_certs_dir = ${dir}`,
        `serial = ${path.join(dir, 'serial')}`,
        'default_md = sha256',
        'policy = any',
        // Several leaves share a subject (CN=localhost); the default database refuses that.
        'unique_subject = no',
        // Keeps the CSR's subjectAltName, which hostname verification reads.
        'copy_extensions = copy',
        '[ any ]',
        'commonName = supplied',
        '',
      ].join('\n'),
    );
    const keyPath = path.join(dir, 'ca.key');
    const certPath = path.join(dir, 'ca.pem');
    await openssl(
      'req', '-x509', ...ecKey(keyPath), '-out', certPath, '-days', '3650', '-subj', '/O=Prodrome Tests/CN=Prodrome Test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    );
    return new TestCa(dir, await readPair(keyPath, certPath));
  }

  /** A leaf signed by this CA, valid between the given dates. */
  async leaf(spec: LeafSpec): Promise<KeyPair> {
    const name = `leaf-${++this.serial}`;
    const keyPath = path.join(this.dir, `${name}.key`);
    const csrPath = path.join(this.dir, `${name}.csr`);
    const certPath = path.join(this.dir, `${name}.pem`);
    const altNames = spec.altNames ?? ['DNS:localhost', 'IP:127.0.0.1'];
    await openssl('req', '-new', ...ecKey(keyPath), '-out', csrPath, '-subj', `/CN=${spec.commonName ?? 'localhost'}`, '-addext', `subjectAltName=${altNames.join(',')}`);
    const sign = this.signing.then(() => openssl(
      'ca', '-batch', '-notext', '-config', path.join(this.dir, 'ca.cnf'), '-cert', this.ca.certPath, '-keyfile', path.join(this.dir, 'ca.key'),
      '-in', csrPath, '-out', certPath, '-startdate', asn1Time(spec.notBefore), '-enddate', asn1Time(spec.notAfter),
    ));
    this.signing = sign.catch(() => {});
    await sign;
    return readPair(keyPath, certPath);
  }

  /** A leaf valid from yesterday for `days` more days (fractions allowed). */
  leafForDays(days: number, spec: Partial<LeafSpec> = {}): Promise<KeyPair> {
    const now = Date.now();
    return this.leaf({ notBefore: new Date(now - DAY_MS), notAfter: new Date(now + days * DAY_MS), ...spec });
  }

  /** A certificate that signs itself: no CA vouches for it. */
  async selfSigned(commonName = 'localhost'): Promise<KeyPair> {
    const name = `self-${++this.serial}`;
    const keyPath = path.join(this.dir, `${name}.key`);
    const certPath = path.join(this.dir, `${name}.pem`);
    await openssl('req', '-x509', ...ecKey(keyPath), '-out', certPath, '-days', '90', '-subj', `/CN=${commonName}`, '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1');
    return readPair(keyPath, certPath);
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

function ecKey(keyPath: string): string[] {
  // P-256 keys take milliseconds to make; RSA would dominate the test's run time.
  return ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyPath];
}

async function openssl(...args: string[]): Promise<void> {
  try {
    await run('openssl', args, { timeout: 10_000 });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`openssl ${args[0]} failed: ${e.stderr?.trim() || e.message}`, { cause: err });
  }
}

async function readPair(keyPath: string, certPath: string): Promise<KeyPair> {
  return { key: await readFile(keyPath, 'utf8'), cert: await readFile(certPath, 'utf8'), certPath };
}

/** `YYYYMMDDHHMMSSZ` (GeneralizedTime), which `openssl ca -startdate/-enddate` accepts for any year. */
function asn1Time(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').replace(/\.\d{3}Z$/, 'Z');
}
