// Ketting (a generic HAL/HAL-FORMS client nobody here wrote) walks Halyard from GET /.
// Usage: node ketting_walk.mjs <base-url> <bearer-token>; prints a JSON summary on stdout.
import assert from 'node:assert/strict';
import ketting from 'ketting';

const { Ketting, bearerAuth } = ketting;
const [base, token] = process.argv.slice(2);
const client = new Ketting(base + '/');
client.use(bearerAuth(token));
const summary = {};

// The entry point: every top-level link, found by rel.
const root = client.go();
const rootState = await root.get();
for (const rel of ['ec:jobs', 'ec:health', 'ec:job/by-id', 'ec:rels', 'service-desc']) {
  assert.ok(rootState.links.has(rel), `GET / lacks ${rel}`);
}
summary.rootRels = rootState.links.getAll().map((l) => l.rel).sort();

// HAL-FORMS: the health resource's probe template, submitted as Ketting reads it.
const health = await root.follow('ec:health');
const healthState = await health.get();
assert.equal(healthState.data.up, true);
const probe = healthState.action('probe');
assert.equal(probe.method, 'POST');
assert.equal(probe.contentType, 'application/json');
assert.deepEqual(probe.fields.map((f) => f.name).sort(), ['delay', 'fail', 'steps']);
const started = await probe.submit({ steps: 1, delay: 0 });
const jobHref = started.links.get('self').href;
summary.submitted = { status: 'accepted', job: started.data.id, kind: started.data.kind };
assert.equal(started.data.kind, 'probe');

// A templated link, expanded by the client.
const byId = await root.follow('ec:job/by-id', { id: started.data.id });
assert.equal(byId.uri, jobHref);
assert.equal((await byId.get()).data.id, started.data.id);

// The jobs collection, paged with `next` until there is none.
let page = await root.follow('ec:jobs');
let state = await page.get();
const total = state.data.total;
const seen = [];
let pages = 0;
for (;;) {
  pages += 1;
  for (const item of state.getEmbedded()) seen.push(item.data.id);
  if (!state.links.has('next')) break;
  page = await page.follow('next');
  state = await page.get();
}
assert.equal(seen.length, total, 'paging with next visits every job once');
assert.equal(new Set(seen).size, total);
summary.paging = { total, pages, visited: seen.length };

// The collection's grammar: the …/options template, expanded with a filter, a sort and a size.
const jobs = await root.follow('ec:jobs');
const filtered = await (await jobs.follow('ec:jobs/options', { kind: 'probe', sort: '-created', size: 3 })).get();
assert.ok(filtered.getEmbedded().length <= 3);
for (const item of filtered.getEmbedded()) assert.equal(item.data.kind, 'probe');
summary.filtered = { count: filtered.data.count, total: filtered.data.total };

// The description links: relations and the OpenAPI document.
const rels = await (await root.follow('ec:rels')).get();
assert.ok(Array.isArray(rels.data.relations) || typeof rels.data.relations === 'object');
const openapi = await (await root.follow('service-desc')).get();
summary.openapiFetched = openapi.uri;

console.log(JSON.stringify(summary));
