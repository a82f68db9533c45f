/**
 * Defaults for a local run, set before any other module loads (the Powertools logger reads its level
 * when it is created, at import time). Imported first by local/start.ts.
 */
process.env.POWERTOOLS_DEV ??= 'true';
process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
