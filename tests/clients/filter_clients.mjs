// traverson (+ traverson-hal) and Ketting filter a collection through its `…/options` template by rel names
// only, passing the dotted filter names (`name.contains`, `id.not`, `created.from`) exactly as the template
// advertises them: no client-side encoding of variable names.
// Usage: node filter_clients.mjs <base-url> <bearer-token> <config-json>
// config: {collection: rel, queries: [{var: value}, ...]}; prints {traverson: [...], ketting: [...]}, each
// entry the embedded items' ids of one query (or {error}).
import ketting from 'ketting';
import traverson from 'traverson';
import JsonHalAdapter from 'traverson-hal';

const [base, token, configJson] = process.argv.slice(2);
const { collection, queries } = JSON.parse(configJson);
const options = `${collection}/options`;
const itemIds = (embedded) => Object.values(embedded || {}).flat().map((item) => item.id);

traverson.registerMediaType(JsonHalAdapter.mediaType, JsonHalAdapter);

function viaTraverson(vars) {
  return new Promise((resolve) => {
    traverson.from(`${base}/`).jsonHal()
      .withRequestOptions({ headers: { Authorization: `Bearer ${token}`, Accept: 'application/hal+json' } })
      .follow(collection, options)
      .withTemplateParameters(vars)
      .getResource((error, doc) => {
        if (error) resolve({ error: String(error.message || error) });
        else resolve({ ids: itemIds(doc._embedded) });
      });
  });
}

const client = new ketting.Ketting(`${base}/`);
client.use(ketting.bearerAuth(token));

async function viaKetting(vars) {
  try {
    const resource = await client.go().follow(collection).follow(options, vars);
    const state = await resource.refresh();
    return { ids: state.getEmbedded().map((item) => item.data.id), url: resource.uri };
  } catch (error) {
    return { error: String(error.message || error) };
  }
}

const out = { traverson: [], ketting: [] };
for (const vars of queries) {
  out.traverson.push(await viaTraverson(vars));
  out.ketting.push(await viaKetting(vars));
}
console.log(JSON.stringify(out));
