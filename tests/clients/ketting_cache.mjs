// Ketting's cache stays right after a delete, a restore and a new version (issue 19), from GET / by rel
// names only. Usage: node ketting_cache.mjs <base-url> <bearer-token>; prints a JSON summary on stdout.
//
// Ketting answers `resource.get()` from its cache whenever it holds a state, so a list read before a
// write is served stale afterwards unless the write's response names it (`Link: <…>; rel="invalidates"`)
// or carries its new state (`Content-Location`). Every network request is counted, so the summary shows
// which reads came from the cache and which went to the server.
import assert from 'node:assert/strict';
import ketting from 'ketting';

const { Ketting, bearerAuth } = ketting;
const [base, token] = process.argv.slice(2);
const client = new Ketting(base + '/');
client.use(bearerAuth(token));
const network = []; // what reached the server (Ketting's cache answers the rest)
client.use(async (request, next) => {
  network.push(`${request.method} ${new URL(request.url).pathname}`);
  return next(request);
});
const fetched = (method, resource) => network.filter((r) => r === `${method} ${new URL(resource.uri).pathname}`).length;

const embedded = (state) => state.getEmbedded().map((s) => s.uri);
const summary = {};
const root = client.go();

// ---- assets: delete, then restore -----------------------------------------------------------------
const spaces = await (await root.follow('ec:datamanagers')).get();
const space = client.go(spaces.getEmbedded()[0].uri);
const assets = await space.follow('ec:assets');
const before = embedded(await assets.get());
assert.equal(before.length, 2, 'the fixture put two assets in the space');
const asset = client.go(before[0]);
const title = (await asset.get()).data.title; // cached (from the list's embedded copy or a GET)
await asset.delete();
const afterDelete = embedded(await assets.get()); // stale unless the DELETE invalidated the list
summary.delete = { before: before.length, after: afterDelete.length, listed: afterDelete.includes(asset.uri) };

const deletedList = await space.follow('ec:assets/deleted');
const deletedItems = (await deletedList.get()).getEmbedded();
assert.equal(deletedItems.length, 1, 'the deleted asset is in the deleted assets');
const deleted = client.go(deletedItems[0].uri);
const restoreForm = (await deleted.get()).action('restore');
assert.equal(restoreForm.method, 'DELETE');
const gets = fetched('GET', asset);
await restoreForm.submit({}); // 200 with the live asset and Content-Location: the asset's own URL
const restored = await asset.get(); // from the cache (Content-Location), not a new GET
const afterRestore = embedded(await assets.get());
summary.restore = {
  assetFromCache: fetched('GET', asset) === gets,
  assetTitle: restored.data.title,
  titleBefore: title,
  after: afterRestore.length,
  listed: afterRestore.includes(asset.uri),
  deletedAfter: (await deletedList.get()).getEmbedded().length,
};

// ---- objects: a new version -------------------------------------------------------------------------
const objects = await (await root.follow('ec:objects')).get();
const version0 = objects.getEmbedded()[0];
const object = client.go(version0.links.get('ec:object').href);
const v0 = await object.get(); // GET /api/v1/objects/{id} → 302 → its current version (cached under it)
const history = await object.follow('version-history');
const write = (await history.get()).action('default');
assert.equal(write.method, 'POST');
const newVersion = await write.submit({ data: { name: { _type: 'text', text: 'second' } } });
const again = await object.get(); // stale (v0) unless the POST invalidated the object
summary.version = {
  before: v0.data.version_id,
  after: again.data.version_id,
  name: again.data.data.name.text,
  created: newVersion.data.version_id,
  historyTotal: (await history.get()).data.total,
};
summary.network = network;
console.log(JSON.stringify(summary));
