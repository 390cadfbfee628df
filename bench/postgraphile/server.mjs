// PostGraphile 5 on velro-graphql's database, as a peer for bench/compare.py.
//
//   DATABASE_URL=... SUPABASE_JWT_SECRET=... PORT=5678 node server.mjs
//
// Each request runs as role `authenticated` with the caller's verified claims in
// `request.jwt.claims`, exactly as velro-graphql and Supabase's REST layer do, so both servers
// pay the same row-level security. Production settings: no GraphiQL, no watch, no explain,
// errors masked (NODE_ENV=production).
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";

import { makePgService } from "postgraphile/adaptors/pg";
import { grafserv } from "postgraphile/grafserv/node";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { postgraphile } from "postgraphile";

const { DATABASE_URL, SUPABASE_JWT_SECRET, PORT } = process.env;
if (!DATABASE_URL || !SUPABASE_JWT_SECRET || !PORT) {
  throw new Error("DATABASE_URL, SUPABASE_JWT_SECRET and PORT are required");
}

class Unauthenticated extends Error {
  statusCode = 401;
}

// The checks of velro_graphql.api.auth for a legacy (HS256) Supabase project.
function verifiedClaims(authorization) {
  const [scheme, token] = (authorization ?? "").split(" ");
  if (scheme?.toLowerCase() !== "bearer" || !token) throw new Unauthenticated("No token.");
  const [header, payload, signature] = token.split(".");
  const expected = createHmac("sha256", SUPABASE_JWT_SECRET)
    .update(`${header}.${payload}`)
    .digest();
  const given = Buffer.from(signature ?? "", "base64url");
  const decode = (part) => JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
  if (
    given.length !== expected.length ||
    !timingSafeEqual(given, expected) ||
    decode(header).alg !== "HS256"
  ) {
    throw new Unauthenticated("Invalid token signature.");
  }
  const claims = decode(payload);
  const valid =
    typeof claims.sub === "string" &&
    claims.aud === "authenticated" &&
    claims.role === "authenticated" &&
    typeof claims.exp === "number" &&
    claims.exp > Date.now() / 1000;
  if (!valid) throw new Unauthenticated("Invalid token claims.");
  return claims;
}

const preset = {
  extends: [PostGraphileAmberPreset],
  // Our foreign keys are covered by composite or partial indexes the plugin does not count;
  // without it, every relation and ordering the dashboard needs is exposed.
  disablePlugins: ["PgIndexBehaviorsPlugin"],
  pgServices: [
    makePgService({
      connectionString: DATABASE_URL,
      schemas: ["public", "postgraphile_bench"],
    }),
  ],
  grafserv: { port: Number(PORT), graphiql: false, watch: false, graphqlPath: "/graphql" },
  grafast: {
    explain: false,
    context(requestContext) {
      const claims = verifiedClaims(requestContext.node?.req.headers.authorization);
      return {
        pgSettings: { role: "authenticated", "request.jwt.claims": JSON.stringify(claims) },
      };
    },
  },
};

const pgl = postgraphile(preset);
await pgl.getSchema(); // build before listening, so /health means ready
const handle = pgl.createServ(grafserv).createHandler();
const server = createServer((req, res) =>
  handle(req, res, () => {
    res.writeHead(req.url === "/health" ? 200 : 404).end();
  }),
);
server.listen(Number(PORT), "127.0.0.1");
process.on("SIGTERM", () => server.close(() => pgl.release().then(() => process.exit(0))));
