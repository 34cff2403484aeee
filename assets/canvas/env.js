// Vue Flow's module reads process.env.NODE_ENV; the browser has no `process`.
// Imported before Vue Flow so the define happens first.
globalThis.process ??= { env: { NODE_ENV: "production" } };
