// Ketting (a generic HAL/HAL-FORMS client nobody here wrote) walks every collection of Halyard from GET /.
// Usage: node ketting_walk.mjs <base-url> <bearer-token> <config-json>; prints a JSON summary on stdout.
//
// config: {templateValues: {var: value}, pageSize: n, maxDocs: n,
//          actions: [{collection: rel, template: name, body: {...}}]}
// Nothing here knows Halyard's URLs. The rules are those of walk_restnavigator.py:
// - discovery is breadth-first from / over links (templated ones only when templateValues holds every
//   variable), skipping navigation rels and links whose `type` is not JSON; a document with `total` and
//   `_embedded` is a collection, and the first embedded item of each is fetched by its self and explored;
// - every collection is paged through its `…/options` template expanded with `size`, following `next`
//   to the end; then an exact filter and a descending sort on properties of its first item;
// - then each configured HAL-FORMS action is read from its collection and submitted as Ketting reads it.
import assert from 'node:assert/strict';
import ketting from 'ketting';

const { Ketting, bearerAuth, resolve } = ketting;
const [base, token, configJson] = process.argv.slice(2);
const config = JSON.parse(configJson || '{}');
const templateValues = config.templateValues || {};
const pageSize = config.pageSize || 2;
const maxDocs = config.maxDocs || 250;
const client = new Ketting(base + '/');
client.use(bearerAuth(token));

const SKIP = new Set(['self', 'up', 'collection', 'curies', 'next', 'prev', 'first', 'last', 'service-desc',
  'describedby', 'profile', 'edit-form', 'ec:rels']);
const JSONISH = ['application/hal+json', 'application/json', 'application/prs.hal-forms+json'];

// The variable names of an RFC 6570 template (enough to decide what can be expanded).
function variables(href) {
  const names = new Set();
  for (const [, body] of href.matchAll(/\{[+#./;?&]?([^}]*)\}/g)) {
    for (const spec of body.split(',')) names.add(spec.replace(/(\*|:\d+)$/, ''));
  }
  return names;
}

const serverErrors = []; // any 5xx met while discovering fails the test
async function fetchState(resource) {
  try {
    return await resource.refresh(); // never an embedded (partial) copy from Ketting's cache
  } catch (error) {
    if (!(error.status < 500)) serverErrors.push(`${resource.uri}: ${error.status || error.message}`);
    return null; // 4xx: not something to walk (POST-only endpoints answer 405)
  }
}

// A collection: a numeric `total` and paging links (`last` is always there, `next` while more remain).
const isCollection = (state) => state && state.data && typeof state.data.total === 'number'
  && (state.links.has('last') || state.links.has('next'));

// ---- discovery -------------------------------------------------------------------------------------
const root = client.go();
const rootState = await root.get();
const collections = new Map(); // rel -> {resource, state}
const seen = new Set([root.uri]);
const queue = [rootState];
let fetched = 0;
while (queue.length && fetched < maxDocs) {
  const state = queue.shift();
  for (const link of state.links.getAll()) {
    const rel = link.rel;
    if (SKIP.has(rel) || rel.endsWith('/options')) continue;
    if (link.type && !JSONISH.some((t) => link.type.startsWith(t))) continue;
    let resource;
    if (link.templated) {
      const names = variables(link.href);
      if (![...names].every((n) => n in templateValues)) continue;
      resource = state.follow(rel, Object.fromEntries([...names].map((n) => [n, templateValues[n]])));
    } else {
      resource = client.go(resolve(link));
    }
    if (seen.has(resource.uri)) continue;
    seen.add(resource.uri);
    fetched += 1;
    const target = await fetchState(resource);
    if (!target || !target.data || typeof target.data !== 'object') continue;
    if (isCollection(target)) {
      if (collections.has(rel)) continue;
      collections.set(rel, { resource, state: target });
      const [first] = target.getEmbedded();
      if (first && !seen.has(first.uri)) {
        seen.add(first.uri);
        const full = await fetchState(client.go(first.uri));
        if (full) queue.push(full);
      }
    } else {
      queue.push(target);
    }
  }
}

// ---- walking each collection -----------------------------------------------------------------------
function optionsRel(state) {
  const link = state.links.getAll().find((l) => l.rel.endsWith('/options') && l.templated);
  return link ? { rel: link.rel, names: variables(link.href) } : null;
}

async function walkCollection({ resource, state }) {
  const options = optionsRel(state);
  const own = Object.fromEntries([...new URL(resource.uri).searchParams].filter(([k]) => options && options.names.has(k)));
  let page = options && options.names.has('size')
    ? state.follow(options.rel, { ...own, size: pageSize })
    : client.go(resource.uri + (resource.uri.includes('?') ? '&' : '?') + `size=${pageSize}`);
  let pageState = await page.refresh();
  const total = pageState.data.total;
  const seenItems = [];
  let pages = 0;
  for (;;) {
    pages += 1;
    for (const item of pageState.getEmbedded()) seenItems.push(item.uri);
    if (!pageState.links.has('next')) break;
    page = pageState.follow('next');
    pageState = await page.refresh();
  }
  const result = { total, pages, visited: seenItems.length, unique: new Set(seenItems).size, filter: null, sort: null };
  const [firstItem] = state.getEmbedded();
  if (!options || !firstItem) return result;
  const item = await client.go(firstItem.uri).refresh();
  const candidates = Object.entries(item.data).filter(([name, value]) => options.names.has(name)
    && !['size', 'page', 'sort', 'limit', 'offset'].includes(name)
    && ['string', 'number', 'boolean'].includes(typeof value))
    // a datetime's representation is rounded to the second: prefer values that compare exactly
    .sort(([, a], [, b]) => isDatetime(a) - isDatetime(b));
  for (const [name, value] of candidates) {
    let got;
    try {
      got = await state.follow(options.rel, { ...own, [name]: String(value), size: pageSize }).refresh();
    } catch (error) {
      continue; // 400: not a filter this collection offers
    }
    if (!('total' in got.data)) continue; // an id lookup answers with the item itself
    const items = got.getEmbedded();
    result.filter = { name, total: got.data.total, count: items.length,
      all_match: items.every((i) => i.data[name] === value) };
    break;
  }
  for (const [name, value] of candidates) {
    if (typeof value === 'boolean') continue;
    let got;
    try {
      got = await state.follow(options.rel, { ...own, sort: `-${name}`, size: Math.max(pageSize, 10) }).refresh();
    } catch (error) {
      continue; // 400: not sortable
    }
    const values = got.getEmbedded().map((i) => i.data[name]).filter((v) => v !== null && v !== undefined);
    const sorted = [...values].sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
    result.sort = { name, count: values.length, descending: JSON.stringify(values) === JSON.stringify(sorted) };
    break;
  }
  return result;
}

function isDatetime(value) {
  return typeof value === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(value) ? 1 : 0;
}

console.error(`discovered ${collections.size} collections in ${fetched} fetches: ${[...collections.keys()].sort()}`);
const walked = {};
for (const [rel, found] of [...collections].sort(([a], [b]) => a.localeCompare(b))) {
  walked[rel] = await walkCollection(found);
}

// ---- HAL-FORMS actions, read from the collections and submitted as Ketting reads them ---------------
const submitted = {};
// {collection: rel} acts on a discovered collection (its total must grow by one); {root: rel} on a
// resource linked from / (e.g. the health probe, which starts a job).
for (const { collection, root: rootRel, template, body } of config.actions || []) {
  const found = collection ? collections.get(collection) : { resource: rootState.follow(rootRel) };
  assert.ok(found, `no collection ${collection} was discovered`);
  const before = await found.resource.refresh();
  assert.ok(before.hasAction(template), `${collection || rootRel} offers no ${template} action`);
  const action = before.action(template);
  const created = await action.submit(body);
  const after = await found.resource.refresh();
  submitted[collection || rootRel] = {
    method: action.method,
    contentType: action.contentType,
    fields: action.fields.map((f) => f.name).sort(),
    self: created.links.has('self') ? created.links.get('self').href : null,
    data: { kind: created.data.kind, status: created.data.status },
    before: before.data.total,
    after: after.data.total,
  };
}

// The description links: relations and the OpenAPI document.
const rels = await (await rootState.follow('ec:rels')).get();
const openapi = await rootState.follow('service-desc').get();

console.log(JSON.stringify({
  rootRels: rootState.links.getAll().map((l) => l.rel).sort(),
  discovered: [...collections.keys()].sort(),
  walked,
  submitted,
  fetched,
  serverErrors,
  relations: Object.keys(rels.data.relations || {}).length,
  openapi: openapi.data.openapi,
}));
