// The GraphQL-over-HTTP audit suite of the `graphql-http` package against a running gateway.
// Usage: NODE_PATH=.cache/node/node_modules node tests/http_audit/run.cjs URL APP_KEY
// Prints one JSON array: {id, name, status: "ok" | "warn" | "error", reason?} per audit.
"use strict";
const { serverAudits } = require("graphql-http");

const [url, key] = process.argv.slice(2);
if (!url || !key) {
  console.error("usage: run.cjs URL APP_KEY");
  process.exit(2);
}

// Every audit request carries the app key: the gateway answers 401 to anyone else.
function fetchFn(input, init = {}) {
  const headers = new Headers(init.headers || {});
  headers.set("authorization", `Bearer ${key}`);
  return fetch(input, { ...init, headers });
}

(async () => {
  const results = [];
  for (const audit of serverAudits({ url, fetchFn })) {
    const result = await audit.fn();
    results.push({ id: result.id, name: result.name, status: result.status, reason: result.reason });
  }
  console.log(JSON.stringify(results));
})();
