import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, type ITable, ProjectionType, StreamViewType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TABLE, TABLE_INDEXES } from '#adapters/table-schema.js';

/**
 * A table whose change stream is enabled: `tableStreamArn` is set (ITable has it optional). What the
 * outbox publisher's event source needs, so a table without a stream fails to compile, not to synth.
 */
export interface StreamingTable extends ITable {
  readonly tableStreamArn: string;
}

const hasStream = (table: Table): table is Table & StreamingTable => table.tableStreamArn !== undefined;

/**
 * The single table of docs/data-model.md, its key and index names taken from the same module the
 * adapters use. On-demand, point-in-time recovery, encrypted with the AWS-managed key, TTL on
 * `expires_at`, and kept (and protected from deletion) when the stack goes away. Its change stream
 * (both images) feeds the outbox publisher (docs/decisions.md D30).
 */
export class ConversationTable extends Construct {
  public readonly table: Table & StreamingTable;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const string = (name: string) => ({ name, type: AttributeType.STRING });

    const table = new Table(this, 'Table', {
      partitionKey: string(TABLE.partitionKey),
      sortKey: string(TABLE.sortKey),
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // The `aws/dynamodb` key: encrypted at rest with every use logged in CloudTrail, and no key
      // policy to keep in step with the function roles. Switch to TableEncryption.CUSTOMER_MANAGED
      // (and grant kms:Decrypt/Encrypt/GenerateDataKey to the functions) if your policy requires it.
      encryption: TableEncryption.AWS_MANAGED,
      timeToLiveAttribute: TABLE.ttlAttribute,
      // The view type the outbox publisher reads (table-schema.ts, the one source): both images, so
      // it can tell a change whose events are new from a write that left them as they were.
      stream: StreamViewType[TABLE.stream],
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    if (!hasStream(table)) throw new Error(`${table.node.path}: the change stream is not enabled`);
    this.table = table;
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
