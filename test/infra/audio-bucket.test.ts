/**
 * The audio bucket (README "Audio"): private, TLS-only, encrypted, unversioned (an erasure's delete
 * removes the recording), expiring recordings after AUDIO_RETENTION_DAYS, aborting stale multipart
 * uploads, retained with the stack; and the download route is IAM-authorized.
 */
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { logicalId, synthPipeline } from './support.js';

describe('audio bucket (stateful stack)', () => {
  const { stateful, statefulTemplate, statelessTemplate } = synthPipeline();

  it('is private, TLS-only, encrypted, unversioned and kept when the stack goes away', () => {
    const buckets = statefulTemplate.findResources('AWS::S3::Bucket');
    expect(Object.keys(buckets)).toEqual([logicalId(stateful.audioBucket)]);
    const bucket = buckets[logicalId(stateful.audioBucket)]!;
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(bucket.UpdateReplacePolicy).toBe('Retain');
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket.Properties.BucketEncryption).toEqual({ ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] });
    expect(bucket.Properties.VersioningConfiguration).toBeUndefined();
    expect(bucket.Properties.OwnershipControls).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
    expect(bucket.Properties.BucketName).toBeUndefined(); // no hard-coded name
  });

  it('refuses every request that is not TLS (1.2 or later)', () => {
    const statements = Object.values(statefulTemplate.findResources('AWS::S3::BucketPolicy')).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as { Effect: string; Condition: Record<string, Record<string, unknown>> }[],
    );
    const denies = statements.filter((s) => s.Effect === 'Deny');
    expect(denies.some((s) => s.Condition.Bool?.['aws:SecureTransport'] === 'false')).toBe(true);
    expect(denies.some((s) => s.Condition.NumericLessThan?.['s3:TlsVersion'] === 1.2)).toBe(true);
  });

  it('expires recordings after AUDIO_RETENTION_DAYS (90 by default) and aborts incomplete uploads after a day', () => {
    statefulTemplate.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Id: 'abort-incomplete-uploads', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' }),
          Match.objectLike({ Id: 'audio-retention', ExpirationInDays: 90, Status: 'Enabled' }),
        ]),
      },
    });
    const custom = synthPipeline({ context: { audioRetentionDays: 30 } }).statefulTemplate;
    custom.hasResourceProperties('AWS::S3::Bucket', { LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ ExpirationInDays: 30 })]) } });
    const forever = synthPipeline({ context: { audioRetentionDays: 0 } }).statefulTemplate;
    const rules = Object.values(forever.findResources('AWS::S3::Bucket'))[0]!.Properties.LifecycleConfiguration.Rules as { Id: string }[];
    expect(rules.map((r) => r.Id)).toEqual(['abort-incomplete-uploads']);
  });

  it('serves GET /conversations/{conversation_id}/audio as an IAM-authorized route of the query function', () => {
    statelessTemplate.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: 'GET /conversations/{conversation_id}/audio',
      AuthorizationType: 'AWS_IAM',
    });
  });
});
