import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TABLE, TABLE_INDEXES } from '#adapters/table-schema.js';

/**
 * The single table of docs/data-model.md, its key and index names taken from the same module the
 * adapters use. On-demand, point-in-time recovery, encrypted with the AWS-managed key, TTL on
 * `expires_at`, and kept (and protected from deletion) when the stack goes away.
 */
export class ConversationTable extends Construct {
  public readonly table: Table;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const string = (name: string) => ({ name, type: AttributeType.STRING });

    this.table = new Table(this, 'Table', {
      partitionKey: string(TABLE.partitionKey),
      sortKey: string(TABLE.sortKey),
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // The `aws/dynamodb` key: encrypted at rest with every use logged in CloudTrail, and no key
      // policy to keep in step with the function roles. Switch to TableEncryption.CUSTOMER_MANAGED
      // (and grant kms:Decrypt/Encrypt/GenerateDataKey to the functions) if your policy requires it.
      encryption: TableEncryption.AWS_MANAGED,
      timeToLiveAttribute: TABLE.ttlAttribute,
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const index of TABLE_INDEXES) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: string(index.partitionKey),
        sortKey: string(index.sortKey),
        projectionType: ProjectionType.INCLUDE,
        nonKeyAttributes: [...index.include],
      });
    }
  }
}
