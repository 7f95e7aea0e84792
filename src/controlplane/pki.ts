/**
 * A throwaway certificate authority for a local control plane: one CA signs the API server's serving certificate,
 * every client certificate (Kubernetes authenticates a client certificate as user CN in groups O) and the serving
 * certificates of webhooks the API server calls. ECDSA P-256, as kubeadm can issue; keys are PKCS#8 PEM, which Go's
 * crypto/tls and Node's tls both read.
 */
import { webcrypto } from 'node:crypto';
// @peculiar/x509's dependency injection (tsyringe) needs the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const VALIDITY_DAYS = 365;

export interface KeyPairPem {
  certPem: string;
  keyPem: string;
}

export interface CertificateRequest {
  commonName: string;
  /** Kubernetes groups (the subject's O). */
  organizations?: string[];
  /** DNS names and IP addresses the certificate serves. */
  dnsNames?: string[];
  ipAddresses?: string[];
  usage: 'server' | 'client' | 'both';
}

function escapeRdn(value: string): string {
  return value.replace(/([,+"\\<>;=#])/g, '\\$1');
}

function subjectOf(request: CertificateRequest): string {
  return [`CN=${escapeRdn(request.commonName)}`, ...(request.organizations ?? []).map((o) => `O=${escapeRdn(o)}`)].join(', ');
}

async function keyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END PRIVATE KEY-----\n`;
}

function validity(now: Date): { notBefore: Date; notAfter: Date } {
  // An hour back, so a clock a little behind the CA's still accepts it.
  return { notBefore: new Date(now.getTime() - 3_600_000), notAfter: new Date(now.getTime() + VALIDITY_DAYS * 86_400_000) };
}

function serialNumber(): string {
  // Positive 16-byte serial: the high bit cleared, as RFC 5280 asks.
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString('hex');
}

export class CertificateAuthority {
  private constructor(
    private readonly certificate: x509.X509Certificate,
    private readonly privateKey: CryptoKey,
  ) {}

  static async create(commonName: string, now = new Date()): Promise<CertificateAuthority> {
    const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
    const certificate = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serialNumber(),
      name: `CN=${escapeRdn(commonName)}`,
      ...validity(now),
      signingAlgorithm: ALGORITHM,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    return new CertificateAuthority(certificate, keys.privateKey);
  }

  get certPem(): string {
    return this.certificate.toString('pem') + '\n';
  }

  async issue(request: CertificateRequest, now = new Date()): Promise<KeyPairPem> {
    const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
    const usages = {
      server: [x509.ExtendedKeyUsage.serverAuth],
      client: [x509.ExtendedKeyUsage.clientAuth],
      both: [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
    }[request.usage];
    const names = [...(request.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })), ...(request.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value }))];
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: serialNumber(),
      subject: subjectOf(request),
      issuer: this.certificate.subject,
      ...validity(now),
      signingAlgorithm: ALGORITHM,
      publicKey: keys.publicKey,
      signingKey: this.privateKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension(usages),
        ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : []),
        await x509.AuthorityKeyIdentifierExtension.create(this.certificate),
      ],
    });
    return { certPem: certificate.toString('pem') + '\n', keyPem: await keyPem(keys.privateKey) };
  }
}
