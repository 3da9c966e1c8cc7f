// The queries of bench/vs-postgraphile.sh (issue #18), for Tandem and for
// PostGraphile v5 (amber preset), and the check that both servers answer
// the same data. Runs on any Node >= 18, no dependencies.
//
//   node queries.mjs bodies <employee-uuid> <dir>
//       writes <dir>/{tandem,pgl}-{nested,me,typename}.json (request bodies)
//   node queries.mjs compare <name> <tandem-answer.json> <pgl-answer.json> <dir>
//       normalizes both answers into one shape, writes
//       <dir>/<name>.{tandem,pgl}.normalized.json, exit 0 when equal,
//       1 (with the first difference on stderr) when not
//   node queries.mjs summary <tandem-nested-answer.json>
//       one line: pairings, mentees, sessions shown, goals
//
// Orders follow Tandem's (service/src/domain): myPairings newest first
// (id DESC), mentees by id, sessions by id (the first 10 of each pairing),
// goals by id. PostGraphile orders by primary key the same way
// (pairing_mentees' key is (pairing_id, mentee_id)). Session topics come
// unordered from Tandem, so both sides' topic names are sorted.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function queries(employeeId) {
  if (!UUID.test(employeeId)) throw new Error(`not a UUID: ${employeeId}`);
  return {
    nested: {
      tandem: `{ myPairings { id status score programme { name } mentor { displayName } mentees { displayName } sessions(first: 10) { edges { node { startsAt endsAt status mode topics { name } } } } goals { description status dueOn skill { name } } } }`,
      // PostGraphile has no caller: the mentor is named in the query. The
      // chosen employee mentors only, in pairings Tandem lists (no
      // PROPOSED/DECLINED), so the condition selects the same rows.
      pgl: `{ allPairings(condition: { mentorId: "${employeeId}" }, orderBy: PRIMARY_KEY_DESC) { nodes { rowId status score programmeByProgrammeId { name } employeeByMentorId { displayName } pairingMenteesByPairingId(orderBy: PRIMARY_KEY_ASC) { nodes { employeeByMenteeId { displayName } } } mentoringSessionsByPairingId(first: 10, orderBy: PRIMARY_KEY_ASC) { edges { node { startsAt endsAt status mode sessionTopicsBySessionId(orderBy: PRIMARY_KEY_ASC) { nodes { skillBySkillId { name } } } } } } goalsByPairingId(orderBy: PRIMARY_KEY_ASC) { nodes { description status dueOn skillBySkillId { name } } } } } }`,
    },
    me: {
      tandem: `{ me { displayName } }`,
      pgl: `{ employeeByRowId(rowId: "${employeeId}") { displayName } }`,
    },
    typename: {
      tandem: `{ __typename }`,
      pgl: `{ __typename }`,
    },
  };
}

const instant = (value) => {
  if (value === null || value === undefined) return value;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? `unparsable:${value}` : new Date(ms).toISOString();
};

const session = (s, topics) => ({
  startsAt: instant(s.startsAt),
  endsAt: instant(s.endsAt),
  status: s.status,
  mode: s.mode,
  topics: [...topics].sort(),
});

const goal = (g, skill) => ({
  description: g.description,
  status: g.status,
  dueOn: g.dueOn ?? null,
  skill: skill ?? null,
});

const normalize = {
  nested: {
    tandem: (data) =>
      data.myPairings.map((p) => ({
        id: p.id,
        status: p.status,
        score: p.score,
        programme: p.programme.name,
        mentor: p.mentor.displayName,
        mentees: p.mentees.map((m) => m.displayName),
        sessions: p.sessions.edges.map(({ node }) =>
          session(node, node.topics.map((t) => t.name)),
        ),
        goals: p.goals.map((g) => goal(g, g.skill?.name)),
      })),
    pgl: (data) =>
      data.allPairings.nodes.map((p) => ({
        id: p.rowId,
        status: p.status,
        score: p.score,
        programme: p.programmeByProgrammeId.name,
        mentor: p.employeeByMentorId.displayName,
        mentees: p.pairingMenteesByPairingId.nodes.map((n) => n.employeeByMenteeId.displayName),
        sessions: p.mentoringSessionsByPairingId.edges.map(({ node }) =>
          session(node, node.sessionTopicsBySessionId.nodes.map((n) => n.skillBySkillId.name)),
        ),
        goals: p.goalsByPairingId.nodes.map((g) => goal(g, g.skillBySkillId?.name)),
      })),
  },
  me: {
    tandem: (data) => ({ displayName: data.me?.displayName ?? null }),
    pgl: (data) => ({ displayName: data.employeeByRowId?.displayName ?? null }),
  },
  typename: {
    tandem: (data) => ({ typename: data.__typename }),
    pgl: (data) => ({ typename: data.__typename }),
  },
};

function firstDifference(a, b, path = "$") {
  if (Object.is(a, b)) return null;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") {
    return `${path}: Tandem ${JSON.stringify(a)} / PostGraphile ${JSON.stringify(b)}`;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return `${path}: array on one side only`;
  if (Array.isArray(a) && a.length !== b.length) {
    return `${path}: Tandem has ${a.length} items, PostGraphile ${b.length}`;
  }
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const found = firstDifference(a[key], b[key], Array.isArray(a) ? `${path}[${key}]` : `${path}.${key}`);
    if (found) return found;
  }
  return null;
}

function answerData(file, server) {
  let answer;
  try {
    answer = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`${server}: the answer in ${file} is not JSON (${err.message})`);
  }
  if (answer.errors) throw new Error(`${server} answered errors: ${JSON.stringify(answer.errors)}`);
  if (!answer.data) throw new Error(`${server} answered no data: ${JSON.stringify(answer).slice(0, 500)}`);
  return answer.data;
}

const [command, ...args] = process.argv.slice(2);
try {
  if (command === "bodies") {
    const [employeeId, dir] = args;
    for (const [name, pair] of Object.entries(queries(employeeId))) {
      for (const [server, query] of Object.entries(pair)) {
        writeFileSync(join(dir, `${server}-${name}.json`), JSON.stringify({ query }));
      }
    }
  } else if (command === "compare") {
    const [name, tandemFile, pglFile, dir] = args;
    const tandem = normalize[name].tandem(answerData(tandemFile, "Tandem"));
    const pgl = normalize[name].pgl(answerData(pglFile, "PostGraphile"));
    writeFileSync(join(dir, `${name}.tandem.normalized.json`), JSON.stringify(tandem, null, 2) + "\n");
    writeFileSync(join(dir, `${name}.pgl.normalized.json`), JSON.stringify(pgl, null, 2) + "\n");
    const difference = firstDifference(tandem, pgl);
    if (difference) {
      console.error(`MISMATCH in ${name}: first difference at ${difference}`);
      process.exit(1);
    }
  } else if (command === "summary") {
    const data = answerData(args[0], "Tandem");
    const pairings = data.myPairings;
    const count = (f) => pairings.reduce((n, p) => n + f(p), 0);
    console.log(
      `${pairings.length} pairings (${pairings.map((p) => p.status).join(", ")}), ` +
        `${count((p) => p.mentees.length)} mentees, ` +
        `${count((p) => p.sessions.edges.length)} sessions shown, ` +
        `${count((p) => p.goals.length)} goals`,
    );
  } else {
    console.error("usage: node queries.mjs bodies|compare|summary …");
    process.exit(2);
  }
} catch (err) {
  console.error(String(err.message ?? err));
  process.exit(1);
}
