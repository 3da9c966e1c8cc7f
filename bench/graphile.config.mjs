// PostGraphile v5 for bench/vs-postgraphile.sh (issue #18): the amber
// preset over the schema `public` of the benchmark database, served by
// grafserv on loopback; no GraphiQL, no watch mode, no websockets.
// Settings come from the script's environment:
//   DATABASE_URL     the benchmark database
//   PGL_PORT         port on 127.0.0.1
//   PGL_POOL_SIZE    connections in the pool (as Tandem's DATABASE_POOL_SIZE)
import { makePgService } from "postgraphile/adaptors/pg";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";

const required = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`graphile.config.mjs: ${name} is not set`);
  return value;
};

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [
    makePgService({
      connectionString: required("DATABASE_URL"),
      schemas: ["public"],
      poolConfig: { max: Number(process.env.PGL_POOL_SIZE || 10) },
    }),
  ],
  grafserv: {
    host: "127.0.0.1",
    port: Number(required("PGL_PORT")),
    graphqlPath: "/graphql",
    graphiql: false,
    graphiqlOnGraphQLGET: false,
    watch: false,
    websockets: false,
  },
  grafast: {
    explain: false,
  },
};

export default preset;
