// Markdown report of bench/vs-postgraphile.sh: medians over the rounds of
// the wrk results, then the resources and the machine.
//   node report.mjs <results.tsv> <facts.json>
// results.tsv: query, server (tandem|pgl), round, requests, rps, p50_ms,
// p90_ms, p99_ms, max_ms, bad, socket_errors (tab-separated, no header).
import { readFileSync } from "node:fs";

const [resultsFile, factsFile] = process.argv.slice(2);
const facts = JSON.parse(readFileSync(factsFile, "utf8"));
const rows = readFileSync(resultsFile, "utf8")
  .split("\n")
  .filter(Boolean)
  .map((line) => {
    const [query, server, round, requests, rps, p50, p90, p99, max, bad, socketErrors] = line.split("\t");
    return { query, server, round: +round, requests: +requests, rps: +rps, p50: +p50, p90: +p90, p99: +p99, max: +max, bad: +bad, socketErrors: +socketErrors };
  });

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const int = (n) => Math.round(n).toLocaleString("en-US");
const ms = (n) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2)) + " ms";
const ratio = (a, b) => (b > 0 ? (a / b).toFixed(2) + "×" : "n/a");
const mib = (kib) => (kib ? `${(kib / 1024).toFixed(0)} MiB` : "n/a");

const queryNames = [...new Set(rows.map((r) => r.query))];
const stats = (query, server) => {
  const mine = rows.filter((r) => r.query === query && r.server === server);
  return {
    rounds: mine.length,
    rps: median(mine.map((r) => r.rps)),
    p50: median(mine.map((r) => r.p50)),
    p99: median(mine.map((r) => r.p99)),
    rpsRange: [Math.min(...mine.map((r) => r.rps)), Math.max(...mine.map((r) => r.rps))],
    bad: mine.reduce((n, r) => n + r.bad + r.socketErrors, 0),
  };
};

const out = [];
out.push(`### Tandem vs PostGraphile ${facts.pglVersion} (issue #18)`);
out.push("");
out.push(
  `wrk -t${facts.threads} -c${facts.connections} -d${facts.duration}, ${facts.rounds} round(s) per query, servers alternating; ` +
    `medians over the rounds. Caller: ${facts.employee}.`,
);
out.push(
  "Tandem verifies a bearer token (dev mode) and resolves the caller on every request; PostGraphile has no " +
    "authentication and is given the mentor's id in its queries (`allPairings(condition: {mentorId})`, `employeeByRowId`).",
);
out.push("");
out.push("| query | Tandem req/s | PostGraphile req/s | Tandem ÷ PostGraphile | Tandem p50 | PostGraphile p50 | Tandem p99 | PostGraphile p99 |");
out.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const query of queryNames) {
  const t = stats(query, "tandem");
  const p = stats(query, "pgl");
  out.push(
    `| ${facts.labels[query] ?? query} | ${int(t.rps)} | ${int(p.rps)} | ${ratio(t.rps, p.rps)} | ${ms(t.p50)} | ${ms(p.p50)} | ${ms(t.p99)} | ${ms(p.p99)} |`,
  );
}
out.push("");
out.push("| | Tandem | PostGraphile |");
out.push("| --- | ---: | ---: |");
for (const query of ["nested", "me", "typename"].filter((q) => queryNames.includes(q))) {
  const counted = facts.statements[query];
  out.push(`| SQL statements per request, ${facts.labels[query]} | ${counted.tandem} | ${counted.pgl} |`);
}
out.push(`| RSS when ready | ${mib(facts.rss.tandem.ready)} | ${mib(facts.rss.pgl.ready)} |`);
out.push(`| RSS after the load | ${mib(facts.rss.tandem.after)} | ${mib(facts.rss.pgl.after)} |`);
out.push(`| peak RSS (VmHWM) | ${mib(facts.rss.tandem.peak)} | ${mib(facts.rss.pgl.peak)} |`);
out.push(`| database pool | ${facts.pool}${facts.tandemPoolNote ? ` (${facts.tandemPoolNote})` : ""} | ${facts.pool} |`);
out.push("");
out.push("Per round (req/s, min–max):");
out.push("");
for (const query of queryNames) {
  const t = stats(query, "tandem");
  const p = stats(query, "pgl");
  out.push(
    `- ${query}: Tandem ${int(t.rpsRange[0])}–${int(t.rpsRange[1])}, PostGraphile ${int(p.rpsRange[0])}–${int(p.rpsRange[1])}` +
      (t.bad || p.bad ? ` (failed responses: Tandem ${t.bad}, PostGraphile ${p.bad})` : ""),
  );
}
out.push("");
out.push(`Machine: ${facts.machine}.`);
out.push(`Tandem ${facts.tandemCommit}; PostGraphile ${facts.pglVersion} (amber preset) on Node ${facts.nodeVersion}; ${facts.wrkVersion}.`);
if (facts.statementsNote) out.push(`SQL statements: ${facts.statementsNote}`);
console.log(out.join("\n"));

const failed = queryNames.flatMap((q) => ["tandem", "pgl"].map((s) => stats(q, s).bad)).some((n) => n > 0);
process.exit(failed ? 3 : 0);
