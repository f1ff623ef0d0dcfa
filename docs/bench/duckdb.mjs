// The DuckDB side of the benchmark in docs/PERFORMANCE.md: what a data
// scientist would do by hand with the raw replies. It reads the replies that
// `scorepipe bench` exported as NDJSON, expands the JRZQ9E2A interval codes
// through the same tables with joins, turns flags into integers and -1
// scores into NULL, and writes a zstd Parquet file, on 2 threads.
//
// MODE "replies" (the default) writes the expanded replies alone, keyed by
// applicant_key, as target 2 of issue 6 states it. MODE "training" writes
// what a training set needs and scorepipe writes: the applicants file
// (applicants.csv) joined on application_id with the expanded replies, so
// each row also has its application_id, apply_date and label.
//
//   npm install --prefix /tmp/duckdb @duckdb/node-api
//   NODE_PATH=/tmp/duckdb/node_modules node docs/bench/duckdb.mjs DIR [RUNS] [MODE]
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(join(process.env.NODE_PATH ?? '.', 'x.js'));
const { DuckDBInstance } = require('@duckdb/node-api');

const dir = process.argv[2];
const runs = Number(process.argv[3] ?? 5);
const mode = process.argv[4] ?? 'replies';
if (!dir || !['replies', 'training'].includes(mode)) {
  console.error('usage: node duckdb.mjs DIR [RUNS] [replies|training]');
  process.exit(2);
}

const counts = ['xyp_cpl0001', 'xyp_cpl0002', 'xyp_cpl0007', 'xyp_cpl0008', 'xyp_cpl0070', 'xyp_cpl0009', 'xyp_cpl0011', 'xyp_cpl0071'];
const amounts = ['xyp_cpl0072', 'xyp_cpl0039'];
const flags = ['xyp_cpl0044', 'xyp_cpl0028', 'xyp_cpl0031'];
const scores = ['xyp_cpl0081', 'xyp_model_score_high', 'xyp_model_score_mid', 'xyp_model_score_low'];

const select = ['r.applicant_key'];
const joins = [];
let i = 0;
for (const [fields, table] of [[counts, 'count_t'], [amounts, 'amount_t']]) {
  for (const f of fields) {
    const a = `t${i++}`;
    select.push(`nullif(r.${f}, '') AS ${f}_code`, `${a}.low AS ${f}_low`, `${a}.high AS ${f}_high`);
    joins.push(`LEFT JOIN ${table} ${a} ON ${a}.code = r.${f}`);
  }
}
for (const f of flags) select.push(`try_cast(nullif(r.${f}, '') AS BIGINT) AS ${f}`);
for (const f of scores) select.push(`nullif(try_cast(nullif(r.${f}, '') AS DOUBLE), -1) AS ${f}`);

// Each run starts a new database, as a run of the DuckDB command line
// would, and is timed from there to the Parquet file written.
async function job(c) {
  await c.run(`CREATE TABLE count_t AS SELECT code::VARCHAR AS code, low::DOUBLE AS low, high::DOUBLE AS high FROM read_csv('${dir}/tables/jrzq9e2a_count.csv', all_varchar = true)`);
  await c.run(`CREATE TABLE amount_t AS SELECT code::VARCHAR AS code, low::DOUBLE AS low, high::DOUBLE AS high FROM read_csv('${dir}/tables/jrzq9e2a_amount.csv', all_varchar = true)`);
  await c.run(sql);
}
const keys = mode === 'replies' ? ['applicant_key'] : ['applicant_key', 'application_id'];
const columns = [...keys, ...counts, ...amounts, ...flags, ...scores].map((f) => `'${f}': 'VARCHAR'`).join(', ');
const replies = `read_json('${dir}/replies.ndjson', format = 'newline_delimited', columns = {${columns}})`;
const from = mode === 'replies'
  ? `FROM ${replies} r`
  : `FROM read_csv('${dir}/applicants.csv', all_varchar = true) a
  LEFT JOIN ${replies} r ON r.application_id = a.application_id`;
const leading = mode === 'replies' ? [] : ['a.application_id', 'a.apply_date::DATE AS apply_date', 'a.label::BIGINT AS label'];
const sql = `COPY (SELECT ${[...leading, ...select].join(', ')}
  ${from}
  ${joins.join('\n  ')}) TO '${dir}/duckdb.parquet' (FORMAT parquet, COMPRESSION zstd)`;

const probe = await (await DuckDBInstance.create(':memory:')).connect();
const rowsResult = await probe.runAndReadAll(`SELECT count(*) ${from}`);
const rows = Number(rowsResult.getRows()[0][0]);
// CPU time is that of the whole process (DuckDB's threads run in it), user
// and system: a figure the other work on a shared machine disturbs less.
const times = [];
const cpus = [];
for (let run = 1; run <= runs; run++) {
  const start = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const db = await DuckDBInstance.create(':memory:', { threads: '2' });
  await job(await db.connect());
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  const used = process.cpuUsage(cpu0);
  const cpu = (used.user + used.system) / 1e6;
  times.push(secs);
  cpus.push(cpu);
  console.log(`duckdb run ${run}: ${secs.toFixed(2)} s, ${Math.round(rows / secs)} rows/s, CPU ${cpu.toFixed(2)} s (${(1e6 * cpu / rows).toFixed(1)} µs/row)`);
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const med = median(times);
const medCPU = median(cpus);
console.log(`duckdb (${mode}) median of ${runs}: ${med.toFixed(2)} s, ${Math.round(rows / med)} rows/s (${rows} rows, 2 threads); CPU ${medCPU.toFixed(2)} s (${(1e6 * medCPU / rows).toFixed(1)} µs/row)`);
