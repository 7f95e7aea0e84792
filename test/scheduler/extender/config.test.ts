import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configFromArgs, DEFAULT_CONFIG } from '../../../src/scheduler/extender/config.js';

describe('extender config', () => {
  it('fills defaults and lets flags override the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-config-'));
    const file = join(dir, 'extender.yaml');
    writeFileSync(file, 'port: 9000\nsigningKeyFile: /etc/key\nleaderElection:\n  namespace: gpu\n');
    const config = configFromArgs(['--config', file, '--port', '9100', '--lease-duration', '20']);
    expect(config.port).toBe(9100);
    expect(config.leaderElection).toEqual({ ...DEFAULT_CONFIG.leaderElection, namespace: 'gpu', leaseDurationSeconds: 20 });
    expect(config.reservationTtlSeconds).toBe(DEFAULT_CONFIG.reservationTtlSeconds);
    // kube-scheduler's verbs on loopback unless asked otherwise; the webhook listener for the API server.
    expect(config.host).toBe('127.0.0.1');
    expect(config.webhookHost).toBe('0.0.0.0');
    expect(configFromArgs(['--signing-key-file', 'k', '--trusted-users', 'system:serviceaccount:a:b, system:serviceaccount:a:c']).trustedUsers).toEqual([
      'system:serviceaccount:a:b',
      'system:serviceaccount:a:c',
    ]);
  });

  it.each([
    [['--signing-key-file', 'k', '--port', 'x'], "--port: must be a whole number, got 'x'"],
    [['--signing-key-file', 'k', '--port', '70000'], 'flags.port: must be <= 65535'],
    [['--port', '1'], 'a signing key is required'],
    [['--signing-key-file', 'k', '--signing-key-secret', 'ns/s'], 'not both'],
    [['--signing-key-secret', 'no-slash'], 'flags.signingKeySecret: must match pattern'],
    [['--signing-key-file', 'k', '--renew-deadline', '30'], 'retryPeriodSeconds < renewDeadlineSeconds < leaseDurationSeconds'],
    [['--signing-key-file', 'k', '--log-level', 'loud'], 'flags.logLevel: must be equal to one of the allowed values'],
    [['--bogus', '1'], "Unknown option '--bogus'"],
    [['--signing-key-file', 'k', '--client-ca-file', 'ca.crt'], 'give tlsCertFile and tlsKeyFile too'],
  ])('rejects %j with a clear error', (argv, message) => {
    expect(() => configFromArgs(argv)).toThrow(message);
  });

  it('names the file and field of a bad config file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-config-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'signingKeyFile: k\nleaderElection:\n  enabled: maybe\n');
    expect(() => configFromArgs(['--config', file])).toThrow(`${file}.leaderElection.enabled: must be boolean`);
  });
});
