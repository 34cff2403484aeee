// The pipeline canvas: Vue Flow drawing the graph that Python owns.
// Python sends `graph` (nodes with typed ports, edges) as a prop; every edit the user makes
// here is sent back as an event and Python answers with the new graph (so undo, validation
// and saving live in one place). Node dragging, zoom, pan and selection stay local.
import "iom-canvas-env";
import { markRaw, unref } from "vue";
import { VueFlow, Handle, Position } from "@vue-flow/core";
import { MiniMap } from "@vue-flow/minimap";
import { Background } from "@vue-flow/background";

// The fitted view never zooms out below this: node titles (12 px) and port names (11 px) stay
// readable (>= 9 px on screen); a pipeline too big for the pane opens at its start, to be panned.
const MIN_FIT_ZOOM = 0.85;

// Copied nodes are kept here (by Python's "storeClip"), so another tab, or this one after
// opening another pipeline, can paste them: the definitions, never ids alone. Python refuses
// to copy anything that looks like a secret, so nothing secret is ever written here.
const CLIP_KEY = "iom.canvas-clip";

const STATE_LABELS = {
  queued: "queued", running: "running", done: "done", failed: "failed",
  cached: "cached", skipped: "skipped", fallback: "fell back", defaulted: "used its default",
};

export default {
  components: { VueFlow, Handle, MiniMap, Background },
  template: `
  <div class="iom-canvas" tabindex="0" @keydown="onKey">
    <button v-if="paletteClosed" class="iom-palette-open" data-testid="palette-open" title="Show the palette"
            @click="paletteClosed = false">&#9776; Palette</button>
    <div v-else class="iom-palette" data-testid="palette">
      <div class="iom-palette-head">
        <input class="iom-palette-search" v-model="search" placeholder="Model or capability" title="Search models or capabilities" />
        <button class="iom-palette-close" data-testid="palette-close" title="Hide the palette" @click="paletteClosed = true">&laquo;</button>
      </div>
      <div class="iom-palette-list">
        <div v-for="item in filteredPalette" :key="item.kind + ':' + (item.model || item.capability || '')"
             class="iom-palette-item" :data-kind="item.kind" :data-model="item.model || ''" :data-capability="item.capability || ''"
             @mousedown.prevent="startPaletteDrag(item, $event)" @dblclick="addAtCenter(item)">
          <div class="iom-palette-title">{{ item.title }}
            <span v-if="item.health" class="iom-health" :class="'iom-health-' + item.health" :title="'health: ' + item.health"></span>
          </div>
          <div class="iom-palette-sub">{{ item.subtitle }}</div>
          <div v-if="item.needsKey" class="iom-key-missing" :title="item.needsKey + ' is not set: calls to this model will be refused'">
            needs {{ item.needsKey }} · <a href="/settings" @mousedown.stop>set it</a>
          </div>
        </div>
        <div v-if="!filteredPalette.length" class="iom-palette-empty">Nothing matches "{{ search }}".</div>
      </div>
    </div>
    <div class="iom-flow" ref="flowWrap">
      <VueFlow :nodes="nodes" :edges="edges" :min-zoom="0.1" :max-zoom="2.5"
               :delete-key-code="null" :selection-key-code="'Shift'" :multi-selection-key-code="'Control'"
               connection-mode="strict" :only-render-visible-elements="nodes.length > 60"
               :default-edge-options="{type: 'default'}"
               @pane-ready="onReady" @nodes-initialized="onNodesInitialized" @node-drag-stop="onDragStop" @connect="onConnect"
               @connect-start="onConnectStart" @connect-end="onConnectEnd"
               @move-start="onMoveStart" @nodes-change="onNodesChange" @edges-change="onEdgesChange"
               @edge-mouse-enter="onEdgeEnter" @edge-mouse-move="onEdgeEnter" @edge-mouse-leave="edgeTip = null">
        <template #node-iom="p">
          <div class="iom-node" :class="['iom-kind-' + p.data.kind, p.data.problem ? 'iom-invalid' : '', statusClass(p.id)]"
               :data-node-id="p.id">
            <div class="iom-node-head">
              <span class="iom-node-kind">{{ p.data.kind }}</span>
              <span class="iom-node-label">{{ p.data.label }}</span>
              <span v-if="p.data.health" class="iom-health" :class="'iom-health-' + p.data.health" :title="'health: ' + p.data.health"></span>
            </div>
            <a v-if="p.data.needsKey" class="iom-node-key" href="/settings" @mousedown.stop
               :title="p.data.needsKey + ' is not set: a run would be refused. Set it in Settings.'">needs {{ p.data.needsKey }}</a>
            <div v-if="p.data.model" class="iom-node-model" :title="p.data.model">{{ p.data.model }}</div>
            <div v-if="p.data.provider || p.data.price" class="iom-node-meta">{{ p.data.provider }}<span v-if="p.data.price"> · {{ p.data.price }}</span></div>
            <div class="iom-ports">
              <div class="iom-port-col">
                <div v-for="port in p.data.inputs" :key="'i' + port.name" class="iom-port iom-port-in" :title="port.name + ': ' + port.type">
                  <Handle type="target" :id="port.name" :position="Position.Left" :class="'iom-type-' + port.type" />
                  <span>{{ port.name }}</span>
                </div>
              </div>
              <div class="iom-port-col iom-port-col-out">
                <div v-for="port in p.data.outputs" :key="'o' + port.name" class="iom-port iom-port-out" :title="port.name + ': ' + port.type">
                  <span>{{ port.name }}</span>
                  <Handle type="source" :id="port.name" :position="Position.Right" :class="'iom-type-' + port.type" />
                </div>
              </div>
            </div>
            <div v-if="p.data.problem" class="iom-node-problem">{{ p.data.problem }}</div>
            <div v-if="statuses[p.id]" class="iom-node-status" :data-state="statuses[p.id].state">
              <span class="iom-badge iom-badge-state">{{ stateLabel(statuses[p.id]) }}</span>
              <span v-if="statuses[p.id].latencyMs != null" class="iom-badge">{{ Math.round(statuses[p.id].latencyMs) }} ms</span>
              <span v-if="statuses[p.id].cost" class="iom-badge">{{ statuses[p.id].cost }}</span>
              <span v-if="statuses[p.id].chose" class="iom-badge" data-testid="node-chose">→ {{ statuses[p.id].chose }}</span>
            </div>
            <div v-if="statuses[p.id] && statuses[p.id].detail && ['failed', 'defaulted'].includes(statuses[p.id].state)"
                 class="iom-node-problem" data-testid="node-run-detail" :title="statuses[p.id].detail">{{ statuses[p.id].detail }}</div>
          </div>
        </template>
        <MiniMap pannable zoomable />
        <Background :gap="20" />
      </VueFlow>
    </div>
    <div v-if="edgeTip" class="iom-edge-tip" data-testid="edge-tip" :style="{left: edgeTip.x + 'px', top: edgeTip.y + 'px'}">{{ edgeTip.text }}</div>
    <div v-if="ghost" class="iom-drag-ghost" :style="{left: ghost.x + 'px', top: ghost.y + 'px'}">{{ ghost.title }}</div>
  </div>`,
  props: {
    graph: Object,
    palette: Array,
    dirty: Boolean,
  },
  data() {
    return {
      Position, search: "", nodes: [], edges: [], statuses: {}, ghost: null, edgeData: {}, edgeTip: null, paletteClosed: false,
      selectedNodes: new Set(), selectedEdges: new Set(), clipboard: null, connecting: null, connected: false,
    };
  },
  computed: {
    filteredPalette() {
      const words = this.search.toLowerCase().split(/\s+/).filter(Boolean);
      return (this.palette || []).filter((item) => words.every((w) => item.search.includes(w)));
    },
  },
  watch: {
    graph: { handler() { this.rebuild(); } },
  },
  created() {
    this.rebuild();
    // On a narrow window a pipeline opens with the palette folded, so its nodes get the room;
    // an empty one keeps it open, since building starts there.
    this.paletteClosed = window.innerWidth < 1360 && this.nodes.length > 0;
  },
  mounted() {
    this._unload = (e) => { if (this.dirty) { e.preventDefault(); e.returnValue = ""; } };
    window.addEventListener("beforeunload", this._unload);
    // Keys pressed with nothing focused (the page's body, after a deleted node or a toolbar
    // button took the focus away) still reach the canvas: Ctrl+Z right after Delete undid nothing.
    this._bodyKey = (e) => { if (document.activeElement === document.body) this.onKey(e); };
    document.addEventListener("keydown", this._bodyKey);
  },
  unmounted() {
    window.removeEventListener("beforeunload", this._unload);
    document.removeEventListener("keydown", this._bodyKey);
    if (this._resize) this._resize.disconnect();
    this.endPaletteDrag();
  },
  methods: {
    rebuild() {
      const g = this.graph || { nodes: [], edges: [] };
      const nodeIds = new Set(g.nodes.map((n) => n.id)), edgeIds = new Set(g.edges.map((e) => e.id));
      for (const id of [...this.selectedNodes]) if (!nodeIds.has(id)) this.selectedNodes.delete(id);
      for (const id of [...this.selectedEdges]) if (!edgeIds.has(id)) this.selectedEdges.delete(id);
      this.nodes = g.nodes.map((n) => ({
        id: n.id, type: "iom", position: { x: n.x, y: n.y }, data: n, selected: this.selectedNodes.has(n.id),
      }));
      this.edges = g.edges.map((e) => ({
        id: e.id, source: e.source, target: e.target, sourceHandle: e.sourcePort, targetHandle: e.targetPort,
        selected: this.selectedEdges.has(e.id), label: e.mapped ? "mapped" : undefined,
        class: [e.problem ? "iom-edge-invalid" : "", (this.statuses[e.source] || {}).state === "skipped" ? "iom-edge-skipped" : ""].join(" ").trim(),
      }));
    },
    onReady(store) {
      this.flow = markRaw(store);
      // Fit once the pane has its final size (the page lays out around it after mount).
      this._resize = new ResizeObserver(() => { if (!this.userMoved) this.fitView(); });
      this._resize.observe(this.$refs.flowWrap);
    },
    onMoveStart(e) {
      const ev = e && e.event;
      if (ev && (ev.sourceEvent || ev instanceof Event)) this.userMoved = true;  // a person panned or zoomed
    },
    onNodesInitialized() { if (!this._fitted) { this._fitted = true; this.fitView(); } },
    // --- palette drag: pointer events, so it works the same with a mouse and with WebDriver
    startPaletteDrag(item, event) {
      this.dragItem = item;
      this.ghost = { title: item.title, x: event.clientX + 8, y: event.clientY + 8 };
      this._move = (e) => { if (this.ghost) { this.ghost.x = e.clientX + 8; this.ghost.y = e.clientY + 8; } };
      this._up = (e) => this.finishPaletteDrag(e);
      document.addEventListener("mousemove", this._move);
      document.addEventListener("mouseup", this._up);
    },
    finishPaletteDrag(e) {
      const item = this.dragItem;
      this.endPaletteDrag();
      const rect = this.$refs.flowWrap.getBoundingClientRect();
      const inside = e.clientX >= rect.left && e.clientX <= rect.right && e.clientY >= rect.top && e.clientY <= rect.bottom;
      if (!item || !inside || !this.flow) return;
      const pos = this.flow.screenToFlowCoordinate({ x: e.clientX, y: e.clientY });
      this.holdView();
      this.$emit("drop_item", { kind: item.kind, model: item.model, capability: item.capability, x: pos.x, y: pos.y });
    },
    endPaletteDrag() {
      if (this._move) document.removeEventListener("mousemove", this._move);
      if (this._up) document.removeEventListener("mouseup", this._up);
      this._move = this._up = null;
      this.dragItem = null;
      this.ghost = null;
    },
    // Someone is building by hand: the view must not jump (fit) under their pointer.
    holdView() { this.userMoved = true; this._fitted = true; },
    // A double-clicked palette item goes in the middle of what the pane shows, in free space there
    // (Python places it: the free spot below a drop point was below a whole column, out of sight).
    addAtCenter(item) {
      this.holdView();
      if (!this.flow) { this.$emit("drop_item", { kind: item.kind, model: item.model, capability: item.capability, x: 0, y: 0 }); return; }
      this.$emit("add_in_view", { kind: item.kind, model: item.model, capability: item.capability, view: this.visibleArea() });
    },
    // The part of the flow the pane shows, in flow coordinates: {x, y, width, height}.
    visibleArea() {
      const r = this.$refs.flowWrap.getBoundingClientRect();
      const a = this.flow.screenToFlowCoordinate({ x: r.left, y: r.top }), b = this.flow.screenToFlowCoordinate({ x: r.right, y: r.bottom });
      return { x: a.x, y: a.y, width: b.x - a.x, height: b.y - a.y };
    },
    // --- connections: Python decides; a refusal comes back as a notification with the reason
    onConnectStart(p) { this.connecting = { nodeId: p.nodeId, handleId: p.handleId, handleType: p.handleType }; this.connected = false; },
    onConnect(c) {
      this.connected = true;
      this.$emit("connect_ports", { source: c.source, sourcePort: c.sourceHandle || "out", target: c.target, targetPort: c.targetHandle || "in" });
    },
    onConnectEnd(event) {
      // Released on a node but not on a port (e.g. an input node, which has none): ask Python
      // anyway so the person is told why nothing was connected.
      const start = this.connecting;
      this.connecting = null;
      if (this.connected || !start || !event) return;
      const point = event.changedTouches ? event.changedTouches[0] : event;
      const el = document.elementFromPoint(point.clientX, point.clientY);
      const nodeEl = el && el.closest(".vue-flow__node");
      const nodeId = nodeEl && nodeEl.getAttribute("data-id");
      if (!nodeId || nodeId === start.nodeId) return;
      if (start.handleType === "source") {
        this.$emit("connect_ports", { source: start.nodeId, sourcePort: start.handleId || "out", target: nodeId, targetPort: "in" });
      } else {
        this.$emit("connect_ports", { source: nodeId, sourcePort: "out", target: start.nodeId, targetPort: start.handleId || "in" });
      }
    },
    onDragStop(event) {
      const positions = {};
      for (const n of event.nodes || [event.node]) positions[n.id] = { x: n.position.x, y: n.position.y };
      this.$emit("moved", positions);
    },
    onNodesChange(changes) { this.trackSelection(changes, this.selectedNodes); },
    onEdgesChange(changes) { this.trackSelection(changes, this.selectedEdges); },
    trackSelection(changes, set) {
      let touched = false;
      for (const c of changes) {
        if (c.type !== "select") continue;
        touched = true;
        if (c.selected) set.add(c.id); else set.delete(c.id);
      }
      if (touched && !this._selPending) {
        this._selPending = true;
        queueMicrotask(() => {
          this._selPending = false;
          this.$emit("select_items", { nodes: [...this.selectedNodes], edges: [...this.selectedEdges] });
        });
      }
    },
    onKey(e) {
      const tag = (e.target.tagName || "").toLowerCase();
      if (tag === "input" || tag === "textarea") return;
      const mod = e.ctrlKey || e.metaKey;
      if (e.key === "Delete" || e.key === "Backspace") {
        if (this.selectedNodes.size || this.selectedEdges.size) {
          this.$emit("delete_items", { nodes: [...this.selectedNodes], edges: [...this.selectedEdges] });
          this.$el.focus({ preventScroll: true });  // the focused node is about to go
          e.preventDefault();
        }
      } else if (mod && e.key.toLowerCase() === "z") {
        this.$emit(e.shiftKey ? "redo" : "undo"); e.preventDefault();
      } else if (mod && e.key.toLowerCase() === "y") {
        this.$emit("redo"); e.preventDefault();
      } else if (mod && e.key.toLowerCase() === "c") {
        this.copySelection();
      } else if (mod && e.key.toLowerCase() === "v") {
        this.pasteClipboard();
        e.preventDefault();
      } else if (mod && e.key.toLowerCase() === "a") {
        if (this.flow) this.flow.addSelectedNodes(unref(this.flow.nodes));
        e.preventDefault();
      }
    },
    // --- called from Python ---------------------------------------------------------------
    // The opening fit keeps the readable minimum zoom; `all` (the toolbar's Fit) shows everything.
    fitView(all = false) {
      if (!this.flow) return;
      this.flow.fitView({ padding: 0.15, maxZoom: 1, minZoom: all ? 0.1 : MIN_FIT_ZOOM });
      const nodes = unref(this.flow.nodes);
      if (all || !nodes.length || this.flow.getViewport().zoom > MIN_FIT_ZOOM + 1e-6) return;
      // Too big to fit readably: show its start, where a flow begins: the left edge and, when it
      // is too tall as well, its input nodes (else the leftmost ones) centred in height, the pane
      // never past the graph (from its top-left, the input of a tall flow was cut off).
      const z = MIN_FIT_ZOOM, pane = this.paneSize();
      const bottomOf = (n) => n.position.y + ((n.dimensions && n.dimensions.height) || 0);
      const left = Math.min(...nodes.map((n) => n.position.x));
      const top = Math.min(...nodes.map((n) => n.position.y)), bottom = Math.max(...nodes.map(bottomOf));
      let starts = nodes.filter((n) => n.data && n.data.kind === "input");
      if (!starts.length) starts = nodes.filter((n) => n.position.x < left + 1);
      const middle = (Math.min(...starts.map((n) => n.position.y)) + Math.max(...starts.map(bottomOf))) / 2;
      let y = pane.height / 2 - middle * z;
      if ((bottom - top) * z <= pane.height - 60) y = 36 - top * z;  // only too wide: from its top
      else y = Math.max(Math.min(y, 36 - top * z), pane.height - 24 - bottom * z);
      this.flow.setViewport({ x: 24 - left * z, y, zoom: z });
    },
    // The pane's size, so Python can lay a pipeline out in the direction that uses the space.
    paneSize() { const r = this.$refs.flowWrap.getBoundingClientRect(); return { width: r.width, height: r.height }; },
    // What went along each edge in the last run, shown by the edge on hover.
    setEdgeData(data) { this.edgeData = data || {}; },
    onEdgeEnter(e) {
      const text = this.edgeData[e.edge.id];
      if (text == null) { this.edgeTip = null; return; }
      const rect = this.$el.getBoundingClientRect();
      this.edgeTip = { text, x: e.event.clientX - rect.left + 12, y: e.event.clientY - rect.top + 12 };
    },
    zoomIn() { if (this.flow) this.flow.zoomIn(); },
    zoomOut() { if (this.flow) this.flow.zoomOut(); },
    // Copy keeps the ids here (a paste into this pipeline right after needs no round trip) and
    // asks Python for the definitions, which come back in storeClip for every tab to read.
    copySelection() {
      const nodes = [...this.selectedNodes];
      if (!nodes.length) return 0;
      this.clipboard = { nodes, at: Date.now() };
      this.$emit("copy_nodes", { nodes, at: this.clipboard.at });
      return nodes.length;
    },
    storeClip(clip) {
      try { localStorage.setItem(CLIP_KEY, JSON.stringify(clip)); return true; } catch (err) { return false; }
    },
    forgetCopy() { this.clipboard = null; },
    // The newer of this tab's copy (ids, this pipeline) and the stored one (definitions, from any tab).
    pasteClipboard() {
      let text = null, stored = null;
      try { text = localStorage.getItem(CLIP_KEY); stored = text && JSON.parse(text); } catch (err) { stored = text; }
      const local = this.clipboard;
      if (local && !(stored && stored.copiedAt > local.at)) this.$emit("paste_nodes", { nodes: local.nodes });
      else if (stored && this.flow) this.$emit("paste_clip", { clip: stored, view: this.visibleArea() });
    },
    // Select these nodes only (the one just added, the ones just pasted), as a click would;
    // with `reveal`, pan (same zoom) so the first is in sight if it is not.
    selectNodes(ids, reveal = false) {
      this.selectedNodes = new Set(ids);
      this.selectedEdges.clear();
      this.rebuild();
      this.$emit("select_items", { nodes: [...this.selectedNodes], edges: [] });
      if (!reveal || !ids.length || !this.flow) return;
      requestAnimationFrame(() => {
        const n = this.flow.findNode(ids[0]);
        if (!n) return;
        const v = this.visibleArea(), w = (n.dimensions && n.dimensions.width) || 0, h = (n.dimensions && n.dimensions.height) || 0;
        const p = n.computedPosition || n.position;
        if (p.x >= v.x && p.y >= v.y && p.x + w <= v.x + v.width && p.y + h <= v.y + v.height) return;
        this.flow.setCenter(p.x + w / 2, p.y + h / 2, { zoom: this.flow.getViewport().zoom });
      });
    },
    clearSelection() { this.selectedNodes.clear(); this.selectedEdges.clear(); if (this.flow) this.flow.removeSelectedElements(); },
    viewport() { return this.flow ? this.flow.getViewport() : null; },
    panBy(dx, dy) {
      if (!this.flow) return;
      const v = this.flow.getViewport();
      this.flow.setViewport({ x: v.x + dx, y: v.y + dy, zoom: v.zoom });
    },
    // Status patches from a run: {nodeId: {state, latencyMs, cost, detail, fellBackTo} | null}.
    // Only the patched keys change, so only those nodes re-render. `stamps` come back in
    // "status_shown" once the browser has painted the change, so Python can measure
    // event-to-canvas time.
    applyStatus(patch, stamps) {
      const t0 = performance.now();
      for (const [id, s] of Object.entries(patch)) { if (s) this.statuses[id] = s; else delete this.statuses[id]; }
      this.updateEdgeStates(Object.keys(patch));
      if (stamps != null) {
        // After the next paint: a task queued from requestAnimationFrame runs once that frame is drawn.
        requestAnimationFrame(() => setTimeout(() => this.$emit("status_shown", { stamps: [].concat(stamps), browserMs: performance.now() - t0 }), 0));
      }
    },
    clearStatus() {
      for (const id of Object.keys(this.statuses)) delete this.statuses[id];
      this.edgeData = {};
      this.edgeTip = null;
      this.updateEdgeStates(null);
    },
    // Edges out of a skipped node are dashed; edges are changed in place, only when they differ.
    updateEdgeStates(nodeIds) {
      if (!this.flow) return;
      const touched = nodeIds ? new Set(nodeIds) : null;
      for (const e of unref(this.flow.edges)) {
        if (touched && !touched.has(e.source)) continue;
        const skipped = (this.statuses[e.source] || {}).state === "skipped";
        const cls = typeof e.class === "string" ? e.class : "";
        const has = cls.includes("iom-edge-skipped");
        if (skipped !== has) e.class = skipped ? (cls + " iom-edge-skipped").trim() : cls.replace("iom-edge-skipped", "").trim();
      }
    },
    statusClass(id) { const s = this.statuses[id]; return s ? "iom-state-" + s.state : ""; },
    stateLabel(s) {
      if (s.state === "fallback") return "fell back to " + (s.fellBackTo || "?");
      return STATE_LABELS[s.state] || s.state;
    },
  },
};
