import { RemovalPolicy, SecretValue, Validations } from 'aws-cdk-lib';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { THREETONE_API_KEY_PLACEHOLDER } from '#functions/config.js';

export interface PipelineSecretsProps {
  /** Import this secret instead of creating the webhook secret. @default - created, with a random value */
  readonly webhookSecretArn?: string;
  /** Import this secret instead of creating the API key secret. @default - created, holding a placeholder to replace */
  readonly apiKeySecretArn?: string;
}

/**
 * The two secrets the functions read at run time: the webhook signing secret(s) and the ThreeTone
 * API key. Each is either created here or imported by its complete ARN. Created secrets are kept when
 * the stack is deleted: ThreeTone holds a copy of the webhook secret, and losing it breaks delivery.
 */
export class PipelineSecrets extends Construct {
  /** SecretString: one webhook secret, or several comma-separated (rotation without downtime). */
  public readonly webhookSecret: ISecret;
  /** SecretString: the ThreeTone API key (or `{"apiKey": "..."}`). */
  public readonly apiKeySecret: ISecret;
  /**
   * SecretString: the key of the caller lookup (HMAC-SHA256 of phone numbers, README "Erasure").
   * Generated; never leaves AWS; replacing it makes earlier lookup items unfindable.
   */
  public readonly callerKeySecret: ISecret;

  constructor(scope: Construct, id: string, props: PipelineSecretsProps = {}) {
    super(scope, id);

    this.webhookSecret = props.webhookSecretArn
      ? Secret.fromSecretCompleteArn(this, 'WebhookSecret', props.webhookSecretArn)
      : this.created('WebhookSecret', {
          description: 'ThreeTone webhook signing secret(s), comma-separated; register the first with ThreeTone',
          // A random value usable as-is when registering the webhook with ThreeTone.
          generateSecretString: { passwordLength: 48, excludePunctuation: true, includeSpace: false },
        }, 'several comma-separated webhook secrets are accepted at once, so a new one is added, registered with ThreeTone, and the old one removed afterwards');

    this.apiKeySecret = props.apiKeySecretArn
      ? Secret.fromSecretCompleteArn(this, 'ApiKeySecret', props.apiKeySecretArn)
      : this.created('ApiKeySecret', {
          description: 'ThreeTone API key (x-api-key); replace the placeholder with your key',
          // A value the processor recognises: until it is replaced, messages wait (not dead-letter)
          // and one Platform Alert plus the ThreeToneApiKeyMissing alarm name this secret. Not secret.
          secretStringValue: SecretValue.unsafePlainText(THREETONE_API_KEY_PLACEHOLDER),
        }, 'a new key is created at ThreeTone, stored with put-secret-value, and the old key revoked once the functions\' 5-minute cache has expired');

    this.callerKeySecret = this.created('CallerKeySecret', {
      description: 'Key of the caller lookup: phone numbers are stored only as HMAC-SHA256 under it (erasure by phone number)',
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
    }, undefined,
      'The caller lookup stores phone numbers only as HMAC-SHA256 digests under this key; a rotated key would leave every ' +
      'earlier digest unfindable, so conversations could no longer be erased by phone number. The key never leaves AWS and ' +
      'only the processor and the erasure function may read it; replacing it is a documented manual step ' +
      '(docs/aws-deployment.md, "Erasing conversations").');
  }

  private created(id: string, props: ConstructorParameters<typeof Secret>[2], rotation: string | undefined, reason?: string): Secret {
    const secret = new Secret(this, id, { ...props, removalPolicy: RemovalPolicy.RETAIN });
    Validations.of(secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        reason ??
        'The value is issued by or registered at ThreeTone, and no confirmed ThreeTone API lets a rotation Lambda ' +
          `change it there, so Secrets Manager cannot rotate it alone. Rotation is a documented manual step without downtime: ${rotation} ` +
          '(docs/aws-deployment.md, "Rotating secrets").',
    });
    return secret;
  }
}
