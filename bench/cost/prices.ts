/**
 * The one price table of the cost benchmark (bench/cost/cost-bench.ts). AWS list prices, us-east-1,
 * on-demand, as stated in issue 10 and checked on the date below; change them here only.
 */
export const PRICES = {
  /** When these prices were taken. */
  asOf: '2026-11-25',
  region: 'us-east-1',
  /** API Gateway HTTP API, per request (first 300 million a month). */
  httpApiRequest: 1.0 / 1e6,
  /** Lambda arm64: per request, and per GB-second of duration. */
  lambdaRequest: 0.2 / 1e6,
  lambdaGbSecondArm: 0.0000133334,
  /** SQS standard queue, per request (each 64 KB chunk of a payload is one request). */
  sqsRequest: 0.4 / 1e6,
  /** DynamoDB on-demand (standard table class): per write and read request unit. Transactions use 2 units per unit of work. */
  dynamoWru: 0.625 / 1e6,
  dynamoRru: 0.125 / 1e6,
  /** EventBridge custom events published, per event (each 64 KB chunk counts one). */
  eventBridgeEvent: 1.0 / 1e6,
  /** S3 Standard: PUT, COPY, POST, LIST requests (each part of a multipart upload counts), and storage per GB-month. */
  s3PutRequest: 0.005 / 1000,
  s3StorageGbMonth: 0.023,
  /** CloudWatch Logs ingestion (standard class), per GB. */
  logsIngestedGb: 0.5,
  /** AppSync Events: per operation (a publish, or a message delivered to one subscriber; per 5 KB). */
  appsyncEventsOperation: 1.0 / 1e6,
} as const;

/** What Lambda writes per invocation besides the function's own lines (START, END, REPORT), in bytes. */
export const LAMBDA_PLATFORM_LOG_BYTES = 330;

/** What CloudWatch Logs adds to each log event's own bytes when it bills ingestion. */
export const LOG_EVENT_OVERHEAD_BYTES = 26;
