// A small Web Mercator map on a <canvas>: optional raster tiles from a URL
// template, zones filled by kind, vehicles as coloured markers with a glyph
// (colour is never the only cue). Pan with one finger or the mouse, pinch or
// wheel to zoom, tap a marker to select it. No library, no network besides
// the optional tiles.
(function () {
  'use strict';
  var TILE = 256, MAX_LAT = 85.05112878, MIN_Z = 2, MAX_Z = 20;

  var CATS = {
    available:   { color: '#008a00', glyph: '',  label: 'Available' },
    on_ride:     { color: '#0050ff', glyph: 'R', label: 'On ride' },
    low_battery: { color: '#e07000', glyph: 'B', label: 'Low battery' },
    fallen:      { color: '#d00000', glyph: '!', label: 'Fallen' },
    error:       { color: '#000000', glyph: 'E', label: 'Error' },
    lost:        { color: '#7a00a8', glyph: '?', label: 'Lost' },
    offline:     { color: '#6b6b6b', glyph: '×', label: 'Offline' }
  };
  var ZONES = {
    operating_area: { fill: 'rgba(0,64,192,0.05)', stroke: '#0040c0', label: 'Operating area', dash: [] },
    slow:           { fill: 'rgba(255,170,0,0.28)', stroke: '#a05a00', label: 'Slow zone', dash: [] },
    no_ride:        { fill: 'rgba(220,0,0,0.28)', stroke: '#b00000', label: 'No-ride zone', dash: [] },
    no_parking:     { fill: 'rgba(140,0,200,0.22)', stroke: '#6a0096', label: 'No parking', dash: [8, 5] },
    parking:        { fill: 'rgba(0,160,0,0.25)', stroke: '#006000', label: 'Parking', dash: [] },
    other:          { fill: 'rgba(80,80,80,0.15)', stroke: '#333333', label: 'Other zone', dash: [4, 4] }
  };

  function worldSize(z) { return TILE * Math.pow(2, z); }
  function project(lon, lat, z) {
    var s = worldSize(z);
    var la = Math.max(-MAX_LAT, Math.min(MAX_LAT, lat)) * Math.PI / 180;
    var sin = Math.sin(la);
    return [(lon + 180) / 360 * s, (0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI)) * s];
  }
  function unproject(x, y, z) {
    var s = worldSize(z);
    var lon = x / s * 360 - 180;
    var n = Math.PI - 2 * Math.PI * y / s;
    return [lon, 180 / Math.PI * Math.atan(0.5 * (Math.exp(n) - Math.exp(-n)))];
  }

  function FieldMap(canvas, opts) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.tileURL = (opts && opts.tileURL) || '';
    this.onSelect = (opts && opts.onSelect) || function () {};
    this.center = [2.17, 41.39];
    this.zoom = 13;
    this.zones = [];
    this.markers = new Map();
    this.tiles = new Map();
    this.pointers = new Map();
    this.fitted = false;
    this.pending = false;
    this.lastDrawn = 0;
    this._bind();
    this.resize();
  }

  FieldMap.CATS = CATS;
  FieldMap.ZONES = ZONES;

  FieldMap.prototype.resize = function () {
    var r = this.canvas.getBoundingClientRect();
    var dpr = window.devicePixelRatio || 1;
    this.w = Math.max(1, r.width); this.h = Math.max(1, r.height);
    this.canvas.width = Math.round(this.w * dpr); this.canvas.height = Math.round(this.h * dpr);
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    this.redraw();
  };

  FieldMap.prototype.setZones = function (zones) { this.zones = zones || []; this.redraw(); };

  FieldMap.prototype.setMarker = function (m) { this.markers.set(m.id, m); };
  FieldMap.prototype.removeMarker = function (id) { this.markers.delete(id); };

  // toScreen converts lon/lat to canvas pixels.
  FieldMap.prototype.toScreen = function (lon, lat) {
    var c = project(this.center[0], this.center[1], this.zoom);
    var p = project(lon, lat, this.zoom);
    return [p[0] - c[0] + this.w / 2, p[1] - c[1] + this.h / 2];
  };

  FieldMap.prototype.fit = function () {
    var minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity, any = false;
    function add(lon, lat) {
      any = true;
      if (lon < minX) minX = lon; if (lon > maxX) maxX = lon;
      if (lat < minY) minY = lat; if (lat > maxY) maxY = lat;
    }
    this.markers.forEach(function (m) { if (m.lat != null) add(m.lon, m.lat); });
    this.zones.forEach(function (z) {
      z.polygons.forEach(function (p) { p[0].forEach(function (pt) { add(pt[0], pt[1]); }); });
    });
    if (!any) return false;
    this.center = [(minX + maxX) / 2, (minY + maxY) / 2];
    var z = MAX_Z;
    while (z > MIN_Z) {
      var a = project(minX, maxY, z), b = project(maxX, minY, z);
      if (b[0] - a[0] < this.w * 0.9 && b[1] - a[1] < this.h * 0.9) break;
      z--;
    }
    this.zoom = Math.min(z, 17);
    this.fitted = true;
    this.redraw();
    return true;
  };

  FieldMap.prototype.zoomBy = function (d, sx, sy) {
    var nz = Math.max(MIN_Z, Math.min(MAX_Z, this.zoom + d));
    if (nz === this.zoom) return;
    if (sx == null) { sx = this.w / 2; sy = this.h / 2; }
    // keep the point under (sx, sy) in place
    var c = project(this.center[0], this.center[1], this.zoom);
    var ll = unproject(c[0] + sx - this.w / 2, c[1] + sy - this.h / 2, this.zoom);
    this.zoom = nz;
    var p = project(ll[0], ll[1], nz);
    this.center = unproject(p[0] - (sx - this.w / 2), p[1] - (sy - this.h / 2), nz);
    this.redraw();
  };

  FieldMap.prototype.panBy = function (dx, dy) {
    var c = project(this.center[0], this.center[1], this.zoom);
    this.center = unproject(c[0] - dx, c[1] - dy, this.zoom);
    this.redraw();
  };

  FieldMap.prototype.redraw = function () {
    if (this.pending) return;
    this.pending = true;
    var self = this;
    requestAnimationFrame(function () { self.pending = false; self.draw(); });
  };

  FieldMap.prototype._tile = function (z, x, y) {
    var key = z + '/' + x + '/' + y;
    var t = this.tiles.get(key);
    if (t) return t.ok ? t.img : null;
    if (this.tiles.size > 400) this.tiles.clear();
    var img = new Image();
    var rec = { img: img, ok: false };
    var self = this;
    img.onload = function () { rec.ok = true; self.redraw(); };
    img.onerror = function () { rec.failed = true; };
    img.referrerPolicy = 'no-referrer';
    img.src = this.tileURL.replace('{z}', z).replace('{x}', x).replace('{y}', y)
      .replace('{s}', 'abc'[(x + y) % 3]);
    this.tiles.set(key, rec);
    return null;
  };

  FieldMap.prototype.draw = function () {
    var ctx = this.ctx, w = this.w, h = this.h, self = this;
    ctx.fillStyle = '#f4f4f4';
    ctx.fillRect(0, 0, w, h);
    var z = Math.round(this.zoom);
    var c = project(this.center[0], this.center[1], z);
    var ox = c[0] - w / 2, oy = c[1] - h / 2;
    if (this.tileURL) {
      var n = Math.pow(2, z);
      for (var tx = Math.floor(ox / TILE); tx <= Math.floor((ox + w) / TILE); tx++) {
        for (var ty = Math.floor(oy / TILE); ty <= Math.floor((oy + h) / TILE); ty++) {
          if (ty < 0 || ty >= n) continue;
          var img = this._tile(z, ((tx % n) + n) % n, ty);
          if (img) ctx.drawImage(img, tx * TILE - ox, ty * TILE - oy, TILE, TILE);
        }
      }
    } else {
      // blank map: a light grid so panning is visible
      ctx.strokeStyle = '#dddddd'; ctx.lineWidth = 1;
      var step = 128;
      for (var gx = -((ox % step) + step) % step; gx < w; gx += step) { ctx.beginPath(); ctx.moveTo(gx, 0); ctx.lineTo(gx, h); ctx.stroke(); }
      for (var gy = -((oy % step) + step) % step; gy < h; gy += step) { ctx.beginPath(); ctx.moveTo(0, gy); ctx.lineTo(w, gy); ctx.stroke(); }
    }
    // zones: operating areas first, the rest on top
    var order = ['operating_area', 'other', 'parking', 'no_parking', 'slow', 'no_ride'];
    order.forEach(function (kind) {
      self.zones.forEach(function (zn) {
        if ((ZONES[zn.kind] ? zn.kind : 'other') !== kind) return;
        var st = ZONES[kind];
        ctx.beginPath();
        zn.polygons.forEach(function (poly) {
          poly.forEach(function (ring) {
            ring.forEach(function (pt, i) {
              var p = project(pt[0], pt[1], z);
              if (i === 0) ctx.moveTo(p[0] - ox, p[1] - oy); else ctx.lineTo(p[0] - ox, p[1] - oy);
            });
            ctx.closePath();
          });
        });
        ctx.fillStyle = st.fill; ctx.fill('evenodd');
        ctx.setLineDash(st.dash); ctx.lineWidth = kind === 'operating_area' ? 3 : 2;
        ctx.strokeStyle = st.stroke; ctx.stroke();
        ctx.setLineDash([]);
      });
    });
    // markers: attention categories drawn last (on top)
    var rank = { available: 0, on_ride: 1, offline: 2, low_battery: 3, lost: 4, error: 5, fallen: 6 };
    var list = [];
    this.markers.forEach(function (m) { if (m.lat != null) list.push(m); });
    list.sort(function (a, b) { return (rank[a.cat] || 0) - (rank[b.cat] || 0); });
    var r = z >= 15 ? 11 : 8, drawn = [];
    ctx.font = 'bold ' + (r + 3) + 'px system-ui, sans-serif';
    ctx.textAlign = 'center'; ctx.textBaseline = 'middle';
    list.forEach(function (m) {
      var p = project(m.lon, m.lat, z);
      var x = p[0] - ox, y = p[1] - oy;
      if (x < -r || y < -r || x > w + r || y > h + r) return;
      var cat = CATS[m.cat] || CATS.offline;
      ctx.beginPath(); ctx.arc(x, y, r, 0, 2 * Math.PI);
      ctx.fillStyle = cat.color; ctx.fill();
      ctx.lineWidth = 2.5; ctx.strokeStyle = m.cat === 'error' ? '#ffffff' : '#000000'; ctx.stroke();
      if (cat.glyph) { ctx.fillStyle = m.cat === 'low_battery' ? '#000' : '#fff'; ctx.fillText(cat.glyph, x, y + 1); }
      if (m.selected) { ctx.beginPath(); ctx.arc(x, y, r + 5, 0, 2 * Math.PI); ctx.lineWidth = 3; ctx.strokeStyle = '#0040c0'; ctx.stroke(); }
      drawn.push({ id: m.id, x: x, y: y });
    });
    this.drawn = drawn;
    this.lastDrawn = drawn.length;
    ctx.fillStyle = '#000'; ctx.textAlign = 'right'; ctx.font = '13px system-ui, sans-serif';
    ctx.fillText('z' + z, w - 8, h - 10);
  };

  // hit returns the id of the marker nearest (sx, sy) within a finger's reach.
  FieldMap.prototype.hit = function (sx, sy) {
    var best = null, bd = 26 * 26;
    (this.drawn || []).forEach(function (d) {
      var dd = (d.x - sx) * (d.x - sx) + (d.y - sy) * (d.y - sy);
      if (dd <= bd) { bd = dd; best = d.id; }
    });
    return best;
  };

  FieldMap.prototype._bind = function () {
    var self = this, cv = this.canvas, moved = 0, pinch = null;
    function pos(e) { var r = cv.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; }
    cv.addEventListener('pointerdown', function (e) {
      cv.setPointerCapture(e.pointerId);
      self.pointers.set(e.pointerId, pos(e));
      moved = 0;
      if (self.pointers.size === 2) {
        var ps = Array.from(self.pointers.values());
        pinch = { d: Math.hypot(ps[0][0] - ps[1][0], ps[0][1] - ps[1][1]) };
      }
    });
    cv.addEventListener('pointermove', function (e) {
      if (!self.pointers.has(e.pointerId)) return;
      var p = pos(e), prev = self.pointers.get(e.pointerId);
      self.pointers.set(e.pointerId, p);
      if (self.pointers.size === 1) {
        moved += Math.abs(p[0] - prev[0]) + Math.abs(p[1] - prev[1]);
        self.panBy(p[0] - prev[0], p[1] - prev[1]);
      } else if (self.pointers.size === 2 && pinch) {
        var ps = Array.from(self.pointers.values());
        var d = Math.hypot(ps[0][0] - ps[1][0], ps[0][1] - ps[1][1]);
        if (Math.abs(Math.log2(d / pinch.d)) >= 0.5) {
          self.zoomBy(d > pinch.d ? 1 : -1, (ps[0][0] + ps[1][0]) / 2, (ps[0][1] + ps[1][1]) / 2);
          pinch.d = d;
        }
        moved = 100;
      }
    });
    function up(e) {
      var p = self.pointers.get(e.pointerId);
      self.pointers.delete(e.pointerId);
      if (self.pointers.size < 2) pinch = null;
      if (p && moved < 8 && e.type === 'pointerup') {
        var id = self.hit(p[0], p[1]);
        if (id) self.onSelect(id);
      }
    }
    cv.addEventListener('pointerup', up);
    cv.addEventListener('pointercancel', up);
    cv.addEventListener('wheel', function (e) {
      e.preventDefault();
      var p = pos(e);
      self.zoomBy(e.deltaY < 0 ? 1 : -1, p[0], p[1]);
    }, { passive: false });
    window.addEventListener('resize', function () { self.resize(); });
  };

  window.FieldMap = FieldMap;
})();
