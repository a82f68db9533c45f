import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface AudioBucketProps {
  /** AUDIO_RETENTION_DAYS: recordings expire this long after they were archived; 0 keeps them. */
  readonly retentionDays: number;
}

/**
 * The archive of conversation recordings (README "Audio"): private (all public access blocked, bucket
 * owner owns every object, no ACLs), reachable over TLS only, encrypted at rest (SSE-S3), not
 * versioned (an erasure's delete must remove the recording, not hide it behind a delete marker),
 * recordings expire after AUDIO_RETENTION_DAYS, incomplete multipart uploads are aborted after a
 * day, and the bucket is kept when the stack goes away.
 */
export class AudioBucket extends Construct {
  public readonly bucket: Bucket;

  constructor(scope: Construct, id: string, props: AudioBucketProps) {
    super(scope, id);
    this.bucket = new Bucket(this, 'Bucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      encryption: BucketEncryption.S3_MANAGED,
      versioned: false,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
        ...(props.retentionDays > 0 ? [{ id: 'audio-retention', expiration: Duration.days(props.retentionDays) }] : []),
      ],
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'Every read of a recording goes through the IAM-authorized query route, logged in the API access logs, and then a ' +
        'presigned URL valid for minutes; writes and deletes come only from the enricher and erasure roles. Enable CloudTrail ' +
        'S3 data events on this bucket if object-level audit is required (docs/aws-deployment.md).',
    });
  }
}
