import { App } from 'aws-cdk-lib';
import { readFileSync } from 'node:fs';
import { loadConfig } from '#lib/config.js';
import { createPipeline } from '#lib/pipeline.js';
const ctx = JSON.parse(readFileSync('cdk.json','utf8')).context;
const app = new App({ outdir: '/tmp/cdkout', context: { ...ctx, 'aws:cdk:bundling-stacks': [] } });
const t0 = Date.now();
createPipeline(app, loadConfig((k) => app.node.tryGetContext(k)), { functionsDir: 'test/infra/fixtures/functions' });
try { app.synth(); console.log('ok', Date.now()-t0); } catch (e) { console.log(String(e).slice(0, 8000)); }
