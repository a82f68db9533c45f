/**
 * The client `npm start` uses for DYNAMODB_ENDPOINT: region and credentials (no request is sent).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { externalDynamoDbClient, isLoopbackEndpoint, regionFor } from '#local/dynamodb-local.js';

describe('DYNAMODB_ENDPOINT client', () => {
  it.each([
    ['http://localhost:8000', true],
    ['http://127.0.0.1:8000', true],
    ['http://[::1]:8000', true],
    ['http://192.168.1.20:8000', false],
    ['https://dynamodb.eu-west-1.amazonaws.com', false],
  ])('%s is on this machine: %s', (endpoint, loopback) => {
    expect(isLoopbackEndpoint(endpoint)).toBe(loopback);
  });

  it.each([
    [{ AWS_REGION: 'eu-central-1', AWS_DEFAULT_REGION: 'us-west-2' }, 'https://dynamodb.eu-west-1.amazonaws.com', 'eu-central-1'],
    [{ AWS_DEFAULT_REGION: 'us-west-2' }, 'https://dynamodb.eu-west-1.amazonaws.com', 'us-west-2'],
    [{}, 'https://dynamodb.eu-west-1.amazonaws.com', 'eu-west-1'],
    [{}, 'https://dynamodb-fips.us-gov-west-1.amazonaws.com', 'us-gov-west-1'],
    [{ AWS_REGION: ' ' }, 'http://localhost:8000', 'us-east-1'],
  ])('region from %j and %s: %s', (env, endpoint, region) => {
    expect(regionFor(endpoint, env)).toBe(region);
  });

  describe('credentials', () => {
    beforeEach(() => {
      // No credentials anywhere the default chain looks (environment, files, instance metadata).
      for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_CONTAINER_CREDENTIALS_FULL_URI']) {
        vi.stubEnv(name, undefined);
      }
      vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', '/nonexistent/credentials');
      vi.stubEnv('AWS_CONFIG_FILE', '/nonexistent/config');
      vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
    });
    afterEach(() => {
      vi.unstubAllEnvs();
    });

    it('uses dummy credentials for an endpoint on this machine when the default chain has none', async () => {
      const { client, credentials } = await externalDynamoDbClient('http://127.0.0.1:8000', {});

      expect(credentials).toBe('dummy (local endpoint)');
      await expect(client.config.credentials()).resolves.toMatchObject({ accessKeyId: 'local' });
      client.destroy();
    });

    it("uses the default chain's credentials when it has some, even for an endpoint on this machine", async () => {
      vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
      vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'example-secret');

      const { client, credentials } = await externalDynamoDbClient('http://localhost:8000', {});

      expect(credentials).toBe('default chain');
      await expect(client.config.credentials()).resolves.toMatchObject({ accessKeyId: 'AKIDEXAMPLE' });
      client.destroy();
    });

    it('never falls back to dummy credentials for a remote endpoint', async () => {
      const { client, credentials } = await externalDynamoDbClient('https://dynamodb.eu-west-1.amazonaws.com', {});

      expect(credentials).toBe('default chain');
      await expect(client.config.credentials()).rejects.toThrow(/credentials/i);
      await expect(client.config.region()).resolves.toBe('eu-west-1');
      client.destroy();
    });
  });
});
