// The field technicians' app: login, live map, attention list, search and
// the vehicle page. Talks only to the gateway that served it.
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var S = { session: null, markers: new Map(), map: null, es: null, route: '', vehicle: null, timer: null };
  var REASONS = { lost: 'Lost', fallen: 'Fallen', vibration: 'Vibration alarm', error: 'Error', low_battery: 'Low battery' };

  function toast(msg) {
    var t = $('toast'); t.textContent = msg; t.hidden = false;
    clearTimeout(toast.h); toast.h = setTimeout(function () { t.hidden = true; }, 3500);
  }

  function api(method, path, body) {
    var h = { 'Accept': 'application/json' };
    if (body !== undefined) h['Content-Type'] = 'application/json';
    if (method !== 'GET' && S.session) h['X-CSRF-Token'] = S.session.csrf;
    return fetch(path, { method: method, headers: h, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body) })
      .then(function (r) {
        if (r.status === 401 && path !== '/ui/api/login') { showLogin(); throw new Error('login required'); }
        return r.text().then(function (t) {
          var j = null; try { j = t ? JSON.parse(t) : null; } catch (e) { j = null; }
          if (!r.ok && r.status !== 202) {
            var err = new Error((j && (j.title + (j.detail ? ': ' + j.detail : ''))) || ('HTTP ' + r.status));
            err.status = r.status; throw err;
          }
          return j;
        });
      });
  }

  // ---- login
  function showLogin() {
    S.session = null;
    if (S.es) { S.es.close(); S.es = null; }
    $('app').hidden = true; $('login-view').hidden = false;
    $('login-user').focus();
  }
  $('login-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var btn = $('login-submit'), err = $('login-error');
    btn.disabled = true; btn.textContent = 'Logging in…'; err.hidden = true;
    api('POST', '/ui/api/login', { username: $('login-user').value.trim(), password: $('login-pass').value })
      .then(function (s) { $('login-pass').value = ''; start(s); })
      .catch(function (x) { err.textContent = x.message; err.hidden = false; })
      .then(function () { btn.disabled = false; btn.textContent = 'Log in'; });
  });
  $('logout').addEventListener('click', function () {
    api('POST', '/ui/api/logout').catch(function () {}).then(function () { toast('Logged out'); showLogin(); });
  });

  // ---- start after login
  function start(s) {
    S.session = s;
    $('login-view').hidden = true; $('app').hidden = false;
    $('where').textContent = s.settings.city + ' · ' + s.user;
    if (!S.map) {
      S.map = new window.FieldMap($('map'), { tileURL: s.settings.tile_url, onSelect: function (id) { location.hash = '#/v/' + encodeURIComponent(id); } });
      window.fieldMap = S.map;
      $('zoom-in').onclick = function () { S.map.zoomBy(1); };
      $('zoom-out').onclick = function () { S.map.zoomBy(-1); };
      $('zoom-fit').onclick = function () { S.map.fit(); };
      $('attribution').textContent = s.settings.tile_url ? (s.settings.tile_attribution || '') : 'No base map: zones and vehicles only';
      legend();
    }
    api('GET', '/ui/api/zones').then(function (z) { S.map.setZones(z.zones); if (!S.map.fitted) S.map.fit(); })
      .catch(function (x) { toast('Zones: ' + x.message); });
    connectLive();
    if (!location.hash || location.hash === '#') location.hash = '#/map'; else route();
  }

  function legend() {
    var ul = $('legend'); ul.textContent = '';
    Object.keys(window.FieldMap.CATS).forEach(function (k) {
      var c = window.FieldMap.CATS[k], li = document.createElement('li'), d = document.createElement('span');
      d.className = 'dot'; d.style.background = c.color; li.appendChild(d);
      li.appendChild(document.createTextNode(c.label + (c.glyph ? ' (' + c.glyph + ')' : ''))); ul.appendChild(li);
    });
    Object.keys(window.FieldMap.ZONES).forEach(function (k) {
      var z = window.FieldMap.ZONES[k], li = document.createElement('li'), d = document.createElement('span');
      d.className = 'swatch'; d.style.background = z.fill; d.style.borderColor = z.stroke; li.appendChild(d);
      li.appendChild(document.createTextNode(z.label)); ul.appendChild(li);
    });
  }

  // ---- live updates (SSE)
  function connectLive() {
    if (S.es) S.es.close();
    var es = new EventSource('/ui/api/live');
    S.es = es;
    es.addEventListener('snapshot', function (e) {
      S.markers.clear(); S.map.markers.clear();
      apply(JSON.parse(e.data), true);
    });
    es.addEventListener('update', function (e) { apply(JSON.parse(e.data), false); });
    es.onopen = function () { $('live').className = 'live on'; };
    es.onerror = function () {
      $('live').className = 'live off';
      // the stream ends on logout/expiry too: check the session
      api('GET', '/ui/api/session').then(function (s) { S.session = s; }).catch(function () {});
    };
  }

  function apply(up, full) {
    (up.changed || []).forEach(function (m) { S.markers.set(m.id, m); S.map.setMarker(m); });
    (up.removed || []).forEach(function (id) { S.markers.delete(id); S.map.removeMarker(id); });
    if (full && !S.map.fitted) S.map.fit();
    S.map.redraw();
    var n = 0; S.markers.forEach(function (m) { if (m.att && m.att.length) n++; });
    $('att-count').textContent = n;
    if (S.route === 'attention') renderAttention();
    if (S.route === 'search') renderSearch();
    if (S.route === 'vehicle' && S.vehicle && (up.changed || []).some(function (m) { return m.id === S.vehicle; })) loadVehicle();
  }

  // ---- lists
  function tags(m) {
    var f = document.createDocumentFragment();
    (m.att || []).forEach(function (r) {
      var s = document.createElement('span'); s.className = 'tag ' + r;
      s.textContent = r === 'error' && m.err ? 'Error: ' + m.err : r === 'low_battery' && m.bat != null ? 'Battery ' + m.bat + '%' : REASONS[r] || r;
      f.appendChild(s);
    });
    return f;
  }
  function row(m, withTags) {
    var li = document.createElement('li'), a = document.createElement('a');
    a.href = '#/v/' + encodeURIComponent(m.id); a.dataset.vehicle = m.id;
    var d = document.createElement('span'); d.className = 'dot';
    d.style.background = (window.FieldMap.CATS[m.cat] || {}).color || '#666'; a.appendChild(d);
    var id = document.createElement('span'); id.className = 'vid'; id.textContent = m.id; a.appendChild(id);
    var why = document.createElement('span'); why.className = 'why';
    if (withTags && m.att && m.att.length) why.appendChild(tags(m));
    else why.textContent = ((window.FieldMap.CATS[m.cat] || {}).label || m.cat) + (m.bat != null ? ' · ' + m.bat + '%' : '');
    a.appendChild(why); li.appendChild(a); return li;
  }
  var PRIO = { fallen: 0, error: 1, lost: 2, vibration: 3, low_battery: 4 };
  function prio(m) { var p = 9; (m.att || []).forEach(function (r) { p = Math.min(p, PRIO[r] == null ? 9 : PRIO[r]); }); return p; }
  function renderAttention() {
    var q = $('att-filter').value.trim().toUpperCase(), ul = $('attention-list');
    var list = [];
    S.markers.forEach(function (m) { if (m.att && m.att.length && (!q || m.id.toUpperCase().indexOf(q) >= 0)) list.push(m); });
    list.sort(function (a, b) { return prio(a) - prio(b) || (a.id < b.id ? -1 : 1); });
    ul.textContent = '';
    list.slice(0, 500).forEach(function (m) { ul.appendChild(row(m, true)); });
    $('attention-empty').hidden = list.length > 0;
  }
  function renderSearch() {
    var q = $('search').value.trim().toUpperCase(), ul = $('search-list');
    ul.textContent = '';
    if (!q) return;
    var list = [];
    S.markers.forEach(function (m) { if (m.id.toUpperCase().indexOf(q) >= 0) list.push(m); });
    list.sort(function (a, b) { return a.id < b.id ? -1 : 1; });
    list.slice(0, 100).forEach(function (m) { ul.appendChild(row(m, true)); });
    if (!list.length) { var li = document.createElement('li'); li.className = 'muted'; li.textContent = 'No vehicle matches ' + q; ul.appendChild(li); }
  }
  $('att-filter').addEventListener('input', renderAttention);
  $('search').addEventListener('input', renderSearch);

  // ---- vehicle page
  function fmtTime(t) { if (!t) return '—'; var d = new Date(t); return d.toLocaleTimeString() + (Date.now() - d > 864e5 ? ' ' + d.toLocaleDateString() : ''); }
  function yesno(v, y, n) { return v == null ? '—' : v ? y : n; }
  function loadVehicle() {
    var id = S.vehicle;
    return api('GET', '/ui/api/vehicles/' + encodeURIComponent(id)).then(function (v) {
      if (S.vehicle !== id) return;
      renderVehicle(v);
    }).catch(function (x) { if (S.vehicle === id) { $('v-cat').textContent = x.message; } });
  }
  function renderVehicle(v) {
    $('v-title').textContent = 'Vehicle ' + v.id;
    var cat = window.FieldMap.CATS[v.cat] || { label: v.cat, color: '#666' };
    var line = $('v-cat'); line.textContent = '';
    var d = document.createElement('span'); d.className = 'dot'; d.style.background = cat.color; line.appendChild(d);
    line.appendChild(document.createTextNode(cat.label + ' '));
    line.appendChild(tags(v));
    var acts = $('v-actions');
    if (!acts.dataset.for || acts.dataset.for !== v.id) {
      acts.textContent = ''; acts.dataset.for = v.id;
      v.actions.forEach(function (a) {
        var b = document.createElement('button');
        b.textContent = a.label; b.dataset.action = a.action; b.title = 'command ' + a.code;
        if (a.confirm) b.className = 'confirm';
        b.onclick = function () { send(v.id, a, b); };
        acts.appendChild(b);
      });
    }
    var st = [
      ['Connection', v.state + ' since ' + fmtTime(v.state_since)],
      ['Last seen', fmtTime(v.last_seen)],
      ['Battery', v.bat == null ? '—' : v.bat + '%' + (v.voltage_v != null ? ' (' + v.voltage_v + ' V)' : '')],
      ['Power', yesno(v.powered, 'on (ride)', 'off')],
      ['Motor lock', yesno(v.motor_locked, 'locked', 'unlocked')],
      ['Chain lock', yesno(v.chain_open, 'open', 'closed')],
      ['Posture', yesno(v.fallen, 'FALLEN', 'upright')],
      ['Speed', v.speed_kmh == null ? '—' : v.speed_kmh + ' km/h (limit ' + (v.speed_limit_kmh == null ? '?' : v.speed_limit_kmh) + ')'],
      ['Error', v.error_code ? v.error_code + ': ' + (v.err || '') : v.error_code === 0 ? 'none' : '—'],
      ['Signal', v.signal == null ? '—' : String(v.signal)],
      ['Station', yesno(v.at_station, 'at a charging station', 'no')],
      ['Firmware', v.firmware || '—'], ['Hardware', v.hardware || '—'], ['IMEI', v.imei || '—'],
      ['Vibration', v.last_vibration ? fmtTime(v.last_vibration) : '—'],
      ['Position', v.lat != null ? v.lat.toFixed(6) + ', ' + v.lon.toFixed(6) + (v.lbs ? ' (cell tower)' : '') : '—']
    ];
    if (v.open_commands.length) st.push(['Open commands', v.open_commands.map(function (c) { return c.code + ' ' + c.state; }).join(', ')]);
    var dl = $('v-state'); dl.textContent = '';
    st.forEach(function (kv) { var dt = document.createElement('dt'), dd = document.createElement('dd'); dt.textContent = kv[0]; dd.textContent = kv[1]; dl.appendChild(dt); dl.appendChild(dd); });
    var up = $('v-upgrade');
    if (v.upgrade) {
      up.hidden = false; up.textContent = '';
      var h = document.createElement('strong'); h.textContent = 'Firmware upgrade ' + v.upgrade.state + ': ' + v.upgrade.sent + ' / ' + v.upgrade.total + ' packages' +
        (v.upgrade.failures ? ', ' + v.upgrade.failures + ' failures' : '') + (v.upgrade.restarts ? ', ' + v.upgrade.restarts + ' restarts' : '');
      var p = document.createElement('progress'); p.max = v.upgrade.total || 1; p.value = v.upgrade.sent;
      up.appendChild(h); up.appendChild(p);
    } else up.hidden = true;
    var pl = $('v-positions'); pl.textContent = '';
    v.positions.slice(0, 10).forEach(function (p) { var li = document.createElement('li'); li.textContent = fmtTime(p.received) + ' — ' + p.lat.toFixed(6) + ', ' + p.lon.toFixed(6) + (p.lbs ? ' (cell)' : ''); pl.appendChild(li); });
    if (!v.positions.length) pl.innerHTML = '<li class="muted">none yet</li>';
    var el = $('v-events'); el.textContent = '';
    v.events.slice(0, 20).forEach(function (e) { var li = document.createElement('li'); li.textContent = fmtTime(e.time) + ' — ' + describe(e); el.appendChild(li); });
    if (!v.events.length) el.innerHTML = '<li class="muted">none since the gateway started</li>';
  }
  function describe(e) {
    var x = e.event || {};
    switch (e.kind) {
      case 'command_result': return 'command ' + x.command.code + ' ' + x.command.outcome + (x.command.source ? ' (' + x.command.source + ')' : '');
      case 'state_changed': return x.state.from + ' → ' + x.state.to;
      case 'alarm': return 'ALARM ' + x.alarm.reason + (x.alarm.zone_id ? ' in ' + x.alarm.zone_id : '');
      case 'security': return x.security.reason + (x.security.client_id ? ' by ' + x.security.client_id : '') + (x.security.detail ? ': ' + x.security.detail : '');
      case 'firmware': return 'firmware ' + x.firmware.state + ' ' + x.firmware.sent + '/' + x.firmware.total;
      default: return e.kind;
    }
  }

  // send runs one action; the button and the result box show progress and
  // the scooter's answer (or the timeout).
  function send(id, a, btn) {
    if (a.confirm && !window.confirm(a.label + ' on ' + id + '?')) return;
    var box = $('v-result');
    box.hidden = false; box.className = 'result wait'; box.textContent = a.label + ': sent, waiting for ' + id + '…';
    btn.classList.add('busy'); btn.disabled = true;
    api('POST', '/ui/api/vehicles/' + encodeURIComponent(id) + '/commands', { action: a.action })
      .then(function (r) {
        var ok = r.outcome === 'acked';
        box.className = 'result ' + (ok ? 'ok' : r.outcome === 'pending' ? 'wait' : 'fail');
        var msg = a.label + ': ' + r.outcome.toUpperCase();
        if (ok && r.no_reply) msg += ' (sent; this command has no reply)';
        else if (ok) msg += ' — reply ' + r.reply_code;
        if (r.latency_ms) msg += ' in ' + Math.round(r.latency_ms) + ' ms';
        if (r.outcome === 'timeout') msg += ' — no answer from the scooter';
        if (r.error && !ok) msg += ' — ' + r.error;
        box.textContent = msg;
        if (r.reply) {
          var pre = document.createElement('pre');
          pre.textContent = Object.keys(r.reply).filter(function (k) { return k !== 'from' && k !== 'present'; })
            .map(function (k) { return k + ': ' + JSON.stringify(r.reply[k]); }).join('\n');
          box.appendChild(pre);
        }
        box.dataset.outcome = r.outcome;
        loadVehicle();
      })
      .catch(function (x) { box.className = 'result fail'; box.textContent = a.label + ': ' + x.message; box.dataset.outcome = 'error'; })
      .then(function () { btn.classList.remove('busy'); btn.disabled = false; });
  }

  // ---- routing
  function show(view) {
    ['map', 'attention', 'search', 'vehicle'].forEach(function (v) { $(v + '-view').hidden = v !== view; });
    ['map', 'attention', 'search'].forEach(function (v) { $('tab-' + v).classList.toggle('active', v === view); });
  }
  function route() {
    if (!S.session) return;
    clearInterval(S.timer); S.timer = null;
    var h = location.hash;
    if (h.indexOf('#/v/') === 0) {
      S.route = 'vehicle'; S.vehicle = decodeURIComponent(h.slice(4));
      show('vehicle'); $('v-result').hidden = true; $('v-actions').dataset.for = '';
      $('v-title').textContent = 'Vehicle ' + S.vehicle;
      S.map.markers.forEach(function (m) { m.selected = m.id === S.vehicle; });
      loadVehicle();
      S.timer = setInterval(loadVehicle, 5000);
      return;
    }
    S.vehicle = null;
    if (h === '#/attention') { S.route = 'attention'; show('attention'); renderAttention(); }
    else if (h === '#/search') { S.route = 'search'; show('search'); renderSearch(); $('search').focus(); }
    else { S.route = 'map'; show('map'); S.map.resize(); }
  }
  window.addEventListener('hashchange', route);

  api('GET', '/ui/api/session').then(start).catch(function () { showLogin(); });
})();
