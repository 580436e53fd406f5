/* Halyard's browsable API: template expansion, HAL-FORMS submission, sign-in, navigation.
 * Vanilla JS, no build step. Credentials live only in this tab's sessionStorage: only Halyard's own pages
 * run script in this origin (every stored file is sandboxed or an attachment; pages allow no inline
 * script), so only this file can read them (docs/security.md). Nothing a response carries is ever parsed
 * as HTML unless it is a Halyard page (PAGE_HEADER); everything else is text or a download. */
(function () {
  'use strict';
  var KEY = 'halyard.auth';
  var PAGE_HEADER = 'X-Halyard-Page';  // set only by the browsable renderer, never on a stored file
  var TEXT_TYPES = /^(application\/([\w.+-]+\+)?json|text\/plain|text\/csv)$/;

  function getAuth() { try { return sessionStorage.getItem(KEY); } catch (e) { return null; } }
  function setAuth(value) { sessionStorage.setItem(KEY, value); }
  /* Elements from text only: el('p', {'class': 'x'}, ['text', node]) never parses markup. */
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    });
    return node;
  }
  function fill(node, children) { node.replaceChildren.apply(node, children); return node; }

  /* ---------- RFC 6570 (levels 1-4) ---------- */
  function pct(value, allowReserved) {
    var out = encodeURIComponent(value).replace(/[!'()*]/g, function (c) {
      return '%' + c.charCodeAt(0).toString(16).toUpperCase();
    });
    if (allowReserved) {
      out = out.replace(/%(3A|2F|3F|23|5B|5D|40|21|24|26|27|28|29|2A|2B|2C|3B|3D)/gi, function (m) {
        return decodeURIComponent(m);
      });
    }
    return out;
  }
  var OPS = { '': ['', ',', false, false], '+': ['', ',', false, true], '#': ['#', ',', false, true],
    '.': ['.', '.', false, false], '/': ['/', '/', false, false], ';': [';', ';', true, false],
    '?': ['?', '&', true, false], '&': ['&', '&', true, false] };
  function expand(template, values) {
    return template.replace(/\{([^}]+)\}/g, function (_, expr) {
      var op = '';
      if ('+#./;?&'.indexOf(expr[0]) >= 0) { op = expr[0]; expr = expr.slice(1); }
      var cfg = OPS[op], parts = [];
      expr.split(',').forEach(function (spec) {
        var explode = spec.slice(-1) === '*', prefix = null, m;
        if (explode) spec = spec.slice(0, -1);
        if ((m = spec.match(/^(.*):(\d+)$/))) { spec = m[1]; prefix = +m[2]; }
        var v = values[spec];
        if (v === undefined || v === null || v === '' || (Array.isArray(v) && !v.length)) return;
        if (Array.isArray(v)) {
          var items = v.map(function (x) { return pct(String(x), cfg[3]); });
          if (explode) items.forEach(function (x) { parts.push(cfg[2] ? spec + '=' + x : x); });
          else parts.push((cfg[2] ? spec + '=' : '') + items.join(','));
          return;
        }
        v = String(v);
        if (prefix) v = v.slice(0, prefix);
        var enc = pct(v, cfg[3]);
        parts.push(cfg[2] ? spec + (enc === '' && op === ';' ? '' : '=' + enc) : enc);
      });
      return parts.length ? cfg[0] + parts.join(cfg[1]) : '';
    });
  }
  window.halyardExpand = expand;

  /* ---------- navigation that carries the stored credentials ---------- */
  function sameOrigin(url) { try { return new URL(url, location.href).origin === location.origin; } catch (e) { return false; } }

  function mediaType(resp) { return (resp.headers.get('Content-Type') || '').split(';')[0].trim().toLowerCase(); }

  /* Only a page Halyard's renderer made, from this origin, is ever put into the document as HTML. */
  function isHalyardPage(resp) {
    return resp.headers.get(PAGE_HEADER) === '1' && mediaType(resp) === 'text/html' && sameOrigin(resp.url);
  }

  function swap(html) {
    var doc = new DOMParser().parseFromString(html, 'text/html');
    document.title = doc.title;
    document.body.replaceWith(document.importNode(doc.body, true));
    init();
  }

  function showRaw(text, type, status) {
    var main = document.querySelector('main') || document.body;
    var body = text;
    try { body = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON: as is */ }
    fill(main, [el('section', { 'class': 'request' }, [el('p', { 'class': 'status', 'data-status': String(status) },
      [status + ' · ' + type])]), fill(el('pre', { id: 'raw' }), linkify(body))]);
  }

  /* A file (or anything else that is not a page or text): saved, never rendered, by its own name. */
  function download(resp) {
    var header = resp.headers.get('Content-Disposition') || '';
    var exact = /filename\*=UTF-8''([^;\s]+)/i.exec(header), ascii = /filename="((?:[^"\\]|\\.)*)"/i.exec(header);
    var name = exact ? decodeURIComponent(exact[1]) : ascii ? ascii[1].replace(/\\(.)/g, '$1') : '';
    return resp.blob().then(function (blob) {
      var href = URL.createObjectURL(new Blob([blob], { type: 'application/octet-stream' }));
      var a = el('a', { href: href, download: name || new URL(resp.url).pathname.split('/').filter(Boolean).pop() });
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(function () { URL.revokeObjectURL(href); }, 60000);
    });
  }

  function navigate(url, mode) {
    var auth = getAuth();
    if (!auth || !sameOrigin(url)) {
      if (mode === 'pop') location.reload(); else location.assign(url);
      return Promise.resolve();
    }
    return fetch(url, { headers: { Accept: 'text/html', Authorization: auth }, cache: 'no-store' }).then(function (resp) {
      var type = mediaType(resp), attachment = /^\s*attachment/i.test(resp.headers.get('Content-Disposition') || '');
      var page = isHalyardPage(resp);
      if (!page && (attachment || !TEXT_TYPES.test(type))) return download(resp);
      return resp.text().then(function (text) {
        if (mode === 'push') history.pushState({ halyard: 1 }, '', url);
        else if (mode === 'replace') history.replaceState({ halyard: 1 }, '', url);
        if (page) swap(text); else showRaw(text, type, resp.status);
        window.scrollTo(0, 0);
      });
    });
  }

  document.addEventListener('click', function (ev) {
    var a = ev.target.closest && ev.target.closest('a[href]');
    if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    if (a.target || a.hasAttribute('download') || !getAuth() || !sameOrigin(a.href)) return;
    if (a.getAttribute('href').charAt(0) === '#' || a.pathname.indexOf('/_browsable/') === 0) return;
    ev.preventDefault();
    navigate(a.href, 'push');
  });
  window.addEventListener('popstate', function () { if (getAuth()) navigate(location.href, 'pop'); });

  /* ---------- templated links and the filter/sort form ---------- */
  function submitUriTemplate(form) {
    var values = {};
    form.querySelectorAll('input[data-var]').forEach(function (input) {
      if (input.value.trim() !== '') values[input.dataset['var']] = input.value.trim();
    });
    return navigate(expand(form.dataset.template, values), 'push');
  }

  /* The typed filter form: each row's operator picks the variable its value goes to (title + "!=" →
     title!), "from/to" fills both range variables; the values expand the collection's options template. */
  function submitFilterForm(form) {
    var values = {};
    function put(name, value) { if (name && value !== undefined && String(value).trim() !== '') values[name] = String(value).trim(); }
    form.querySelectorAll('.filter-row[data-field]').forEach(function (row) {
      var op = row.querySelector('select.op').value, v1 = row.querySelector('.value').value, v2 = row.querySelector('.value2').value;
      if (op === 'between') { put(row.dataset.varFrom, v1); put(row.dataset.varTo, v2); }
      else put(row.dataset['var' + op.charAt(0).toUpperCase() + op.slice(1)], v1);
    });
    form.querySelectorAll('[data-var]').forEach(function (input) { put(input.dataset['var'], input.value); });
    return navigate(expand(form.dataset.template, values), 'push');
  }

  document.addEventListener('change', function (ev) {
    var select = ev.target;
    if (select.matches && select.matches('.filter-row select.op')) select.closest('.filter-row').dataset.op = select.value;
  });

  /* Thumbnails: the item's own raster image file, fetched with the tab's credentials and shown only when
     Halyard answers with a raster image type (never SVG or HTML), as a blob: URL of exactly that type. */
  var THUMB_TYPES = /^image\/(png|jpeg|gif|webp|avif|bmp)$/;
  function loadThumbs() {
    document.querySelectorAll('img[data-thumb]:not([src])').forEach(function (img) {
      var href = img.dataset.thumb;
      if (!sameOrigin(href)) return;
      var auth = getAuth(), headers = { Accept: 'image/*' };
      if (auth) headers.Authorization = auth;
      fetch(href, { headers: headers }).then(function (resp) {
        var type = mediaType(resp);
        if (!resp.ok || !THUMB_TYPES.test(type)) return;
        return resp.blob().then(function (blob) {
          img.src = URL.createObjectURL(new Blob([blob], { type: type }));
          img.alt = 'preview';
          img.classList.add('loaded');
        });
      }).catch(function () { /* no preview */ });
    });
  }

  /* HAL-FORMS options.link: the linked collection's items (one page of the largest size) become the
     suggestions of the id field, each showing its promptField and filling in its valueField. */
  function loadOptions() {
    document.querySelectorAll('input[data-options-href]:not([data-options-loaded])').forEach(function (input) {
      var href = input.dataset.optionsHref, list = document.getElementById(input.getAttribute('list'));
      input.dataset.optionsLoaded = '1';
      if (!list || !sameOrigin(href)) return;
      var auth = getAuth(), headers = { Accept: 'application/hal+json' };
      if (auth) headers.Authorization = auth;
      var url = new URL(href, location.href);
      if (!url.searchParams.has('size')) url.searchParams.set('size', '100');
      fetch(url.toString(), { headers: headers, cache: 'no-store' }).then(function (resp) {
        return resp.ok ? resp.json() : null;
      }).then(function (body) {
        var embedded = (body && body._embedded) || {}, items = [];
        Object.keys(embedded).forEach(function (rel) { items = items.concat(embedded[rel]); });
        fill(list, items.filter(function (item) { return item && item[input.dataset.valueField] != null; }).map(function (item) {
          var value = String(item[input.dataset.valueField]), prompt = item[input.dataset.promptField];
          return el('option', { value: value, label: prompt == null ? value : String(prompt) + ' (' + value + ')' });
        }));
      }).catch(function () { /* no suggestions */ });
    });
  }

  /* ---------- HAL-FORMS ---------- */
  function coerce(el) {
    var type = el.dataset.type || el.type, raw = el.value;
    if (el.type === 'checkbox') return el.checked;
    if (el.tagName === 'SELECT' && el.multiple) {
      return Array.prototype.map.call(el.selectedOptions, function (o) { return o.value; });
    }
    if (el.dataset.multiple) {
      return raw.split('\n').map(function (s) { return s.trim(); }).filter(Boolean).map(function (s) {
        return (type === 'number' || type === 'range') ? Number(s) : s;
      });
    }
    if (raw === '') return el.required ? '' : undefined;
    if (type === 'number' || type === 'range') return Number(raw);
    if (type === 'textarea' && /^\s*[\[{]/.test(raw)) { try { return JSON.parse(raw); } catch (e) { return raw; } }
    return raw;
  }

  /* Whether the person changed a field from what the page rendered (its prefilled or default state). */
  function changed(el) {
    if (el.type === 'checkbox') return el.checked !== el.defaultChecked;
    if (el.type === 'file') return el.files.length > 0;
    if (el.tagName === 'SELECT') {
      var opts = el.options, anyDefault = false, i;
      for (i = 0; i < opts.length; i++) if (opts[i].defaultSelected) anyDefault = true;
      for (i = 0; i < opts.length; i++) {
        var initially = opts[i].defaultSelected || (!anyDefault && !el.multiple && i === 0);
        if (opts[i].selected !== initially) return true;
      }
      return false;
    }
    return el.value !== el.defaultValue;
  }

  /* What a form sends (docs/browsable.md "Forms send only what you changed"): a changed field always;
     on PATCH nothing else; an untouched checkbox only on PUT, where it carries the prefilled current
     state (on POST the API's default applies); any other untouched field when it holds a value (a
     prefilled current value or default) or is required (so an empty required field gets its 400). */
  function wanted(el, method) {
    if (changed(el)) return true;
    if (method === 'PATCH' || el.type === 'file') return false;
    if (el.type === 'checkbox') return method === 'PUT';
    return el.required || el.value !== '';
  }

  function sameResource(target) {
    try { return new URL(target, location.href).pathname.replace(/\/$/, '') === location.pathname.replace(/\/$/, ''); }
    catch (e) { return false; }
  }

  /* Text with every quoted http(s) URL as a link: a list of nodes, built without parsing markup. */
  function linkify(text) {
    var nodes = [], last = 0, pattern = /"(https?:\/\/[^\s"]*)"/g, m;
    while ((m = pattern.exec(text))) {
      if (m[1].indexOf('{') >= 0) continue;
      nodes.push(text.slice(last, m.index + 1), el('a', { href: m[1] }, [m[1]]));
      last = m.index + 1 + m[1].length;
    }
    nodes.push(text.slice(last));
    return nodes;
  }

  function curlFor(method, target, headers, bodyText, multipart) {
    var q = function (s) { return "'" + String(s).replace(/'/g, "'\\''") + "'"; };
    var parts = ['curl -i -X ' + method];
    Object.keys(headers).forEach(function (h) {
      if (h === 'Authorization') parts.push('-H "Authorization: ' + headers[h].split(' ')[0] + ' $TOKEN"');
      else parts.push('-H ' + q(h + ': ' + headers[h]));
    });
    if (multipart) multipart.forEach(function (pair) { parts.push('-F ' + q(pair)); });
    else if (bodyText !== undefined) parts.push('--data ' + q(bodyText));
    parts.push(q(target));
    return parts.join(' ');
  }

  function parseJson(text) { try { return JSON.parse(text); } catch (e) { return null; } }

  /* The messages of a marshmallow-shaped ``errors`` object ({field: [msg]} or nested {field: {0: [msg]}})
     as [path, message] pairs, the path being the top-level field name. */
  function errorPairs(errors) {
    var pairs = [];
    function walk(field, value) {
      if (Array.isArray(value)) value.forEach(function (v) { walk(field, v); });
      else if (value && typeof value === 'object') Object.keys(value).forEach(function (k) { walk(field, value[k]); });
      else pairs.push([field, String(value)]);
    }
    if (errors && typeof errors === 'object') Object.keys(errors).forEach(function (k) { walk(k, errors[k]); });
    return pairs;
  }

  /* A problem's field errors next to their fields; the pairs that name no field of the form are returned. */
  function showFieldErrors(form, errors) {
    var unplaced = [];
    errorPairs(errors).forEach(function (pair) {
      var box = null;
      form.querySelectorAll('.prop[data-field]').forEach(function (p) { if (p.dataset.field === pair[0]) box = p; });
      if (!box) { unplaced.push(pair); return; }
      var msg = box.querySelector('.field-error');
      msg.textContent = msg.hidden ? pair[1] : msg.textContent + ' ' + pair[1];
      msg.hidden = false;
      box.classList.add('invalid');
      var input = box.querySelector('[name]');
      if (input) input.setAttribute('aria-invalid', 'true');
    });
    return unplaced;
  }

  function clearFieldErrors(form) {
    form.querySelectorAll('.prop.invalid').forEach(function (p) { p.classList.remove('invalid'); });
    form.querySelectorAll('.field-error').forEach(function (m) { m.hidden = true; m.textContent = ''; });
    form.querySelectorAll('[aria-invalid]').forEach(function (i) { i.removeAttribute('aria-invalid'); });
  }

  function submitHalForm(form) {
    var method = form.dataset.method, target = form.dataset.target, ct = form.dataset.contentType;
    var headers = { Accept: 'application/hal+json, application/problem+json;q=0.9, */*;q=0.1' };
    var auth = getAuth();
    if (auth) headers.Authorization = auth;
    var meta = document.querySelector('meta[name="halyard-etag"]');
    if (['PUT', 'PATCH', 'DELETE'].indexOf(method) >= 0 && meta && meta.content && sameResource(target)) {
      headers['If-Match'] = meta.content;
    }
    var fields = Array.prototype.filter.call(form.elements, function (el) { return el.name && !el.disabled; });
    var body, bodyText, multipart = null, url = target;
    if (method !== 'GET' && method !== 'HEAD') fields = fields.filter(function (el) { return wanted(el, method); });
    if (method === 'GET' || method === 'HEAD') {
      var params = new URLSearchParams();
      fields.forEach(function (el) { var v = coerce(el); if (v !== undefined && v !== '') params.append(el.name, v); });
      if (params.toString()) url += (url.indexOf('?') >= 0 ? '&' : '?') + params.toString();
    } else if (fields.length && ct.indexOf('multipart/') === 0) {
      body = new FormData(); multipart = [];
      fields.forEach(function (el) {
        if (el.type === 'file') {
          Array.prototype.forEach.call(el.files, function (f) { body.append(el.name, f, f.name); multipart.push(el.name + '=@' + f.name); });
          return;
        }
        var v = coerce(el);
        if (v === undefined) return;
        (Array.isArray(v) ? v : [v]).forEach(function (x) { body.append(el.name, String(x)); multipart.push(el.name + '=' + x); });
      });
    } else if (fields.length) {
      var obj = {};
      fields.forEach(function (el) { var v = coerce(el); if (v !== undefined) obj[el.name] = v; });
      body = bodyText = JSON.stringify(obj);
      headers['Content-Type'] = ct || 'application/json';
    }
    var result = form.querySelector('.result');
    fill(result, [el('p', { 'class': 'hint' }, ['Sending…'])]);
    clearFieldErrors(form);
    return fetch(url, { method: method, headers: headers, body: body }).then(function (resp) {
      return resp.text().then(function (text) {
        var pretty = text;
        try { pretty = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* keep text */ }
        var rows = [], location_ = resp.headers.get('Location');
        resp.headers.forEach(function (value, name) { rows.push(el('tr', {}, [el('th', {}, [name]), el('td', {}, [value])])); });
        var status = el('p', { 'class': 'status status-' + String(resp.status)[0] + 'xx', 'data-status': String(resp.status) },
          [method + ' → ', el('strong', {}, [resp.status + ' ' + resp.statusText])]);
        if (location_) status.append(' · ', el('a', { 'class': 'location', href: location_ }, [location_]));
        fill(result, [status,
          el('details', { 'class': 'headers' }, [el('summary', {}, ['Response headers']), el('table', {}, rows)]),
          el('div', { 'class': 'curl' }, [el('code', {}, [curlFor(method, url, headers, bodyText, multipart)])])]);
        var problem = mediaType(resp) === 'application/problem+json' ? parseJson(text) : null;
        if (problem) {
          var unplaced = showFieldErrors(form, problem.errors);
          result.appendChild(el('p', { 'class': 'problem-detail' }, [String(problem.detail || problem.title || '')]));
          if (unplaced.length) {
            result.appendChild(el('ul', { 'class': 'form-errors' }, unplaced.map(function (pair) {
              return el('li', {}, [el('code', {}, [pair[0]]), ' ' + pair[1]]);
            })));
          }
          if (pretty) {
            result.appendChild(el('details', { 'class': 'raw-response' }, [el('summary', {}, ['Response body']),
              fill(el('pre', { 'class': 'response-body' }), linkify(pretty))]));
          }
        } else if (pretty) result.appendChild(fill(el('pre', { 'class': 'response-body' }), linkify(pretty)));
      });
    }).catch(function (err) {
      fill(result, [el('p', { 'class': 'status status-5xx' }, ['Request failed: ' + err.message])]);
    });
  }

  document.addEventListener('submit', function (ev) {
    var form = ev.target;
    if (form.matches('form.uri-template')) { ev.preventDefault(); submitUriTemplate(form); }
    else if (form.matches('form.filter-form')) { ev.preventDefault(); submitFilterForm(form); }
    else if (form.matches('form.hal-form')) { ev.preventDefault(); submitHalForm(form); }
    else if (form.id === 'signin-token') {
      ev.preventDefault();
      var token = form.elements.token.value.trim();
      if (!token) return;
      setAuth(/^(Bearer|Token) /.test(token) ? token : 'Bearer ' + token);
      navigate(location.href, 'replace');
    } else if (form.id === 'signin-basic') {
      ev.preventDefault();
      var login = form.elements.login.value, password = form.elements.password.value;
      setAuth('Basic ' + btoa(unescape(encodeURIComponent(login + ':' + password))));
      navigate(location.href, 'replace');
    }
  });

  /* ---------- page set-up (also after every swap) ---------- */
  function init() {
    var out = document.getElementById('signout');
    if (out) {
      out.onclick = function () { sessionStorage.removeItem(KEY); location.reload(); };
    }
    loadThumbs();
    loadOptions();
    var raw = document.getElementById('raw');
    if (raw && !raw.dataset.linked) { fill(raw, linkify(raw.textContent)); raw.dataset.linked = '1'; }
    document.querySelectorAll('button.copy').forEach(function (btn) {
      btn.onclick = function () {
        var text = document.getElementById(btn.dataset.copy).textContent;
        if (navigator.clipboard) navigator.clipboard.writeText(text).catch(function () {});
        btn.textContent = 'Copied';
      };
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    init();
    // A page rendered for an anonymous visitor while this tab holds credentials: fetch it again with them.
    if (getAuth() && !document.body.dataset.user) navigate(location.href, 'replace');
  });
})();
