// The wandbkit workspace: one small canvas chart per metric, drawn from the lines
// wandbkit_gradio/workspace.py shapes. Every user-given text goes in through textContent.
(function () {
  if (window.WandbkitWorkspace) return;
  const W = {};
  const NS = 'wk';

  // Debiased EMA as W&B and TensorBoard smooth: last = last*w + (1-w)*v, divided by
  // 1 - w^k (k finite points so far); non-finite points stay gaps and do not reset it.
  W.ema = function (values, weight) {
    const out = new Float64Array(values.length);
    if (!(weight > 0)) { out.set(values); return out; }
    let last = 0, debias = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (!Number.isFinite(v)) { out[i] = NaN; continue; }
      last = last * weight + (1 - weight) * v;
      debias = debias * weight + (1 - weight);
      out[i] = last / debias;
    }
    return out;
  };

  function decode(b64, wide) {
    if (b64 == null) return null;
    let bytes;
    if (Uint8Array.fromBase64) bytes = Uint8Array.fromBase64(b64);  // native (Chromium 140+)
    else {
      const bin = atob(b64);
      bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    }
    return wide ? new Float64Array(bytes.buffer) : new Float32Array(bytes.buffer);
  }
  function decodeLine(enc) {
    return {x: decode(enc.x, true), y: decode(enc.y), lo: decode(enc.lo), hi: decode(enc.hi)};
  }
  function concat(a, b) {
    if (a == null || b == null) return a == null ? b : a;
    const out = new a.constructor(a.length + b.length);
    out.set(a); out.set(b, a.length); return out;
  }
  function appendLine(old, add) {
    if (!old) return add;
    const band = old.lo || add.lo;
    const lo = band ? concat(old.lo || old.y, add.lo || add.y) : null;
    const hi = band ? concat(old.hi || old.y, add.hi || add.y) : null;
    return {x: concat(old.x, add.x), y: concat(old.y, add.y), lo, hi};
  }
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  function fmt(v) {
    if (!Number.isFinite(v)) return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
    return String(Number(v.toPrecision(4)));
  }
  function fmtX(v, axis) {
    if (axis === 'wall time') {
      const d = new Date(v * 1000);
      return d.toLocaleTimeString([], {hour: '2-digit', minute: '2-digit', second: '2-digit'});
    }
    if (axis === 'relative time') return v >= 3600 ? fmt(v / 3600) + 'h' : v >= 60 ? fmt(v / 60) + 'm' : fmt(v) + 's';
    return fmt(v);
  }
  function ticks(lo, hi, n) {  // "nice" steps (1, 2, 5 x 10^k), at least two ticks in range
    if (!(hi > lo)) return [lo];
    const mag = Math.pow(10, Math.floor(Math.log10((hi - lo) / n)));
    let best = [];
    for (const step of [10, 5, 2, 1, 0.5, 0.2].map(m => m * mag)) {
      const out = [];
      for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9 && out.length < 50; t += step) out.push(Number(t.toPrecision(12)));
      best = out;
      if (out.length >= Math.min(n, 2) + (n > 2 ? 1 : 0)) break;
    }
    return best;
  }
  function lowerBound(xs, v) {
    let lo = 0, hi = xs.length;
    while (lo < hi) { const m = (lo + hi) >> 1; if (xs[m] < v) lo = m + 1; else hi = m; }
    return lo;
  }

  class Workspace {
    constructor(root, server, opts) {
      this.root = root; this.server = server; this.opts = opts;
      this.settings = {x: 'step', logy: false, smoothing: 0, raw: true};
      this.overrides = {};        // per chart: {x, logy, smoothing}
      this.zoom = {};             // per chart: [x0, x1]
      this.extra = {};            // per chart with its own x axis: {x, lines}
      this.hidden = new Set();    // runs (or groups) toggled off
      this.filters = {text: '', state: '', tag: '', group: ''};
      this.groupBy = '';
      this.search = '';
      this.lines = {}; this.cursors = {}; this.runs = []; this.sections = []; this.media = {};
      this.build();
      this.load().then(() => this.startLive());
    }

    request(extra) {
      const req = Object.assign({x: this.settings.x, width: this.width(), group_by: this.groupBy,
                                 run: this.opts.run || ''}, extra || {});
      return this.server.workspace_data(req);
    }
    width() { return Math.max(64, Math.round(this.chartWidth || 420)); }

    async load() {
      this.status.textContent = 'loading…';
      const t0 = performance.now();
      this.root.dataset.requestedAt = String(t0);
      let data;
      try { data = await this.request(); this.root.dataset.answeredAt = String(performance.now()); } catch (e) { this.status.textContent = String(e); return; }
      if (data.error) { this.status.textContent = data.error; return; }
      this.apply(data, false);
      this.root.dataset.appliedAt = String(performance.now());
      this.render();
      this.status.textContent = `${data.points.toLocaleString()} points · ${(performance.now() - t0).toFixed(0)} ms`;
      this.root.dataset.loads = String(Number(this.root.dataset.loads || 0) + 1);
    }

    apply(data, tick) {
      this.runs = data.runs; this.sections = data.sections; this.xChoices = data.x_choices;
      this.groups = data.groups || null;
      if (!tick) { this.lines = {}; this.cursors = {}; }
      if (data.media) this.media = data.media;
      for (const [key, per] of Object.entries(data.lines)) {
        const chart = this.lines[key] || (this.lines[key] = {});
        for (const [id, enc] of Object.entries(per)) {
          const line = decodeLine(enc);
          chart[id] = tick && id in this.cursors ? appendLine(chart[id], line) : line;
        }
      }
      Object.assign(this.cursors, data.cursors);
    }

    startLive() {
      const every = this.opts.refresh_ms;
      if (!(every > 0)) return;
      this.timer = setInterval(() => this.tick(), every);
    }

    async tick() {
      if (this.ticking || !this.root.isConnected) return;
      this.ticking = true;
      try {
        if (this.groupBy) { await this.load(); return; }
        const running = this.runs.filter(r => r.state === 'running').map(r => r.id);
        const cursors = {};
        for (const id of running) if (id in this.cursors) cursors[id] = this.cursors[id];
        const known = this.runs.map(r => r.id);
        const data = await this.request({tick: true, cursors, known});
        const before = JSON.stringify(this.sections) + this.runs.length;
        this.apply(data, true);
        this.root.dataset.ticks = String(Number(this.root.dataset.ticks || 0) + 1);
        if (before !== JSON.stringify(this.sections) + this.runs.length) this.render();
        else { this.renderRuns(); this.drawAll(); }
      } catch (e) { this.status.textContent = String(e); }
      finally { this.ticking = false; }
    }

    // --- layout -------------------------------------------------------------------------
    build() {
      const root = this.root;
      root.textContent = '';
      root.classList.add(NS);
      const side = el('div', 'wk-side'), main = el('div', 'wk-main');
      root.append(side, main);
      const filterText = el('input', 'wk-run-filter'); filterText.placeholder = 'Filter runs (name, tag, config text)';
      filterText.setAttribute('aria-label', 'Filter runs');
      filterText.oninput = () => { this.filters.text = filterText.value; this.renderRuns(); this.drawAll(); };
      this.stateSel = this.select('wk-filter-state', 'State', v => { this.filters.state = v; this.renderRuns(); this.drawAll(); });
      this.tagSel = this.select('wk-filter-tag', 'Tag', v => { this.filters.tag = v; this.renderRuns(); this.drawAll(); });
      this.groupSel = this.select('wk-filter-group', 'Group', v => { this.filters.group = v; this.renderRuns(); this.drawAll(); });
      this.groupBySel = this.select('wk-group-by', 'Group by', v => { this.groupBy = v; this.hidden.clear(); this.load(); });
      const all = el('button', 'wk-btn', 'all'), none = el('button', 'wk-btn', 'none');
      all.onclick = () => { this.hidden.clear(); this.renderRuns(); this.drawAll(); };
      none.onclick = () => { for (const r of this.items()) this.hidden.add(r.id); this.renderRuns(); this.drawAll(); };
      const bar = el('div', 'wk-row'); bar.append(el('b', '', 'Runs'), all, none);
      this.runList = el('div', 'wk-runlist');
      side.append(bar, filterText, this.stateSel.wrap, this.tagSel.wrap, this.groupSel.wrap, this.groupBySel.wrap, this.runList);

      const tools = el('div', 'wk-toolbar');
      const search = el('input', 'wk-search'); search.placeholder = 'Search panels (text or regex)';
      search.setAttribute('aria-label', 'Search panels');
      search.oninput = () => { this.search = search.value; this.applySearch(); };
      this.xSel = this.select('wk-x', 'X axis', v => { this.settings.x = v; this.zoom = {}; this.load(); });
      const logy = el('label', 'wk-check'); const logBox = el('input'); logBox.type = 'checkbox';
      logBox.className = 'wk-logy'; logy.append(logBox, document.createTextNode(' log y'));
      logBox.onchange = () => { this.settings.logy = logBox.checked; this.drawAll(); };
      const smooth = el('label', 'wk-check'); const slider = el('input'); slider.type = 'range';
      slider.min = 0; slider.max = 0.99; slider.step = 0.01; slider.value = 0; slider.className = 'wk-smoothing';
      const sv = el('span', 'wk-smoothing-value', '0');
      slider.oninput = () => { this.settings.smoothing = Number(slider.value); sv.textContent = slider.value; this.drawAll(); };
      smooth.append(document.createTextNode('smoothing '), slider, sv);
      this.status = el('span', 'wk-status', '');
      tools.append(search, this.xSel.wrap, logy, smooth, this.status);
      this.sectionsEl = el('div', 'wk-sections');
      main.append(tools, this.sectionsEl);
      this.tip = el('div', 'wk-tip'); this.tip.style.display = 'none';
      root.append(this.tip);
      this.chartWidth = Math.max(240, (main.clientWidth || 900) / 3 - 24);
      window.addEventListener('resize', () => this.drawAll(true));
    }

    select(cls, label, onchange) {
      const wrap = el('label', 'wk-select'); const sel = el('select', cls);
      sel.setAttribute('aria-label', label);
      wrap.append(el('span', '', label + ' '), sel);
      sel.onchange = () => onchange(sel.value);
      return {wrap, sel, set: (values, current, blank) => {
        sel.textContent = '';
        if (blank != null) { const o = el('option', '', blank); o.value = ''; sel.append(o); }
        for (const v of values) { const o = el('option', '', v); o.value = v; sel.append(o); }
        sel.value = values.includes(current) ? current : (blank != null ? '' : values[0]);
      }};
    }

    items() {  // what has a line and a colour: runs, or groups when grouping
      if (this.groups) return this.groups.map(g => ({id: g.id, name: `${g.name} (${g.runs})`, color: g.color}));
      return this.runs.filter(r => this.passes(r));
    }
    passes(run) {
      const f = this.filters;
      if (f.state && run.state !== f.state) return false;
      if (f.tag && !run.tags.includes(f.tag)) return false;
      if (f.group && run.group !== f.group) return false;
      if (f.text) {
        const hay = [run.id, run.name, run.group, ...run.tags, run.config].join(' ').toLowerCase();
        if (!hay.includes(f.text.toLowerCase())) return false;
      }
      return true;
    }
    visibleItems() { return this.items().filter(r => !this.hidden.has(r.id)); }

    render() {
      const uniq = xs => [...new Set(xs)].sort();
      this.stateSel.set(uniq(this.runs.map(r => r.state)), this.filters.state, 'any');
      this.tagSel.set(uniq(this.runs.flatMap(r => r.tags)), this.filters.tag, 'any');
      this.groupSel.set(uniq(this.runs.map(r => r.group).filter(Boolean)), this.filters.group, 'any');
      const keys = uniq(this.runs.flatMap(r => r.config_keys));
      this.groupBySel.set(['group', ...keys], this.groupBy, 'none');
      this.xSel.set(this.xChoices, this.settings.x);
      this.renderRuns();
      this.renderSections();  // draws every shown chart once (through applySearch)
    }

    renderRuns() {
      this.runList.textContent = '';
      for (const item of this.items()) {
        const row = el('label', 'wk-run'); row.dataset.run = item.id;
        const box = el('input'); box.type = 'checkbox'; box.checked = !this.hidden.has(item.id);
        box.setAttribute('aria-label', 'show ' + item.name);
        box.onchange = () => {
          if (box.checked) this.hidden.delete(item.id); else this.hidden.add(item.id);
          const t0 = performance.now(); this.drawAll();
          this.root.dataset.lastRedrawMs = (performance.now() - t0).toFixed(1);
        };
        const sw = el('span', 'wk-swatch'); sw.style.background = item.color;
        const state = item.state && item.state !== 'finished' ? el('span', 'wk-state', item.state) : null;
        row.append(box, sw, el('span', 'wk-run-name', item.name));
        if (state) row.append(state);
        this.runList.append(row);
      }
    }

    renderSections() {
      this.sectionsEl.textContent = '';
      this.panels = [];
      const media = Object.keys(this.media || {});
      const sections = this.sections.map(([name, keys]) => [name, keys.slice()]);
      for (const key of media) {  // media panels join their prefix's section
        const name = key.includes('/') && key.split('/')[0] && key.slice(key.indexOf('/') + 1) ? key.split('/')[0] : 'Charts';
        let sec = sections.find(s => s[0] === name);
        if (!sec) { sec = [name, []]; sections.push(sec); }
        if (!sec[1].includes(key)) sec[1].push(key);
      }
      for (const [name, keys] of sections) {
        const det = el('details', 'wk-section'); det.open = true; det.dataset.section = name;
        const sum = el('summary', 'wk-section-title');
        sum.append(el('span', 'wk-section-name', name), el('span', 'wk-count', ` (${keys.length})`));
        const grid = el('div', 'wk-grid');
        det.append(sum, grid);
        for (const key of keys) {
          const panel = this.media[key] ? this.mediaPanel(key, this.media[key]) : this.chartPanel(key);
          grid.append(panel.el);
          this.panels.push(panel);
        }
        this.sectionsEl.append(det);
      }
      this.applySearch();
    }

    applySearch() {
      let re = null;
      try { re = this.search ? new RegExp(this.search, 'i') : null; } catch (e) { re = null; }
      const q = this.search.toLowerCase();
      for (const det of this.sectionsEl.querySelectorAll('.wk-section')) {
        let shown = 0;
        for (const p of det.querySelectorAll('.wk-panel')) {
          const key = p.dataset.key;
          const ok = !this.search || (re ? re.test(key) : key.toLowerCase().includes(q));
          p.style.display = ok ? '' : 'none';
          p.dataset.hidden = ok ? '0' : '1';
          shown += ok ? 1 : 0;
        }
        det.style.display = shown ? '' : 'none';
        det.querySelector('.wk-count').textContent = ` (${shown})`;
      }
      this.drawAll();
    }

    // --- charts -------------------------------------------------------------------------
    chartPanel(key) {
      const p = el('div', 'wk-panel'); p.dataset.key = key;
      const head = el('div', 'wk-panel-head');
      const title = el('span', 'wk-panel-title', key);
      const reset = el('button', 'wk-btn wk-reset', 'reset zoom'); reset.style.display = 'none';
      const gear = el('button', 'wk-btn wk-gear', '⚙'); gear.title = 'this chart\'s settings';
      head.append(title, reset, gear);
      const form = this.overrideForm(key); form.style.display = 'none';
      gear.onclick = () => { form.style.display = form.style.display === 'none' ? '' : 'none'; };
      const canvas = el('canvas', 'wk-canvas');
      const sel = el('div', 'wk-zoombox'); sel.style.display = 'none';
      const body = el('div', 'wk-body'); body.append(canvas, sel);
      p.append(head, form, body);
      const panel = {el: p, key, canvas, reset, kind: 'line', draw: () => this.drawChart(panel)};
      reset.onclick = () => { delete this.zoom[key]; panel.draw(); };
      this.interact(panel, body, sel);
      return panel;
    }

    overrideForm(key) {
      const form = el('div', 'wk-override');
      const x = el('select', 'wk-ov-x'); x.setAttribute('aria-label', 'x axis of ' + key);
      const log = el('select', 'wk-ov-log'); log.setAttribute('aria-label', 'y scale of ' + key);
      const sm = el('input', 'wk-ov-smoothing'); sm.type = 'number'; sm.min = 0; sm.max = 0.99; sm.step = 0.05;
      sm.placeholder = 'workspace'; sm.setAttribute('aria-label', 'smoothing of ' + key);
      for (const [v, t] of [['', 'y: workspace'], ['linear', 'y: linear'], ['log', 'y: log']]) {
        const o = el('option', '', t); o.value = v; log.append(o);
      }
      const fill = () => {
        x.textContent = '';
        const o = el('option', '', 'x: workspace'); o.value = ''; x.append(o);
        for (const c of this.xChoices || []) { const oc = el('option', '', 'x: ' + c); oc.value = c; x.append(oc); }
      };
      x.onfocus = fill; fill();
      const update = async () => {
        const ov = {};
        if (x.value) ov.x = x.value;
        if (log.value) ov.logy = log.value === 'log';
        if (sm.value !== '') ov.smoothing = Math.min(0.99, Math.max(0, Number(sm.value)));
        this.overrides[key] = ov;
        delete this.zoom[key];
        if (ov.x && ov.x !== this.settings.x) {
          const data = await this.request({x: ov.x, keys: [key]});
          const lines = {};
          for (const [id, enc] of Object.entries(data.lines[key] || {})) lines[id] = decodeLine(enc);
          this.extra[key] = {x: ov.x, lines};
        } else delete this.extra[key];
        this.drawKey(key);
      };
      x.onchange = update; log.onchange = update; sm.onchange = update;
      form.append(x, log, sm);
      return form;
    }

    drawKey(key) { for (const p of this.panels || []) if (p.key === key) p.draw(); }

    drawAll(resized) {
      const t0 = performance.now();
      const shown = (this.panels || []).filter(p => p.el.dataset.hidden !== '1');
      for (const p of shown) if (resized || !p.size) p.size = p.canvas ? [p.canvas.clientWidth || 400, p.canvas.clientHeight || 220] : null;
      for (const p of shown) p.draw();
      this.root.dataset.drawnAt = String(performance.now());
      this.root.dataset.drawMs = (performance.now() - t0).toFixed(1);
    }

    chartSettings(key) {
      const s = Object.assign({}, this.settings, this.overrides[key] || {});
      if (!(this.extra[key] && this.extra[key].x === s.x)) s.x = this.settings.x;
      return s;
    }

    prepared(panel) {  // the visible lines in data space, with the smoothed y
      const s = this.chartSettings(panel.key);
      const source = this.extra[panel.key] ? this.extra[panel.key].lines : (this.lines[panel.key] || {});
      const out = [];
      for (const item of this.visibleItems()) {
        const line = source[item.id];
        if (!line || !line.x.length) continue;
        const ys = s.smoothing > 0 ? W.ema(line.y, s.smoothing) : line.y;
        out.push({id: item.id, name: item.name, color: item.color, x: line.x, y: ys, raw: line.y,
                  lo: line.lo, hi: line.hi});
      }
      return {s, lines: out};
    }

    drawChart(panel) {
      const {s, lines} = this.prepared(panel);
      const c = panel.canvas, dpr = window.devicePixelRatio || 1;
      // the size is read once (and on resize): reading it after the panel's data attributes
      // changed would force a style pass over the whole page for every chart
      if (!panel.size) panel.size = [c.clientWidth || 400, c.clientHeight || 220];
      const [w, h] = panel.size;
      if (c.width !== Math.round(w * dpr)) { c.width = Math.round(w * dpr); c.height = Math.round(h * dpr); }
      const g = c.getContext('2d');
      g.setTransform(dpr, 0, 0, dpr, 0, 0);
      g.clearRect(0, 0, w, h);
      const L = 52, R = 8, T = 8, B = 26;
      let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
      const zoom = this.zoom[panel.key];
      for (const ln of lines) {
        for (let i = 0; i < ln.x.length; i++) if (Number.isFinite(ln.x[i])) { x0 = Math.min(x0, ln.x[i]); x1 = Math.max(x1, ln.x[i]); }
      }
      if (zoom) { x0 = zoom[0]; x1 = zoom[1]; }
      const ok = v => Number.isFinite(v) && (!s.logy || v > 0);
      let bandMax = -Infinity;
      for (const ln of lines) {
        const a = lowerBound(ln.x, x0), b = Math.min(ln.x.length, lowerBound(ln.x, x1) + 1);
        for (let i = a; i < b; i++) {
          for (const arr of [ln.y, ln.raw, ln.lo, ln.hi]) {
            if (!arr) continue;
            const v = arr[i]; if (ok(v)) { y0 = Math.min(y0, v); y1 = Math.max(y1, v); }
          }
          if (ln.hi && Number.isFinite(ln.hi[i])) bandMax = Math.max(bandMax, ln.hi[i]);
        }
      }
      const d = panel.el.dataset;
      d.lines = String(lines.length);
      d.colors = JSON.stringify(Object.fromEntries(lines.map(l => [l.id, l.color])));
      d.xaxis = s.x; d.ylog = s.logy ? '1' : '0'; d.smoothing = String(s.smoothing);
      d.bandmax = Number.isFinite(bandMax) ? String(bandMax) : '';
      if (!lines.length || !Number.isFinite(x0) || !Number.isFinite(y0)) {
        g.fillStyle = '#888'; g.font = '12px sans-serif'; g.fillText('no data for the visible runs', L, h / 2);
        d.xmin = d.xmax = d.ymin = d.ymax = ''; d.yticks = '[]';
        panel.scale = null; return;
      }
      if (x1 === x0) { x1 = x0 + 1; }
      if (y1 === y0) { const pad = Math.abs(y0) * 0.05 || 1; y0 -= s.logy ? y0 / 2 : pad; y1 += pad; }
      const ty = s.logy ? v => Math.log10(v) : v => v;
      const Y0 = ty(y0), Y1 = ty(y1), pad = (Y1 - Y0) * 0.04;
      const ya = Y0 - pad, yb = Y1 + pad;
      const px = v => L + (v - x0) / (x1 - x0) * (w - L - R);
      const py = v => T + (1 - (ty(v) - ya) / (yb - ya)) * (h - T - B);
      panel.scale = {x0, x1, L, R, w, px, lines, s};
      d.xmin = String(x0); d.xmax = String(x1); d.ymin = String(y0); d.ymax = String(y1);
      this.drawBands(g, c, dpr, lines, px, py, ok, x0, x1, {L, R, T, B, w, h});
      // axes and ticks
      g.strokeStyle = '#e5e7eb'; g.fillStyle = '#6b7280'; g.font = '11px sans-serif'; g.lineWidth = 1;
      const yt = s.logy ? ticks(Math.floor(ya), Math.ceil(yb), 4).filter(t => t >= ya && t <= yb && Number.isInteger(t))
                         .map(t => Math.pow(10, t)) : ticks(ya, yb, 4);
      d.yticks = JSON.stringify(yt.map(fmt));
      g.textAlign = 'right'; g.textBaseline = 'middle';
      for (const t of yt) { const y = py(t); g.beginPath(); g.moveTo(L, y); g.lineTo(w - R, y); g.stroke(); g.fillText(fmt(t), L - 4, y); }
      g.textAlign = 'center'; g.textBaseline = 'top';
      const xt = ticks(x0, x1, Math.max(2, Math.floor((w - L) / 90)));
      d.xticks = JSON.stringify(xt.map(t => fmtX(t, s.x)));
      for (const t of xt) { const x = px(t); g.beginPath(); g.moveTo(x, T); g.lineTo(x, h - B); g.stroke(); g.fillText(fmtX(t, s.x), x, h - B + 4); }
      g.save(); g.beginPath(); g.rect(L, T, w - L - R, h - T - B); g.clip();
      const path = (xs, ys, from, to) => {
        g.beginPath(); let pen = false;
        for (let i = from; i < to; i++) {
          const v = ys[i];
          if (!ok(v) || !Number.isFinite(xs[i])) { pen = false; continue; }
          const X = px(xs[i]), Y = py(v);
          if (pen) g.lineTo(X, Y); else { g.moveTo(X, Y); pen = true; }
        }
      };
      for (const ln of lines) {
        const a = Math.max(0, lowerBound(ln.x, x0) - 1), b = Math.min(ln.x.length, lowerBound(ln.x, x1) + 1);
        if (s.smoothing > 0 && s.raw) {
          g.globalAlpha = 0.25; g.strokeStyle = ln.color; g.lineWidth = 1;
          path(ln.x, ln.raw, a, b); g.stroke();
        }
        g.globalAlpha = 1; g.strokeStyle = ln.color; g.lineWidth = 1.6;
        path(ln.x, ln.y, a, b); g.stroke();
      }
      g.restore();
      g.globalAlpha = 1;
      d.drawn = String(Number(d.drawn || 0) + 1);
    }

    // The min-max bands, rasterised by hand: each bucket's column from its max to its min,
    // blended at 30% in the run's colour. Canvas polygons with alpha cost ~50x more in
    // Chromium's software rasteriser (measured: 240 ms against ~5 ms for 10 charts x 51 runs).
    drawBands(g, c, dpr, lines, px, py, ok, x0, x1, box) {
      const banded = lines.filter(ln => ln.lo && ln.hi);
      if (!banded.length) return;
      const W0 = c.width, H0 = c.height;
      const img = g.createImageData(W0, H0), data = img.data;
      const left = Math.ceil(box.L * dpr), right = Math.floor((box.w - box.R) * dpr);
      const top = Math.ceil(box.T * dpr), bottom = Math.floor((box.h - box.B) * dpr);
      const alpha = 0.3;
      for (const ln of banded) {
        const r = parseInt(ln.color.slice(1, 3), 16), gr = parseInt(ln.color.slice(3, 5), 16), bl = parseInt(ln.color.slice(5, 7), 16);
        const a = Math.max(0, lowerBound(ln.x, x0) - 1), b = Math.min(ln.x.length, lowerBound(ln.x, x1) + 1);
        for (let i = a; i < b; i++) {
          if (!ok(ln.lo[i]) || !ok(ln.hi[i]) || !Number.isFinite(ln.x[i])) continue;
          const X = Math.round(px(ln.x[i]) * dpr);
          const next = i + 1 < b && Number.isFinite(ln.x[i + 1]) ? Math.round(px(ln.x[i + 1]) * dpr) : X + 1;
          const x2 = Math.min(right, X + Math.max(1, Math.min(3 * dpr, next - X)));
          const y1 = Math.max(top, Math.round(py(ln.hi[i]) * dpr));
          const y2 = Math.min(bottom, Math.round(py(ln.lo[i]) * dpr) + Math.ceil(dpr));
          for (let x = Math.max(left, X); x < x2; x++) {
            for (let y = y1; y < y2; y++) {
              const o = (y * W0 + x) * 4, da = data[o + 3] / 255, oa = alpha + da * (1 - alpha);
              data[o] = (r * alpha + data[o] * da * (1 - alpha)) / oa;
              data[o + 1] = (gr * alpha + data[o + 1] * da * (1 - alpha)) / oa;
              data[o + 2] = (bl * alpha + data[o + 2] * da * (1 - alpha)) / oa;
              data[o + 3] = oa * 255;
            }
          }
        }
      }
      g.putImageData(img, 0, 0);
    }

    interact(panel, body, box) {
      let start = null;
      const c = panel.canvas;
      const dataX = e => {
        const sc = panel.scale; if (!sc) return null;
        const r = c.getBoundingClientRect();
        const fx = (e.clientX - r.left - sc.L) / (sc.w - sc.L - sc.R);
        return sc.x0 + Math.min(1, Math.max(0, fx)) * (sc.x1 - sc.x0);
      };
      c.addEventListener('mousedown', e => { start = {x: e.clientX, data: dataX(e)}; });
      c.addEventListener('mousemove', e => {
        if (start) {
          const r = body.getBoundingClientRect();
          box.style.display = ''; box.style.left = (Math.min(start.x, e.clientX) - r.left) + 'px';
          box.style.width = Math.abs(e.clientX - start.x) + 'px';
        }
        this.hover(panel, e, dataX(e));
      });
      c.addEventListener('mouseleave', () => { this.tip.style.display = 'none'; });
      window.addEventListener('mouseup', e => {
        if (!start) return;
        box.style.display = 'none';
        const end = dataX(e);
        if (Math.abs(e.clientX - start.x) > 5 && start.data != null && end != null) {
          this.zoom[panel.key] = [Math.min(start.data, end), Math.max(start.data, end)];
          panel.reset.style.display = '';
          panel.draw();
        }
        start = null;
      });
      c.addEventListener('dblclick', () => { delete this.zoom[panel.key]; panel.reset.style.display = 'none'; panel.draw(); });
    }

    hover(panel, e, x) {
      const sc = panel.scale;
      if (!sc || x == null) { this.tip.style.display = 'none'; return; }
      const rows = [];
      for (const ln of sc.lines) {  // each visible run's value at that x (its nearest point)
        let i = lowerBound(ln.x, x);
        if (i >= ln.x.length) i = ln.x.length - 1;
        if (i > 0 && Math.abs(ln.x[i - 1] - x) < Math.abs(ln.x[i] - x)) i -= 1;
        if (i >= 0 && Number.isFinite(ln.y[i])) rows.push([ln, ln.y[i], ln.x[i]]);
      }
      rows.sort((a, b) => b[1] - a[1]);
      this.tip.textContent = '';
      this.tip.append(el('div', 'wk-tip-x', `${sc.s.x}: ${fmtX(x, sc.s.x)}`));
      for (const [ln, v] of rows.slice(0, 30)) {
        const row = el('div', 'wk-tip-row'); const sw = el('span', 'wk-swatch'); sw.style.background = ln.color;
        row.append(sw, el('span', '', `${ln.name}: ${fmt(v)}`));
        this.tip.append(row);
      }
      this.tip.style.display = '';
      const r = this.root.getBoundingClientRect();
      this.tip.style.left = (e.clientX - r.left + 14) + 'px';
      this.tip.style.top = (e.clientY - r.top + 14) + 'px';
    }

    // --- media panels -------------------------------------------------------------------
    mediaPanel(key, chart) {
      const p = el('div', 'wk-panel wk-media'); p.dataset.key = key; p.dataset.kind = chart.kind;
      const head = el('div', 'wk-panel-head'); head.append(el('span', 'wk-panel-title', key));
      const runSel = el('select', 'wk-media-run'); runSel.setAttribute('aria-label', 'run of ' + key);
      const body = el('div', 'wk-body');
      p.append(head, runSel, body);
      const panel = {el: p, key, kind: chart.kind, draw: () => {
        const ids = this.visibleItems().map(r => r.id).filter(id => chart.runs[id]);
        const cur = runSel.value;
        runSel.textContent = '';
        for (const id of ids) {
          const item = this.runs.find(r => r.id === id);
          const o = el('option', '', item ? item.name : id); o.value = id; runSel.append(o);
        }
        runSel.value = ids.includes(cur) ? cur : (ids[0] || '');
        if (panel.shown !== runSel.value) show(runSel.value);
      }};
      const show = id => {
        panel.shown = id; body.textContent = '';
        const data = chart.runs[id];
        if (!data) { body.append(el('div', 'wk-empty', 'no visible run logged this')); return; }
        if (chart.kind === 'image') {
          const img = el('img', 'wk-image'); img.alt = key;
          const slider = el('input', 'wk-media-step'); slider.type = 'range'; slider.min = 0;
          slider.max = data.length - 1; slider.step = 1; slider.value = data.length - 1;
          slider.setAttribute('aria-label', 'step of ' + key);
          const cap = el('div', 'wk-caption');
          const at = i => { const f = data[i]; img.src = f.url; cap.textContent = `step ${f.step}${f.caption ? ' · ' + f.caption : ''}`; p.dataset.step = String(f.step); };
          slider.oninput = () => at(Number(slider.value));
          body.append(img, slider, cap); at(data.length - 1);
        } else {
          const c = el('canvas', 'wk-canvas'); body.append(c);
          requestAnimationFrame(() => this.drawHistogram(c, data));
        }
      };
      runSel.onchange = () => show(runSel.value);
      return panel;
    }

    drawHistogram(c, data) {  // a distribution over steps: x step, y value, shade = count
      const dpr = window.devicePixelRatio || 1, w = c.clientWidth || 400, h = c.clientHeight || 220;
      c.width = Math.round(w * dpr); c.height = Math.round(h * dpr);
      const g = c.getContext('2d'); g.setTransform(dpr, 0, 0, dpr, 0, 0);
      const L = 52, R = 8, T = 8, B = 26, n = data.steps.length;
      const cw = (w - L - R) / n, ch = (h - T - B) / data.bins;
      for (let i = 0; i < n; i++) for (let j = 0; j < data.bins; j++) {
        const v = data.counts[i][j]; if (!v) continue;
        g.fillStyle = `rgba(83,135,221,${(0.1 + 0.9 * v).toFixed(3)})`;
        g.fillRect(L + i * cw, T + (data.bins - 1 - j) * ch, Math.ceil(cw), Math.ceil(ch));
      }
      g.fillStyle = '#6b7280'; g.font = '11px sans-serif'; g.textAlign = 'right';
      g.fillText(fmt(data.hi), L - 4, T + 8); g.fillText(fmt(data.lo), L - 4, h - B);
      g.textAlign = 'center';
      g.fillText(String(data.steps[0]), L + cw / 2, h - B + 14);
      if (n > 1) g.fillText(String(data.steps[n - 1]), w - R - cw / 2, h - B + 14);
      c.parentElement.parentElement.dataset.drawn = '1';
    }
  }

  W.mount = function (element, server, opts) {
    const root = element.querySelector('.wk-root') || element;
    // a new value re-renders the template: stop the previous workspace's timer
    if (element.__wk && element.__wk.timer) clearInterval(element.__wk.timer);
    element.__wk = root.__wk = new Workspace(root, server, opts);
    return root.__wk;
  };
  window.WandbkitWorkspace = W;
})();
