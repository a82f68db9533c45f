/**
 * CDK app entry (`cdk.json`: "npx tsx lib/app.ts"). Configuration comes from CDK context: see
 * lib/config.ts and docs/aws-deployment.md.
 */
import { App } from 'aws-cdk-lib';
import { loadConfig } from './config.js';
import { createPipeline } from './pipeline.js';

const app = new App();
createPipeline(app, loadConfig((key) => app.node.tryGetContext(key)));
app.synth();
